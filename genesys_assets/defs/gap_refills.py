"""Gap refills: the job and sensor that keep gap estimates and the weeks built on them current.

Which days are gaps and which estimates are stale is decided by the pure functions of
`genesys_assets.transforms.refills`; this module reads the instance's materialization records for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from genesys_assets.config import SETTINGS
from genesys_assets.defs.automation import range_tags, weekly_job
from genesys_assets.defs.partitions import contiguous_runs, daily_partitions
from genesys_assets.transforms.refills import Sources, plan_refills, stale_weeks

GAP_ASSETS = ["queue_kpis_daily", "queue_export_daily"]
OBSERVED_ASSET = dg.AssetKey("queue_interval_kpis")


def observed_keys(instance: dg.DagsterInstance, partition_keys: Sequence[str] | None = None) -> set[str]:
    """The daily keys that are observed: those `queue_interval_kpis` has a materialization for. Every other
    day is a gap. The daily asset and the sensor both decide by this one rule (a file a failed run left in
    the lake without a materialization is not an observation). Keys outside the daily partitions (e.g. before
    a later GENESYS_START_DATE) are not days of this pipeline; `partition_keys` saves listing them again."""
    keys = daily_partitions.get_partition_keys() if partition_keys is None else partition_keys
    return set(instance.get_materialized_partitions(OBSERVED_ASSET)) & set(keys)


gap_refill_job = dg.define_asset_job(
    "genesys_gap_refill_job",
    selection=dg.AssetSelection.assets(*GAP_ASSETS),
    description="Re-estimate (or replace with exact values) daily partitions whose gap estimate is stale.",
)


def _recorded_sources(instance: dg.DagsterInstance) -> dict[str, Sources | None]:
    """Per daily key, the estimate sources recorded by its latest `queue_kpis_daily` materialization."""
    recorded: dict[str, Sources | None] = {}
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
            sources = entry.value if entry is not None else None
            recorded[materialization.partition] = (sources[0], sources[1]) if sources else None
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
    day that is now observed, is re-materialized: consecutive days as one run over their range. Every built week one of whose days changed after it was
    built (a refill, a backfill, a restatement re-read) is built again, so weekly figures and their
    `days_interpolated` always equal the sum of their days.
    """
    instance = context.instance
    partition_keys = daily_partitions.get_partition_keys()
    observed = observed_keys(instance, partition_keys)
    refills = plan_refills(
        partition_keys, observed, _recorded_sources(instance), SETTINGS.pipeline.gap_window_days
    )
    state = ",".join(refills) + "|" + str(len(observed))
    # Consecutive days (an outage of several days) are one run over their range, as a backfill would run
    # them (the daily assets' single-run backfill policy): one pod and one window read instead of one per day.
    for first, last in contiguous_runs(refills, partition_keys):
        where = {"partition_key": first} if first == last else {"tags": range_tags(first, last)}
        yield dg.RunRequest(run_key=f"gap:{first}..{last}:{state}", job_name=gap_refill_job.name, **where)
    materialization = dg.DagsterEventType.ASSET_MATERIALIZATION
    stale = stale_weeks(
        instance.get_latest_storage_id_by_partition(dg.AssetKey("queue_kpis_daily"), materialization),
        instance.get_latest_storage_id_by_partition(dg.AssetKey("queue_kpis_weekly"), materialization),
        pending=refills,
    )
    for week, changed in stale.items():
        yield dg.RunRequest(run_key=f"week:{week}:{changed}", job_name=weekly_job.name, partition_key=week)
    if not refills and not stale:
        yield dg.SkipReason("Every gap estimate and every built week is current.")
