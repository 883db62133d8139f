"""Jobs, schedules and the failure sensor: keep recent days current, re-read a month for restatements, roll up
weeks, refresh the directory, say which partitions a failed run covered. Gap refills are in `gap_refills`."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from genesys_assets.config import SETTINGS
from genesys_assets.defs.partitions import daily_partitions, weekly_partitions

DAILY_ASSETS = ["raw_queue_aggregates", "queue_interval_kpis", "queue_kpis_daily", "queue_export_daily"]
WEEKLY_ASSETS = ["queue_kpis_weekly", "queue_export_weekly"]

# Daily extraction after local midnight plus a settle delay; weekly rollup once Monday's extraction is done.
DAILY_CRON = "30 2 * * *"
WEEKLY_CRON = "30 4 * * 1"

# The export assets are overdue in the UI when no materialization landed within two hours after their
# schedule's tick (e.g. a deployment whose schedules were never switched on).
RUN_WITHIN = timedelta(hours=2)


def _freshness_after(cron: str) -> dg.FreshnessPolicy:
    """Due `RUN_WITHIN` after each tick of `cron` (a schedule at a fixed minute and hour)."""
    minute, hour, *rest = cron.split()
    deadline = " ".join([minute, str(int(hour) + int(RUN_WITHIN.total_seconds() // 3600)), *rest])
    return dg.FreshnessPolicy.cron(
        deadline_cron=deadline, lower_bound_delta=RUN_WITHIN, timezone=SETTINGS.pipeline.timezone
    )


DAILY_EXPORT_FRESHNESS = _freshness_after(DAILY_CRON)
WEEKLY_EXPORT_FRESHNESS = _freshness_after(WEEKLY_CRON)

daily_job = dg.define_asset_job(
    "genesys_daily_job",
    selection=dg.AssetSelection.assets(*DAILY_ASSETS),
    description="Extract, compute and export the daily KPI partitions (a range of days runs as one run).",
    tags={"genesys/api": "true"},
)
weekly_job = dg.define_asset_job(
    "genesys_weekly_job",
    selection=dg.AssetSelection.assets(*WEEKLY_ASSETS),
    description="Roll the daily KPI partitions of a local week up into the weekly table and its export.",
)
directory_job = dg.define_asset_job(
    "genesys_directory_job",
    selection=dg.AssetSelection.assets("genesys_queues"),
    description="Refresh the queue directory.",
    tags={"genesys/api": "true"},
)


def range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run cover a range of partitions (assets use a single-run backfill policy)."""
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def _reread(kind: str, keys: list[str], context: dg.ScheduleEvaluationContext) -> dg.RunRequest | None:
    """One run that (re-)reads the daily keys, first to last; None when there are none."""
    if not keys:
        return None
    tick = context.scheduled_execution_time.date().isoformat()
    return dg.RunRequest(
        run_key=f"{kind}:{keys[0]}..{keys[-1]}@{tick}",
        tags={**range_tags(keys[0], keys[-1]), "genesys/restatement": "true"},
    )


@dg.schedule(
    job=daily_job,
    cron_schedule=DAILY_CRON,
    execution_timezone=SETTINGS.pipeline.timezone,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def genesys_daily_schedule(context: dg.ScheduleEvaluationContext):
    """Yesterday plus the days before it that Genesys may still restate, as one run.

    Genesys's nightly reprocessing touches data at least 48 hours old, may begin only once a conversation is
    three days old and can take longer, so each tick re-materializes the last `GENESYS_LOOKBACK_DAYS`
    (default 7: one 7-day query) local days; rows stay `is_provisional` until their last re-read.
    """
    keys = daily_partitions.get_partition_keys(current_time=context.scheduled_execution_time)
    return _reread("daily", keys[-SETTINGS.pipeline.lookback_days :], context) or dg.SkipReason(
        "No completed local day yet."
    )


SWEEP_CRON = "30 3 * * 0"  # Sunday night, after the daily run
SWEEP_DAYS = 28


@dg.schedule(
    job=daily_job,
    cron_schedule=SWEEP_CRON,
    execution_timezone=SETTINGS.pipeline.timezone,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def genesys_restatement_sweep_schedule(context: dg.ScheduleEvaluationContext):
    """Once a week, the four weeks before the daily lookback, as one run (four 7-day queries).

    Genesys gives no upper bound for how long its reprocessing can take, so a day is read again for a month
    after it left the nightly lookback; a re-read that changes a day records what changed. Changes of the
    org's service-level options restate every past day: backfill the affected range after one.
    """
    keys = daily_partitions.get_partition_keys(current_time=context.scheduled_execution_time)
    end = max(0, len(keys) - SETTINGS.pipeline.lookback_days)
    return _reread("sweep", keys[max(0, end - SWEEP_DAYS) : end], context) or dg.SkipReason(
        "No day is older than the nightly lookback yet."
    )


@dg.schedule(
    job=directory_job,
    cron_schedule="0 2 * * *",
    execution_timezone=SETTINGS.pipeline.timezone,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def genesys_directory_schedule(context: dg.ScheduleEvaluationContext):
    """Refresh the queue directory before the daily extraction: queue names, divisions and service-level
    targets (which channels are on the grid comes from traffic)."""
    return dg.RunRequest(run_key=f"directory@{context.scheduled_execution_time.date().isoformat()}")


@dg.schedule(
    job=weekly_job,
    cron_schedule=WEEKLY_CRON,
    execution_timezone=SETTINGS.pipeline.timezone,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def genesys_weekly_schedule(context: dg.ScheduleEvaluationContext):
    """The previous local week (Monday to Sunday), after Monday's daily run has loaded Sunday."""
    keys = weekly_partitions.get_partition_keys(current_time=context.scheduled_execution_time)
    if not keys:
        return dg.SkipReason("No completed local week yet.")
    return dg.RunRequest(run_key=f"weekly:{keys[-1]}", partition_key=keys[-1])


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, monitor_all_code_locations=False)
def partition_failure_sensor(context: dg.RunFailureSensorContext) -> None:
    """Logs which partitions a failed run covered, so the backfill after an outage is easy to pick."""
    tags = context.dagster_run.tags
    if "dagster/partition" in tags:
        covered = tags["dagster/partition"]
    elif "dagster/asset_partition_range_start" in tags:
        covered = (
            f"{tags['dagster/asset_partition_range_start']}...{tags['dagster/asset_partition_range_end']}"
        )
    else:
        covered = "(unpartitioned)"
    message = context.failure_event.message or "no message"
    context.log.error(
        f"Run {context.dagster_run.run_id} of {context.dagster_run.job_name} failed for partitions {covered}: "
        f"{message}. Re-run those partitions (Materialize > Backfill) once the cause is fixed; days left as gaps "
        "are estimated and flagged meanwhile."
    )
