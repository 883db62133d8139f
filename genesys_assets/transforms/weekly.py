"""The weekly KPI table (`queue_kpis_weekly`, `schema.WEEKLY_KPIS`) from the daily rows of one local week.

A week's figures are the sums of its daily measures (maxima such as `wait_max_ms`: the largest known), and its
ratios are recomputed from those sums: a week is never an average of daily or interval averages. Rows with null measures (gap rows that had no
observed neighbour, fill method "none") add nothing; a measure is null only when no row of the week knows
it. `days_observed` counts the local dates on which the queue x media type x direction was observed,
`days_interpolated` those on which it was estimated or left unknown (`is_interpolated`); days without rows
count in neither. `is_provisional` is true if any row of the week is.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from genesys_assets import localtime
from genesys_assets.schema import WEEKLY_KPIS
from genesys_assets.transforms.kpis import CHANNEL_KEYS, rollup_exprs, with_ratios


def check_week_rows(daily: pl.DataFrame, week_start: date) -> None:
    """Raise ValueError if `week_start` is not a Monday or a row's local_date lies outside that week."""
    localtime.week_days(week_start)
    outside = daily.filter(localtime.week_start_expr(pl.col("local_date")) != week_start)
    if outside.height:
        dates = ", ".join(d.isoformat() for d in outside["local_date"].unique().sort().to_list()[:5])
        raise ValueError(
            f"Daily rows for the week of {week_start.isoformat()} include other dates ({dates}); pass only "
            "the rows of that week's seven local days."
        )


def weekly_kpis(daily: pl.DataFrame, week_start: date) -> pl.DataFrame:
    """One `WEEKLY_KPIS` row per queue x media type x direction present in the week's `DAILY_KPIS` rows.

    Raises ValueError when `week_start` is not a Monday or rows fall outside the week. Sorted by queue_id,
    media_type, direction.
    """
    check_week_rows(daily, week_start)
    weekly = daily.group_by(*CHANNEL_KEYS).agg(
        *rollup_exprs(),
        pl.col("local_date")
        .filter(~pl.col("is_interpolated"))
        .n_unique()
        .cast(pl.Int32)
        .alias("days_observed"),
        pl.col("local_date")
        .filter(pl.col("is_interpolated"))
        .n_unique()
        .cast(pl.Int32)
        .alias("days_interpolated"),
        pl.col("is_provisional").any().alias("is_provisional"),
    )
    weekly = with_ratios(weekly).with_columns(week_start=pl.lit(week_start, dtype=pl.Date))
    return (
        weekly.select(pl.col(name).cast(dtype) for name, dtype in WEEKLY_KPIS.items())
        .sort(*CHANNEL_KEYS)
        .match_to_schema(WEEKLY_KPIS)
    )
