"""The weekly KPI table (`queue_kpis_weekly`, `schema.WEEKLY_KPIS`) from the daily rows of one local week.

A week's figures are the sums of its daily measures (maxima such as `wait_max_ms`: the largest known), and its
ratios are recomputed from those sums: a week is never an average of daily or interval averages. Rows with null measures (gap rows that had no
observed neighbour, fill method "none") add nothing; a measure is null only when no row of the week knows
it. `days_observed` counts the local dates on which the queue x media type x direction was observed,
`days_interpolated` those on which it was estimated or left unknown (`is_interpolated`); days without rows
count in neither. `is_provisional` is true if any row of the week is.

A week is built from its day roll-ups (`day_rollup`: one row per queue x media type x direction x local
date), so a step holds one day of interval rows at a time and the week's rows are few. `weekly_kpis` gives
the same table from the roll-ups as from the interval rows: sums of daily sums and maxima of daily maxima
are the week's, and every row of one channel on one day shares `is_interpolated` (see `day_rollup`).
"""

from __future__ import annotations

from datetime import date
from typing import Final

import polars as pl

from genesys_assets import localtime
from genesys_assets.schema import DAILY_KPIS, FILL_METHODS, KPI_MAXIMA, KPI_MEASURES, WEEKLY_KPIS
from genesys_assets.transforms.kpis import CHANNEL_KEYS, rollup_exprs, with_ratios

# The columns of a `DAILY_KPIS` partition that `day_rollup` reads: no interval instants, no ratios.
DAY_ROLLUP_COLUMNS: Final[tuple[str, ...]] = (
    "local_date",
    *CHANNEL_KEYS,
    *KPI_MEASURES,
    *KPI_MAXIMA,
    "is_interpolated",
    "fill_method",
    "is_provisional",
)

# One row per queue x media type x direction x local date: the day's summed measures and maxima, typed as in
# the daily table.
DAY_ROLLUP: Final = pl.Schema({name: DAILY_KPIS[name] for name in DAY_ROLLUP_COLUMNS})


def day_fill_method() -> pl.Expr:
    """The least certain fill method among a group's rows (order of `schema.FILL_METHODS`).

    A gap day can mix methods across intervals (linear here, carried there); its daily summary is labelled
    with the weakest of them, so it never claims more certainty than its least certain interval.
    """
    rank = pl.col("fill_method").replace_strict(
        list(FILL_METHODS), list(range(len(FILL_METHODS))), default=len(FILL_METHODS), return_dtype=pl.Int8
    )
    return pl.col("fill_method").sort_by(rank, descending=True).first().alias("fill_method")


def day_rollup(daily: pl.DataFrame) -> pl.DataFrame:
    """`DAY_ROLLUP` of `DAILY_KPIS` rows (at least `DAY_ROLLUP_COLUMNS`), sorted by local_date, queue_id,
    media_type, direction.

    Measures are summed (null only when no row of the day knows them) and maxima the largest known
    (`kpis.rollup_exprs`); `is_interpolated` and `is_provisional` are true if any row is; `fill_method` is
    the least certain of the day (`day_fill_method`). Rolling up roll-ups gives them back unchanged.

    `is_interpolated` of a roll-up stands for every row of its channel-day: `gapfill.fill_days` copies an
    observed day whole (every row false) and estimates a gap day whole (every row true), so a day's rows of
    one channel never mix the two, and the week's `days_observed`/`days_interpolated` count the same dates
    from the roll-ups as from the interval rows.
    """
    rolled = daily.group_by(*CHANNEL_KEYS, "local_date").agg(
        *rollup_exprs(),
        pl.col("is_interpolated").any(),
        pl.col("is_provisional").any(),
        day_fill_method(),
    )
    return (
        rolled.select(pl.col(name).cast(dtype) for name, dtype in DAY_ROLLUP.items())
        .sort("local_date", *CHANNEL_KEYS)
        .match_to_schema(DAY_ROLLUP)
    )


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
    """One `WEEKLY_KPIS` row per queue x media type x direction present in the week's `DAILY_KPIS` rows or
    their day roll-ups (`day_rollup`); both give the same table.

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
