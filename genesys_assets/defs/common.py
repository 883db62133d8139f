"""Attributes and metadata shared by every asset, so the lineage graph reads like README.md's diagram."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import polars as pl

from genesys_assets.transforms import kpis
from genesys_assets.transforms.batching import RowBudgetBatches
from genesys_assets.transforms.restatement import RESTATED_MEASURES, Restatement

OWNERS = ["team:contact-center-analytics"]
GENESYS_POOL = "genesys_api"

GROUP_RAW = "genesys_raw"
GROUP_KPIS = "queue_kpis"
GROUP_EXPORT = "lake_export"


def range_partitioned(partitions_def: dg.PartitionsDefinition) -> dict[str, Any]:
    """The `@asset` attributes every partitioned asset shares: the owners, the partitions, and a single-run
    backfill policy, so a range of partitions is one run."""
    return {
        "owners": OWNERS,
        "partitions_def": partitions_def,
        "backfill_policy": dg.BackfillPolicy.single_run(),
    }


def kpi_figures(frame: pl.DataFrame) -> dict[str, dg.MetadataValue]:
    """Totals an analyst plots over partitions: offered, answered, abandoned, the KPI ratios, interpolated
    share. Ratios come from the summed measures by the rules of `kpis.totals_ratios`, never averaged. The
    totals and ratios cover the primary channels (`kpis.primary_channels`): a co-browse or screen-share row
    rides on a conversation already counted in its own channel."""
    if frame.is_empty():
        return {"total_offered": dg.MetadataValue.int(0), "total_answered": dg.MetadataValue.int(0)}
    sums, ratios = kpis.primary_totals(frame, ("offered", "answered", "abandoned"))
    figures: dict[str, dg.MetadataValue] = {
        f"total_{name}": dg.MetadataValue.int(value) for name, value in sums.items()
    }
    for name, value in ratios.items():
        figures[name] = dg.MetadataValue.float(round(value, 6))
    flags = [
        *([pl.col("is_interpolated").cast(pl.Float64).mean()] if "is_interpolated" in frame.columns else []),
        *([pl.col("is_provisional").sum()] if "is_provisional" in frame.columns else []),
    ]
    if flags:
        shares = frame.select(flags).row(0, named=True)
        if "is_interpolated" in shares:
            share = shares["is_interpolated"]
            figures["interpolated_share"] = dg.MetadataValue.float(round(float(share or 0.0), 6))
        if "is_provisional" in shares:
            figures["provisional_rows"] = dg.MetadataValue.int(int(shares["is_provisional"]))
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
