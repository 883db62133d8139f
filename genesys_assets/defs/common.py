"""Attributes and metadata shared by every asset, so the lineage graph reads like README.md's diagram."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import polars as pl

from genesys_assets import localtime
from genesys_assets.config import SETTINGS
from genesys_assets.defs.io_manager import StoredPartitions
from genesys_assets.transforms import kpis, weekly
from genesys_assets.transforms.batching import RowBudgetBatches
from genesys_assets.transforms.restatement import RESTATED_MEASURES, Restatement

OWNERS = ["team:contact-center-analytics"]
GENESYS_POOL = "genesys_api"

GROUP_RAW = "genesys_raw"
GROUP_KPIS = "queue_kpis"
GROUP_EXPORT = "lake_export"


def backfill_policy(
    partitions_def: dg.PartitionsDefinition, max_partitions_per_run: int | None
) -> dg.BackfillPolicy:
    """The backfill policy of a partitioned asset: a contiguous range is one run, or with
    `GENESYS_MAX_PARTITIONS_PER_RUN` set, runs of at most that many days each.

    The cap counts days. A weekly partition is 7 days of data (its run reads 7 daily partitions per week and
    writes one object), so weekly assets take max(1, N // 7) weeks per run: a weekly run then covers about as
    many days as a daily run, which is what the cap bounds (one run's wall time, memory and the share of a
    backfill one failure sends back). Taking N weeks as is would make a weekly run seven times the size."""
    if max_partitions_per_run is None:
        return dg.BackfillPolicy.single_run()
    if isinstance(partitions_def, dg.WeeklyPartitionsDefinition):
        return dg.BackfillPolicy.multi_run(max(1, max_partitions_per_run // 7))
    return dg.BackfillPolicy.multi_run(max_partitions_per_run)


def range_partitioned(partitions_def: dg.PartitionsDefinition) -> dict[str, Any]:
    """The `@asset` attributes every partitioned asset shares: the owners, the partitions, and the backfill
    policy of `backfill_policy` (one run per range unless `GENESYS_MAX_PARTITIONS_PER_RUN` caps it)."""
    return {
        "owners": OWNERS,
        "partitions_def": partitions_def,
        "backfill_policy": backfill_policy(partitions_def, SETTINGS.pipeline.max_partitions_per_run),
    }


def kpi_figures(frame: pl.DataFrame) -> dict[str, dg.MetadataValue]:
    """Totals an analyst plots over partitions: offered, answered, abandoned, the KPI ratios, interpolated
    share. Ratios come from the summed measures by the rules of `kpis.primary_totals`, never averaged. The
    totals and ratios cover the primary channels (`kpis.is_primary_channel`): a co-browse or screen-share row
    rides on a conversation already counted in its own channel."""
    if frame.is_empty():
        return {"total_offered": dg.MetadataValue.int(0), "total_answered": dg.MetadataValue.int(0)}
    sums, ratios = kpis.primary_totals(frame, ("offered", "answered", "abandoned"))
    figures: dict[str, dg.MetadataValue] = {
        f"total_{name}": dg.MetadataValue.int(value) for name, value in sums.items()
    }
    for name, value in ratios.items():
        figures[name] = dg.MetadataValue.float(round(value, 6))
    if "is_interpolated" in frame.columns:
        share = frame["is_interpolated"].mean()
        figures["interpolated_share"] = dg.MetadataValue.float(round(float(share or 0.0), 6))
    if "is_provisional" in frame.columns:
        figures["provisional_rows"] = dg.MetadataValue.int(int(frame["is_provisional"].sum()))
    return figures


def restatement_metadata(change: Restatement | None) -> dict[str, dg.MetadataValue]:
    """What a re-read changed in a stored partition, as plottable numbers (all 0 when nothing changed)."""
    deltas = change.deltas if change is not None else dict.fromkeys(RESTATED_MEASURES, 0)
    return {
        "restated_rows": dg.MetadataValue.int(change.rows if change is not None else 0),
        **{f"restated_{name}": dg.MetadataValue.int(delta) for name, delta in deltas.items()},
    }


def record_partition_figures(
    context: dg.AssetExecutionContext,
    frames: Mapping[str, pl.DataFrame],
    extra: Mapping[str, Mapping[str, dg.MetadataValue]] | None = None,
) -> None:
    """Put each partition's own figures on its materialization, so plots over partitions stay true in a
    range run (one run, many partitions) as in a single-partition run."""
    for key, frame in frames.items():
        figures = {**kpi_figures(frame), **(extra or {}).get(key, {})}
        context.add_asset_metadata(figures, partition_key=key)


def batch_figures(plan: RowBudgetBatches[Any]) -> dict[str, dg.MetadataValue]:
    """How a range run's days were batched under the row budget (`GENESYS_BATCH_ROWS`)."""
    return {
        "batches": dg.MetadataValue.int(plan.count),
        "largest_day_rows": dg.MetadataValue.int(plan.largest_item_rows),
    }


def week_day_rollups(queue_kpis_daily: StoredPartitions, week_key: str) -> pl.DataFrame:
    """The day roll-ups (`weekly.day_rollup`) of the stored daily partitions of the week `week_key`, in date
    order.

    Each day is read alone, for `weekly.DAY_ROLLUP_COLUMNS` only, and rolled up before the next is read
    (`StoredPartitions.reduced`), so one day's interval rows are held at a time; the roll-ups are a few rows
    per channel.
    """
    keys = (day.isoformat() for day in localtime.week_days(week_key))
    parts = queue_kpis_daily.reduced(keys, weekly.day_rollup, columns=weekly.DAY_ROLLUP_COLUMNS)
    return pl.concat(parts) if parts else pl.DataFrame(schema=weekly.DAY_ROLLUP)
