"""The expected interval grid and the flat KPI table (`queue_interval_kpis`).

The aggregates API omits every queue, interval and metric without activity, so the raw long table is
sparse. This module lays out the grid that *should* exist for a set of local days (every queue that existed
on the day x its media types x every local interval of the day: 46, 48 or 50 half-hours on DST days),
pivots the raw metric rows into one column per measure and joins them onto the grid. Missing measures are
zero (an extracted day without activity), ratios are null where their denominator is zero.

Nothing is dropped: a (queue, media type) pair that has raw rows on a day but is not in the grid (a deleted
queue, a media type the directory does not list) gets the day's full interval grid too.

The ratio rules live here (`with_ratios`) and are reused by the daily, weekly and export tables, so every
table computes AHT, answer rate, abandon rate and service level the same way, always from summed measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Final

import polars as pl

from genesys_assets import localtime
from genesys_assets.schema import INTERVAL_KPIS, KPI_MEASURES, KPI_RATIOS, UTC_US

# Measure name -> (aggregate metric, statistic) it is read from.
MEASURE_SOURCES: Final[dict[str, tuple[str, str]]] = {
    "offered": ("nOffered", "count"),
    "answered": ("tAnswered", "count"),
    "abandoned": ("tAbandon", "count"),
    "flow_out": ("tFlowOut", "count"),
    "handle_count": ("tHandle", "count"),
    "handle_sum_ms": ("tHandle", "sum"),
    "talk_sum_ms": ("tTalkComplete", "sum"),
    "hold_sum_ms": ("tHeldComplete", "sum"),
    "acw_sum_ms": ("tAcw", "sum"),
    "wait_sum_ms": ("tWait", "sum"),
    "sl_numerator": ("oServiceLevel", "numerator"),
    "sl_denominator": ("oServiceLevel", "denominator"),
}
assert tuple(MEASURE_SOURCES) == KPI_MEASURES

# Key columns of one row of the interval grid.
GRID_KEYS: Final[tuple[str, ...]] = ("local_date", "queue_id", "media_type", "interval_start", "interval_end")
GRID_SCHEMA: Final = pl.Schema({name: INTERVAL_KPIS[name] for name in GRID_KEYS})
_PIVOT_KEYS: Final[tuple[str, ...]] = ("local_date", "queue_id", "media_type", "interval_start")

# Ratio name -> (numerator measure, denominator measure, divisor applied to the quotient).
RATIO_SOURCES: Final[dict[str, tuple[str, str, float]]] = {
    "aht_s": ("handle_sum_ms", "handle_count", 1000.0),
    "answer_rate": ("answered", "offered", 1.0),
    "abandon_rate": ("abandoned", "offered", 1.0),
    "service_level": ("sl_numerator", "sl_denominator", 1.0),
}
assert tuple(RATIO_SOURCES) == KPI_RATIOS


def ratio_exprs() -> list[pl.Expr]:
    """Expressions for every KPI ratio from the measure columns: null when the denominator is 0 or null.

    A ratio is never 0 for "no activity" and never NaN or infinite. Negative denominators (data that breaks
    the contract) are divided as they are; the blocking contract checks report them.
    """
    exprs = []
    for name, (numerator, denominator, divisor) in RATIO_SOURCES.items():
        den = pl.col(denominator)
        value = pl.col(numerator).cast(pl.Float64) / den.cast(pl.Float64)
        if divisor != 1.0:
            value = value / divisor
        exprs.append(pl.when(den.is_not_null() & (den != 0)).then(value).otherwise(None).alias(name))
    return exprs


def with_ratios(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every ratio column (re)computed from its measure columns."""
    return frame.with_columns(ratio_exprs())


def sum_or_null(column: str) -> pl.Expr:
    """Sum of a measure over a group; null only when every value in the group is null (nothing known)."""
    col = pl.col(column)
    return pl.when(col.is_not_null().any()).then(col.sum()).otherwise(None).cast(pl.Int64).alias(column)


def day_intervals(days: Sequence[date], timezone: str, interval_minutes: int) -> pl.DataFrame:
    """Every local interval of the given days: local_date, interval_start, interval_end (UTC instants).

    Uses `localtime.interval_starts`, so DST days have 46/50 half-hours (92/100 quarter-hours, 23/25 hours).
    """
    if interval_minutes <= 0:
        raise ValueError(f"interval_minutes must be positive, got {interval_minutes}.")
    step = timedelta(minutes=interval_minutes)
    local_dates: list[date] = []
    starts = []
    for day in sorted(set(days)):
        day_starts = localtime.interval_starts(day, timezone, interval_minutes)
        local_dates.extend([day] * len(day_starts))
        starts.extend(day_starts)
    frame = pl.DataFrame(
        {"local_date": local_dates, "interval_start": starts},
        schema={"local_date": pl.Date, "interval_start": UTC_US},
    )
    return frame.with_columns(interval_end=pl.col("interval_start") + step)


