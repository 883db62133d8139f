"""KPI tables: the interval KPI table, the daily table with gaps filled, and the weekly rollup."""

from collections.abc import Generator, Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import polars as pl

from genesys_assets.config import SETTINGS
from genesys_assets.defs import checks
from genesys_assets.defs.common import (
    GROUP_KPIS,
    batch_figures,
    range_partitioned,
    record_partition_figures,
    restatement_metadata,
    week_day_rollups,
)
from genesys_assets.defs.gap_refills import observed_keys
from genesys_assets.defs.io_manager import (
    ALLOW_MISSING_PARTITIONS,
    MissingPartitionError,
    PartitionBatches,
    StoredPartitions,
)
from genesys_assets.defs.partitions import (
    channel_window_mapping,
    daily_partitions,
    gap_window_mapping,
    partition_days,
    weekly_partitions,
)
from genesys_assets.schema import INTERVAL_KPIS
from genesys_assets.transforms import gapfill, kpis, refills, restatement, weekly
from genesys_assets.transforms.batching import RowBudgetBatches
from genesys_assets.transforms.kpis import GRID_SCHEMA
from genesys_assets.transforms.split import split_by_local_date


@dg.asset(
    group_name=GROUP_KPIS,
    kinds={"polars"},
    **range_partitioned(daily_partitions),
    ins={
        "raw_queue_aggregates": dg.AssetIn(
            partition_mapping=channel_window_mapping, metadata={ALLOW_MISSING_PARTITIONS: True}
        )
    },
    check_specs=checks.INTERVAL_CHECKS,
)
def queue_interval_kpis(
    context: dg.AssetExecutionContext, raw_queue_aggregates: StoredPartitions
) -> Iterator[dg.Output[PartitionBatches] | dg.AssetCheckEvaluation | dg.Output[None]]:
    """Interval KPI table on the full expected grid: every queue x media type x direction with traffic on the
    day or in its trailing channel window (`GENESYS_CHANNEL_WINDOW_DAYS`) x every local interval (46, 48 or
    50 half-hours on DST days).

    Counts and millisecond sums per interval; AHT = handle sum / handle count, average speed of answer =
    answer sum / answered, answer and abandon rates over offered (no abandon rate for web messaging),
    service level from Genesys's oServiceLevel. An interval the API omitted had no activity: counts 0,
    ratios null. A re-read that changes a stored day records what changed on its materialization.
    """
    results = checks.PartitionChecks(context, checks.INTERVAL_CHECKS)
    restated: list[str] = []
    days = partition_days(context)
    absent = [day.isoformat() for day in days if day.isoformat() not in raw_queue_aggregates]
    if absent:
        raise MissingPartitionError(
            f"asset raw_queue_aggregates has no stored partition(s) {', '.join(absent[:10])}. Fix: materialize "
            "those partitions of raw_queue_aggregates first (e.g. launch a backfill of the daily job)."
        )

    def produce() -> Generator[dict[str, pl.DataFrame], None, dict[str, dg.MetadataValue]]:
        # Days are transformed a batch at a time (a few polars queries per batch instead of a few per day), as
        # many days as fit the row budget; each batch is split into one frame per partition and written
        # before the next is read. The channels seen on each day of the trailing window are carried from one
        # batch to the next, so each raw day is read once, for its channel keys only, before the first batch
        # (one earlier day at a time: only its distinct channels are kept).
        window = SETTINGS.pipeline.channel_window_days
        earlier = raw_queue_aggregates.reduced(
            (day.isoformat() for day in kpis.window_days(days, window)),
            lambda frame: kpis.channels_by_day([frame]),
            columns=["local_date", *kpis.CHANNEL_KEYS],
        )
        seen = pl.concat([kpis.channels_by_day([]), *earlier])
        plan = RowBudgetBatches(days, SETTINGS.pipeline.batch_rows)
        for batch in plan:
            keys = [day.isoformat() for day in batch]
            raw = pl.concat(list(raw_queue_aggregates.load(keys).values()))
            seen = pl.concat([seen, kpis.channels_by_day([raw])])
            pairs = kpis.active_pairs(seen, batch, window)
            args = (batch, SETTINGS.pipeline.timezone, SETTINGS.pipeline.interval_minutes)
            frames = split_by_local_date(kpis.interval_kpis(raw, pairs, *args), batch, schema=INTERVAL_KPIS)
            del raw
            grids = split_by_local_date(kpis.expected_grid(pairs, *args), batch, schema=GRID_SCHEMA)
            for key, frame in frames.items():
                results.record(key, checks.interval_rules(frame, grids[key]))
            record_partition_figures(context, frames)
            plan.record(frame.height for frame in frames.values())
            seen = seen.filter(pl.col("local_date") > batch[-1] - timedelta(days=window - 1))
            yield frames
        # `replaced` has seen every batch by now: the I/O manager calls it before asking for the next one.
        return {"restated_days": dg.MetadataValue.int(len(restated)), **batch_figures(plan)}

    def replaced(key: str, stored: pl.DataFrame, new: pl.DataFrame) -> dict[str, dg.MetadataValue]:
        change = restatement.restatement(stored, new)
        if change is not None:
            restated.append(key)
            context.log.info(f"Re-read of {key} restated its figures: {change.describe()}.")
        return restatement_metadata(change)

    yield dg.Output(PartitionBatches(produce(), replaced))
    yield from results.events()


