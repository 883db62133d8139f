"""What a re-read of a stored day changed: Genesys restates recent (and, after service-level option changes,
older) data, and the daily schedule re-reads the last days every night.

`restatement` compares the stored interval KPI partition of a day with the one a re-read produced: the rows whose
measures differ (or that appear or disappear) and, for the figures an analyst watches, the change of the
day's totals. Identical partitions give no restatement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

from genesys_assets.schema import KPI_MAXIMA, KPI_MEASURES
from genesys_assets.transforms.kpis import CHANNEL_KEYS

# Day totals whose change a restatement reports.
RESTATED_MEASURES: Final[tuple[str, ...]] = (
    "offered",
    "answered",
    "abandoned",
    "handle_count",
    "handle_sum_ms",
    "sl_numerator",
    "sl_denominator",
)
_KEYS: Final[list[str]] = ["local_date", *CHANNEL_KEYS, "interval_start"]


@dataclass(frozen=True)
class Restatement:
    """The rows of a day that a re-read changed and the change of its totals (new minus stored)."""

    rows: int
    deltas: dict[str, int]

    def describe(self) -> str:
        changed = ", ".join(f"{name} {delta:+d}" for name, delta in self.deltas.items() if delta)
        return f"{self.rows} rows changed" + (f"; totals {changed}" if changed else "; totals unchanged")


def restatement(stored: pl.DataFrame, new: pl.DataFrame) -> Restatement | None:
    """The restatement from `stored` to `new` (two `INTERVAL_KPIS` frames of one day), or None if equal.

    A row that appears or disappears is changed. A value the stored partition does not know (null: a column
    added to the schema after it was written) is filled in by the re-read, which is no restatement.
    """
    values = [*KPI_MEASURES, *KPI_MAXIMA]
    joined = stored.select(*_KEYS, *values, __stored=pl.lit(True)).join(
        new.select(*_KEYS, *values, __new=pl.lit(True)), on=_KEYS, how="full", coalesce=True, suffix="__new"
    )
    both = pl.col("__stored").fill_null(False) & pl.col("__new").fill_null(False)
    differs = ~both | pl.any_horizontal(
        pl.col(m).is_not_null() & pl.col(m).ne_missing(pl.col(f"{m}__new")) for m in values
    )
    rows = joined.filter(differs).height
    if rows == 0:
        return None
    totals = joined.select(
        *[(pl.col(f"{m}__new").sum() - pl.col(m).sum()).alias(m) for m in RESTATED_MEASURES]
    ).row(0, named=True)
    return Restatement(rows=rows, deltas={name: int(value or 0) for name, value in totals.items()})
