"""What the group keys of the raw table hold: partial groups and values outside Genesys's enums.

Nothing an answer holds is dropped (`transforms.flatten`); this module measures what the run's metadata,
log and checks must say about it:

* **Partial groups.** A group that lacks a grouping dimension (stored with that key null) holds metrics
  Genesys could not split by it. `partial_groups` counts their rows per missing dimension and metric; a
  metric that feeds a KPI column there means that column understates its channel (the check
  `kpi_metrics_in_complete_groups` fails and names them).
* **Unknown values.** `mediaType` and `direction` are checked against the enums of the SDK's
  `AnalyticsSession` (`genesys.records.ANALYTICS_MEDIA_TYPES`, `DIRECTIONS`). A value outside them is kept
  as a channel of its own; `unknown_values` lists it so the run logs it once and counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

from genesys_assets.genesys.records import ANALYTICS_MEDIA_TYPES, DIRECTIONS
from genesys_assets.transforms.kpis import CHANNEL_KEYS, MAXIMUM_SOURCES, MEASURE_SOURCES

# Metrics that feed a column of the KPI tables.
KPI_METRICS: Final[frozenset[str]] = frozenset(
    metric for metric, _ in (*MEASURE_SOURCES.values(), *MAXIMUM_SOURCES.values())
)
# Dimension column -> the values Genesys documents for it.
KNOWN_VALUES: Final[dict[str, tuple[str, ...]]] = {
    "media_type": ANALYTICS_MEDIA_TYPES,
    "direction": DIRECTIONS,
}


@dataclass(frozen=True)
class PartialGroupRow:
    """Raw rows of partial groups that miss one set of dimensions, for one metric."""

    missing: tuple[str, ...]
    metric: str
    rows: int
    count: int
    feeds_kpi: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "missing": ",".join(self.missing),
            "metric": self.metric,
            "rows": self.rows,
            "count": self.count,
            "feeds_kpi": self.feeds_kpi,
        }


def partial_groups(raw: pl.DataFrame) -> list[PartialGroupRow]:
    """Per missing dimensions and metric, the raw rows of partial groups and their summed `count`
    (for oServiceLevel, which has no count, its numerator). Sorted by missing dimensions, then metric."""
    missing = pl.concat_list(
        [pl.when(pl.col(key).is_null()).then(pl.lit(key)).otherwise(None) for key in CHANNEL_KEYS]
    ).list.drop_nulls()
    rows = (
        raw.lazy()
        .filter(pl.any_horizontal(pl.col(key).is_null() for key in CHANNEL_KEYS))
        .group_by(missing.alias("missing"), "metric")
        .agg(pl.len().alias("rows"), pl.coalesce("count", "numerator").sum().alias("count"))
        .collect()
    )
    found = [
        PartialGroupRow(
            missing=tuple(item["missing"]),
            metric=item["metric"],
            rows=int(item["rows"]),
            count=int(item["count"] or 0),
            feeds_kpi=item["metric"] in KPI_METRICS,
        )
        for item in rows.to_dicts()
    ]
    return sorted(found, key=lambda row: (row.missing, row.metric))


def unknown_values(raw: pl.DataFrame) -> dict[str, list[str]]:
    """Per dimension column, the values (sorted) that Genesys's enum for it does not list."""
    found: dict[str, list[str]] = {}
    for column, known in KNOWN_VALUES.items():
        values = raw.lazy().select(pl.col(column).drop_nulls().unique()).collect().to_series()
        unknown = sorted(set(values.to_list()) - set(known))
        if unknown:
            found[column] = unknown
    return found