def _day_ends(days: Sequence[date], timezone: str) -> pl.DataFrame:
    unique_days = sorted(set(days))
    return pl.DataFrame(
        {
            "local_date": unique_days,
            "day_end": [localtime.day_bounds(day, timezone)[1] for day in unique_days],
        },
        schema={"local_date": pl.Date, "day_end": UTC_US},
    )


def _expected_pairs(queues: pl.DataFrame, days: Sequence[date], timezone: str) -> pl.DataFrame:
    """local_date x queue_id x media_type of every queue that existed on each day (created before its end)."""
    pairs = (
        queues.select("queue_id", pl.col("media_types").alias("media_type"), "date_created")
        .explode("media_type")
        .filter(
            pl.col("queue_id").is_not_null()
            & pl.col("media_type").is_not_null()
            & (pl.col("media_type") != "")
        )
    )
    return (
        pairs.join(_day_ends(days, timezone), how="cross")
        .filter(pl.col("date_created").is_null() | (pl.col("date_created") < pl.col("day_end")))
        .select("local_date", "queue_id", "media_type")
        .unique()
    )


def _grid_from_pairs(pairs: pl.DataFrame, intervals: pl.DataFrame) -> pl.DataFrame:
    """Pairs x their day's intervals, sorted by local_date, queue_id, media_type, interval_start."""
    return (
        pairs.sort("local_date", "queue_id", "media_type")
        .join(
            intervals.sort("local_date", "interval_start"),
            on="local_date",
            how="inner",
            maintain_order="left_right",
        )
        .select(GRID_KEYS)
    )


def expected_grid(
    queues: pl.DataFrame, days: Sequence[date], timezone: str, interval_minutes: int
) -> pl.DataFrame:
    """The rows the flat KPI table must have for the given local days (columns `GRID_KEYS`).

    One row per queue that existed on the day (`date_created` null or before the day's end) x each of its
    media types (`QUEUES.media_types`, duplicates ignored) x every local interval of the day. A queue without
    media types has no rows. Sorted by local_date, queue_id, media_type, interval_start.
    """
    intervals = day_intervals(days, timezone, interval_minutes)
    return _grid_from_pairs(_expected_pairs(queues, days, timezone), intervals)


def pivot_measures(raw: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """Raw long metric rows -> one row per local_date x queue x media x interval with every measure (lazy).

    A measure whose metric has no row in the interval is 0. Duplicate metric rows (which the blocking raw
    checks reject) would be added together.
    """
    picked = [
        pl.when(pl.col("metric") == metric).then(pl.col(stat)).otherwise(0).alias(name)
        for name, (metric, stat) in MEASURE_SOURCES.items()
    ]
    return (
        raw.lazy()
        .select(*_PIVOT_KEYS, pl.col("interval_end"), *picked)
        .group_by(_PIVOT_KEYS)
        .agg(pl.col("interval_end").first(), *[pl.col(name).sum().cast(pl.Int64) for name in KPI_MEASURES])
    )


def interval_kpis(
    raw: pl.DataFrame,
    queues: pl.DataFrame,
    days: Sequence[date],
    timezone: str,
    interval_minutes: int,
) -> pl.DataFrame:
    """The flat KPI table (`schema.INTERVAL_KPIS`) of the given local days from raw aggregate rows.

    `raw` is a `RAW_AGGREGATES` frame; rows of other local dates are ignored. The result covers the expected
    grid plus every (queue, media type) pair with raw rows on a day (its full interval grid), with measures
    0 where the API returned nothing and ratios null where their denominator is 0. Answered + abandoned may
    exceed offered in an interval (metrics land in the bucket of their own event); that is kept as is.
    Raw rows off the day's interval grid (which `flatten` never produces) are kept as extra rows.
    Sorted by local_date, queue_id, media_type, interval_start.
    """
    day_list = sorted(set(days))
    measures = pivot_measures(raw.lazy().filter(pl.col("local_date").is_in(day_list))).collect()
    pairs = pl.concat(
        [
            _expected_pairs(queues, day_list, timezone),
            measures.select("local_date", "queue_id", "media_type"),
        ]
    ).unique()
    grid = _grid_from_pairs(pairs, day_intervals(day_list, timezone, interval_minutes))
    frame = grid.join(measures.drop("interval_end"), on=list(_PIVOT_KEYS), how="left", maintain_order="left")
    off_grid = measures.join(grid, on=list(_PIVOT_KEYS), how="anti")
    if off_grid.height:
        frame = pl.concat([frame, off_grid.select(frame.columns)]).sort(
            "local_date", "queue_id", "media_type", "interval_start"
        )
    frame = frame.with_columns(pl.col(name).fill_null(0) for name in KPI_MEASURES).with_columns(ratio_exprs())
    return frame.select(pl.col(name).cast(dtype) for name, dtype in INTERVAL_KPIS.items()).match_to_schema(
        INTERVAL_KPIS
    )
