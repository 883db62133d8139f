"""KPI tables: the flat interval grid, the daily table with gaps filled, and the weekly rollup."""

from datetime import UTC, date, datetime

import dagster as dg
import polars as pl

from genesys_assets import gaps
from genesys_assets.assets.common import GROUP_KPIS, OWNERS, batches, record_partition_figures
from genesys_assets.partitions import (
    SETTINGS,
    daily_partitions,
    gap_window_mapping,
    partition_days,
    weekly_partitions,
)
from genesys_assets.schema import INTERVAL_KPIS
from genesys_assets.transforms import gapfill, kpis, weekly
from genesys_assets.transforms.split import split_by_local_date


def _by_day(frames: dict[str, pl.DataFrame]) -> dict[date, pl.DataFrame]:
    return {date.fromisoformat(key): frame for key, frame in frames.items()}


@dg.asset(
    group_name=GROUP_KPIS,
    kinds={"polars"},
    owners=OWNERS,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def queue_interval_kpis(
    context: dg.AssetExecutionContext,
    raw_queue_aggregates: dict[str, pl.DataFrame],
    genesys_queues: pl.DataFrame,
) -> dg.Output[dict[str, pl.DataFrame]]:
    """Flat KPI table on the full expected grid: every queue that existed that day x its media types x every
    local interval (46, 48 or 50 half-hours on DST days).

    Counts and millisecond sums per interval; AHT = handle sum / handle count, answer and abandon rates over
    offered, service level from Genesys's oServiceLevel. An interval the API omitted had no activity: counts 0,
    ratios null.
    """
    # Days are transformed a month at a time, then split into one frame per partition: `interval_kpis` of
    # several days equals its per-day results side by side, and a year costs a few dozen polars queries
    # instead of thousands while the intermediates stay the size of a month.
    raw_by_day = _by_day(raw_queue_aggregates)
    frames: dict[str, pl.DataFrame] = {}
    for days in batches(list(raw_by_day)):
        combined = kpis.interval_kpis(
            pl.concat([raw_by_day[day] for day in days], how="vertical"),
            genesys_queues,
            days,
            SETTINGS.timezone,
            SETTINGS.interval_minutes,
        )
        frames.update(split_by_local_date(combined, days, schema=INTERVAL_KPIS))
    record_partition_figures(context, frames)
    return dg.Output(frames)


@dg.asset(
    group_name=GROUP_KPIS,
    kinds={"polars"},
    owners=OWNERS,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    ins={
        "queue_interval_kpis": dg.AssetIn(
            partition_mapping=gap_window_mapping, metadata={"allow_missing_partitions": True}
        )
    },
)
def queue_kpis_daily(
    context: dg.AssetExecutionContext,
    queue_interval_kpis: dict[str, pl.DataFrame],
    genesys_queues: pl.DataFrame,
) -> dg.Output[dict[str, pl.DataFrame]]:
    """Interval KPIs per local day with gaps filled.

    A day whose extraction succeeded is copied exactly (`fill_method = observed`). A day whose extraction
    failed or has not run is a gap: each queue's counts and sums are estimated linearly from the nearest
    observed days before and after within the window, carried from one side when only one exists, and null
    when neither does; `is_interpolated` flags those rows. When the gap is backfilled, the gap-refill sensor
    re-materializes every day that used an estimate. `is_provisional` marks days still inside the settle window.
    """
    observed = _by_day(queue_interval_kpis)
    now = datetime.now(UTC)
    frames: dict[str, pl.DataFrame] = {}
    for days in batches(partition_days(context)):
        filled = gapfill.fill_days(
            observed,
            days,
            kpis.expected_grid(genesys_queues, days, SETTINGS.timezone, SETTINGS.interval_minutes),
            timezone=SETTINGS.timezone,
            interval_minutes=SETTINGS.interval_minutes,
            now=now,
            settle_hours=SETTINGS.settle_hours,
        )
        frames.update((day.isoformat(), frame) for day, frame in filled.items())
    sources = {
        key: None
        if key in queue_interval_kpis
        else gaps.estimate_sources(date.fromisoformat(key), observed, SETTINGS.gap_window_days)
        for key in frames
    }
    record_partition_figures(
        context,
        frames,
        {key: {"is_gap_day": dg.MetadataValue.bool(sources[key] is not None)} for key in frames},
    )
    return dg.Output(
        frames,
        metadata={
            "gap_days": dg.MetadataValue.int(sum(1 for s in sources.values() if s is not None)),
            "estimate_sources": dg.MetadataValue.json(sources),
            "settle_hours": dg.MetadataValue.int(SETTINGS.settle_hours),
        },
    )


@dg.asset(
    group_name=GROUP_KPIS,
    kinds={"polars"},
    owners=OWNERS,
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def queue_kpis_weekly(
    context: dg.AssetExecutionContext, queue_kpis_daily: dict[str, pl.DataFrame]
) -> dg.Output[dict[str, pl.DataFrame]]:
    """Weekly KPIs per queue x media type (weeks start on Monday, local time).

    Recomputed from the summed counts, sums, numerators and denominators of the seven daily partitions, never
    an average of daily ratios. `days_observed` and `days_interpolated` say how much of the week is estimated.
    """
    daily = _by_day(queue_kpis_daily)
    frames: dict[str, pl.DataFrame] = {}
    for week_key in context.partition_keys:
        monday = date.fromisoformat(week_key)
        rows = [frame for day, frame in daily.items() if 0 <= (day - monday).days < 7]
        frames[week_key] = weekly.weekly_kpis(pl.concat(rows), monday)
    record_partition_figures(
        context,
        frames,
        {
            key: {"days_interpolated": dg.MetadataValue.int(int(frame["days_interpolated"].max() or 0))}
            for key, frame in frames.items()
        },
    )
    return dg.Output(frames)