@dg.asset(
    group_name=GROUP_KPIS,
    kinds={"polars"},
    **range_partitioned(daily_partitions),
    ins={
        "queue_interval_kpis": dg.AssetIn(
            partition_mapping=gap_window_mapping, metadata={ALLOW_MISSING_PARTITIONS: True}
        )
    },
    check_specs=checks.DAILY_CHECKS,
)
def queue_kpis_daily(
    context: dg.AssetExecutionContext, queue_interval_kpis: StoredPartitions
) -> Iterator[dg.Output[PartitionBatches] | dg.AssetCheckEvaluation | dg.Output[None]]:
    """Interval KPIs per local day with gaps filled.

    A day whose extraction succeeded is copied exactly (`fill_method = observed`). A day whose extraction
    failed or has not run is a gap: each queue's counts and sums are estimated linearly from the nearest
    observed days before and after within the window, carried from one side when only one exists, and null
    when neither does; `is_interpolated` flags those rows. When the gap is backfilled, the gap-refill sensor
    re-materializes every day that used an estimate. `is_provisional` marks days the daily schedule will
    still re-read (the last `GENESYS_LOOKBACK_DAYS`), because Genesys may still restate them.
    """
    days = partition_days(context)
    materialized = observed_keys(context.instance)
    observed = [date.fromisoformat(key) for key in queue_interval_kpis if key in materialized]
    requested = set(context.asset_partition_keys_for_input("queue_interval_kpis"))
    lost = sorted((materialized & requested) - set(queue_interval_kpis))
    if lost:
        raise MissingPartitionError(
            f"asset queue_interval_kpis is materialized for {', '.join(lost[:10])} but the lake has no file "
            "for them (was GENESYS_LAKE_DIR changed or a file deleted?). Fix: materialize those partitions of "
            "queue_interval_kpis again, or point GENESYS_LAKE_DIR at the lake they were written to."
        )
    now = datetime.now(UTC)
    results = checks.PartitionChecks(context, checks.DAILY_CHECKS)

    def produce() -> Generator[dict[str, pl.DataFrame], None, dict[str, dg.MetadataValue]]:
        gap_days = 0
        plan = RowBudgetBatches(days, SETTINGS.pipeline.batch_rows)
        for batch in plan:
            # The batch's observed days are copied whole; a gap's neighbours are read for the columns an
            # estimate uses.
            needed = refills.days_to_read(batch, observed, SETTINGS.pipeline.gap_window_days)
            window = {
                date.fromisoformat(key): frame
                for key, frame in queue_interval_kpis.load(
                    day.isoformat() for day in needed if day in batch
                ).items()
            }
            neighbours = queue_interval_kpis.load(
                (day.isoformat() for day in needed if day not in batch), columns=gapfill.NEIGHBOUR_COLUMNS
            )
            window.update((date.fromisoformat(key), frame) for key, frame in neighbours.items())
            filled = gapfill.fill_days(
                window,
                batch,
                timezone=SETTINGS.pipeline.timezone,
                interval_minutes=SETTINGS.pipeline.interval_minutes,
                now=now,
                lookback_days=SETTINGS.pipeline.lookback_days,
                window_days=SETTINGS.pipeline.gap_window_days,
            )
            frames = {day.isoformat(): frame for day, frame in filled.items()}
            extra: dict[str, dict[str, dg.MetadataValue]] = {}
            for day, key in zip(batch, frames, strict=True):
                results.record(key, checks.daily_rules(frames[key]))
                is_gap = day not in window
                extra[key] = {"is_gap_day": dg.MetadataValue.bool(is_gap)}
                if is_gap:
                    gap_days += 1
                    sources = refills.estimate_sources(day, observed, SETTINGS.pipeline.gap_window_days)
                    extra[key]["estimate_sources"] = dg.MetadataValue.json(list(sources))
            record_partition_figures(context, frames, extra)
            plan.record(frame.height for frame in frames.values())
            yield frames
        return {
            "gap_days": dg.MetadataValue.int(gap_days),
            "restatement_days": dg.MetadataValue.int(SETTINGS.pipeline.lookback_days),
            **batch_figures(plan),
        }

    yield dg.Output(PartitionBatches(produce()))
    yield from results.events()


@dg.asset(
    group_name=GROUP_KPIS,
    kinds={"polars"},
    **range_partitioned(weekly_partitions),
    check_specs=checks.WEEKLY_CHECKS,
)
def queue_kpis_weekly(
    context: dg.AssetExecutionContext, queue_kpis_daily: StoredPartitions
) -> Iterator[dg.Output[PartitionBatches] | dg.AssetCheckEvaluation | dg.Output[None]]:
    """Weekly KPIs per queue x media type x direction (weeks start on Monday, local time).

    Recomputed from the summed counts, sums, numerators and denominators of the seven daily partitions, never
    an average of daily ratios. `days_observed` and `days_interpolated` say how much of the week is estimated.
    Each daily partition is read alone, for the columns a day roll-up needs, and rolled up to one row per
    channel before the next is read; the week and its checks are computed from those roll-ups.
    """
    results = checks.PartitionChecks(context, checks.WEEKLY_CHECKS)

    def produce() -> Iterator[dict[str, pl.DataFrame]]:
        for week_key in context.partition_keys:
            monday = date.fromisoformat(week_key)
            days = week_day_rollups(queue_kpis_daily, week_key)
            frame = weekly.weekly_kpis(days, monday)
            results.record(week_key, checks.weekly_rules(frame, days, monday))
            figures = {"days_interpolated": dg.MetadataValue.int(int(frame["days_interpolated"].max() or 0))}
            record_partition_figures(context, {week_key: frame}, {week_key: figures})
            yield {week_key: frame}

    yield dg.Output(PartitionBatches(produce()))
    yield from results.events()
