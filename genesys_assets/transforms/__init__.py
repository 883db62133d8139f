"""Pure polars transforms of the pipeline: no I/O, no HTTP, no Dagster.

* `flatten`: aggregates API answers -> raw long table (`schema.RAW_AGGREGATES`).
* `kpis`: channels from traffic, the expected grid and the interval KPI table (`schema.INTERVAL_KPIS`);
  the ratio rules.
* `gapfill`: the daily table with gaps estimated from observed neighbours (`schema.DAILY_KPIS`).
* `refills`: which gap days need their estimates (re)computed, and which weeks are stale.
* `weekly`: weekly sums (`schema.WEEKLY_KPIS`).
* `export`: the S3 export tables (`schema.EXPORT_DAILY`, `schema.EXPORT_WEEKLY`).
* `restatement`: what a re-read of a stored day changed.
* `contracts`: data-contract checks behind the Dagster asset checks.
* `directory`, `split`: the queue directory frame; one frame per local day.
"""
