"""Jobs, schedules and sensors: keep recent days current, roll up weeks, refill gaps, report failures."""

from __future__ import annotations

import dagster as dg

from genesys_assets import gaps
from genesys_assets.partitions import SETTINGS, daily_partitions, weekly_partitions

DAILY_ASSETS = ["raw_queue_aggregates", "queue_interval_kpis", "queue_kpis_daily", "queue_export_daily"]
WEEKLY_ASSETS = ["queue_kpis_weekly", "queue_export_weekly"]
GAP_ASSETS = ["queue_kpis_daily", "queue_export_daily"]

# Daily extraction after local midnight plus a settle delay; weekly rollup once Monday's extraction is done.
DAILY_CRON = "30 2 * * *"
WEEKLY_CRON = "30 4 * * 1"

daily_job = dg.define_asset_job(
    "genesys_daily_job",
    selection=dg.AssetSelection.assets(*DAILY_ASSETS),
    partitions_def=daily_partitions,
    description="Extract, compute and export the daily KPI partitions (a range of days runs as one run).",
    tags={"genesys/api": "true"},
)
weekly_job = dg.define_asset_job(
    "genesys_weekly_job",
    selection=dg.AssetSelection.assets(*WEEKLY_ASSETS),
    partitions_def=weekly_partitions,
    description="Roll the daily KPI partitions of a local week up into the weekly table and its export.",
)
gap_refill_job = dg.define_asset_job(
    "genesys_gap_refill_job",
    selection=dg.AssetSelection.assets(*GAP_ASSETS),
    partitions_def=daily_partitions,
    description="Re-estimate (or replace with exact values) daily partitions whose gap estimate is stale.",
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


@dg.schedule(
    job=daily_job,
    cron_schedule=DAILY_CRON,
    execution_timezone=SETTINGS.timezone,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def genesys_daily_schedule(context: dg.ScheduleEvaluationContext):
    """Yesterday plus the days before it that Genesys may still restate, as one run.

    Genesys's nightly reprocessing touches data at least 48 hours old, may begin only once a conversation is
    three days old and can take longer, so each tick re-materializes the last `GENESYS_LOOKBACK_DAYS`
    (default 7: one 7-day query) local days; rows stay `is_provisional` until their last re-read.
    """
    keys = daily_partitions.get_partition_keys(current_time=context.scheduled_execution_time)
    recent = keys[-SETTINGS.lookback_days :]
    if not recent:
        return dg.SkipReason("No completed local day yet.")
    tick = context.scheduled_execution_time.date().isoformat()
    return dg.RunRequest(
        run_key=f"daily:{recent[0]}..{recent[-1]}@{tick}",
        tags={**range_tags(recent[0], recent[-1]), "genesys/restatement": "true"},
    )


SWEEP_CRON = "30 3 * * 0"  # Sunday night, after the daily run
SWEEP_DAYS = 28


@dg.schedule(
    job=daily_job,
    cron_schedule=SWEEP_CRON,
    execution_timezone=SETTINGS.timezone,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def genesys_restatement_sweep_schedule(context: dg.ScheduleEvaluationContext):
    """Once a week, the four weeks before the daily lookback, as one run (four 7-day queries).

    Genesys gives no upper bound for how long its reprocessing can take, so a day is read again for a month
    after it left the nightly lookback; a re-read that changes a day records what changed. Changes of the
    org's service-level options restate every past day: backfill the affected range after one.
    """
    keys = daily_partitions.get_partition_keys(current_time=context.scheduled_execution_time)
    older = keys[
        max(0, len(keys) - SETTINGS.lookback_days - SWEEP_DAYS) : max(0, len(keys) - SETTINGS.lookback_days)
    ]
    if not older:
        return dg.SkipReason("No day is older than the nightly lookback yet.")
    tick = context.scheduled_execution_time.date().isoformat()
    return dg.RunRequest(
        run_key=f"sweep:{older[0]}..{older[-1]}@{tick}",
        tags={**range_tags(older[0], older[-1]), "genesys/restatement": "true"},
    )


@dg.schedule(
    job=directory_job,
    cron_schedule="0 2 * * *",
    execution_timezone=SETTINGS.timezone,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def genesys_directory_schedule(context: dg.ScheduleEvaluationContext):
    """Refresh the queue directory before the daily extraction, so new queues join the grid."""
    return dg.RunRequest(run_key=f"directory@{context.scheduled_execution_time.date().isoformat()}")


@dg.schedule(
    job=weekly_job,
    cron_schedule=WEEKLY_CRON,
    execution_timezone=SETTINGS.timezone,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def genesys_weekly_schedule(context: dg.ScheduleEvaluationContext):
    """The previous local week (Monday to Sunday), after Monday's daily run has loaded Sunday."""
    keys = weekly_partitions.get_partition_keys(current_time=context.scheduled_execution_time)
    if not keys:
        return dg.SkipReason("No completed local week yet.")
    return dg.RunRequest(run_key=f"weekly:{keys[-1]}", partition_key=keys[-1])


def _recorded_sources(instance: dg.DagsterInstance) -> dict[str, gaps.Sources | None]:
    """Per daily key, the estimate sources recorded by its latest `queue_kpis_daily` materialization."""
    recorded: dict[str, gaps.Sources | None] = {}
    cursor = None
    for _ in range(50):  # bounded: 50 pages of 500 records
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("queue_kpis_daily")),
            limit=500,
            cursor=cursor,
            ascending=False,
        )
        for record in page.records:
            materialization = record.asset_materialization
            if materialization is None or materialization.partition in recorded:
                continue
            entry = materialization.metadata.get("estimate_sources")
            sources = entry.value.get(materialization.partition) if entry is not None else None
            recorded[materialization.partition] = tuple(sources) if sources else None
        if not page.has_more:
            break
        cursor = page.cursor
    return recorded


@dg.sensor(
    jobs=[gap_refill_job, weekly_job],
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def gap_refill_sensor(context: dg.SensorEvaluationContext):
    """Keeps gap estimates honest.

    A day whose extraction failed gets an estimate from its nearest observed neighbours; when a gap is later
    backfilled (or a neighbour appears), every day whose estimate used other neighbours, and every estimated
    day that is now observed, is re-materialized. Every built week one of whose days changed after it was
    built (a refill, a backfill, a restatement re-read) is built again, so weekly figures and their
    `days_interpolated` always equal the sum of their days.
    """
    instance = context.instance
    observed = instance.get_materialized_partitions(dg.AssetKey("queue_interval_kpis"))
    partition_keys = daily_partitions.get_partition_keys()
    refills = gaps.plan_refills(
        partition_keys, observed, _recorded_sources(instance), SETTINGS.gap_window_days
    )
    state = ",".join(refills) + "|" + str(len(observed))
    for key in refills:
        yield dg.RunRequest(run_key=f"gap:{key}:{state}", job_name=gap_refill_job.name, partition_key=key)
    materialization = dg.DagsterEventType.ASSET_MATERIALIZATION
    stale = gaps.stale_weeks(
        instance.get_latest_storage_id_by_partition(dg.AssetKey("queue_kpis_daily"), materialization),
        instance.get_latest_storage_id_by_partition(dg.AssetKey("queue_kpis_weekly"), materialization),
        pending=refills,
    )
    for week, changed in stale.items():
        yield dg.RunRequest(run_key=f"week:{week}:{changed}", job_name=weekly_job.name, partition_key=week)
    if not refills and not stale:
        yield dg.SkipReason("Every gap estimate and every built week is current.")


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
