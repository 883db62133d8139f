"""Pure polars transforms of the pipeline: no I/O, no HTTP, no Dagster.

* `flatten`: aggregates API answers -> raw long table (`schema.RAW_AGGREGATES`).
* `kpis`: expected grid and the flat interval KPI table (`schema.INTERVAL_KPIS`); the ratio rules.
* `gapfill`: the daily table with gaps estimated from observed neighbours (`schema.DAILY_KPIS`).
* `weekly`: weekly sums (`schema.WEEKLY_KPIS`).
* `export`: the S3 export tables (`schema.EXPORT_DAILY`, `schema.EXPORT_WEEKLY`).
* `contracts`: data-contract checks behind the Dagster asset checks.
"""

from genesys_assets.transforms.export import export_daily, export_weekly
from genesys_assets.transforms.flatten import AggregatesFormatError, parse_aggregate_results
from genesys_assets.transforms.gapfill import fill_day, is_provisional
from genesys_assets.transforms.kpis import expected_grid, interval_kpis
from genesys_assets.transforms.weekly import weekly_kpis

__all__ = [
    "AggregatesFormatError",
    "expected_grid",
    "export_daily",
    "export_weekly",
    "fill_day",
    "interval_kpis",
    "is_provisional",
    "parse_aggregate_results",
    "weekly_kpis",
]
