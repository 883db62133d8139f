"""The expected interval grid and the interval KPI table (`queue_interval_kpis`).

The aggregates API omits every queue, interval and metric without activity, so the raw long table is
sparse. This module lays out the grid that *should* exist for a set of local days, pivots the raw metric
rows into one column per measure and joins them onto the grid. Missing measures are zero (an extracted day
without activity), ratios are null where their denominator is zero.

**Which channels a queue serves comes from traffic**, never from the queue's `mediaSettings` (every queue
carries all five blocks). The grid of day D holds each queue x media type x direction with at least one
raw metric row on any stored day of the trailing window D - (window_days - 1) .. D (`active_pairs`), times
every local interval of D (46, 48 or 50 half-hours on DST days). A pair with no traffic in the window has
no rows; an active pair keeps its zero rows on its quiet days, so zero activity is still not a gap. The rule
reads only stored raw partitions, so a day gets the same grid in a one-partition run and in a range run.

The ratio rules live here (`with_ratios`, `primary_totals`) and are reused by the daily, weekly and export
tables and the run metadata, so every figure computes AHT, average speed of answer, answer rate, abandon
rate and service level the same way, always from summed measures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import polars as pl

from genesys_assets import localtime
from genesys_assets.genesys.records import MEDIA_WITHOUT_ABANDONS, SECONDARY_MEDIA_TYPES
from genesys_assets.schema import (
    AGGREGATE_METRICS,
    INTERVAL_KPIS,
    KPI_MAXIMA,
    KPI_MEASURES,
    KPI_RATIOS,
    UTC_US,
)

# Measure name -> (aggregate metric, statistic) it is read from.
MEASURE_SOURCES: Final[dict[str, tuple[str, str]]] = {
    "offered": ("nOffered", "count"),
    "answered": ("tAnswered", "count"),
    "answer_sum_ms": ("tAnswered", "sum"),
    "abandoned": ("tAbandon", "count"),
    "flow_out": ("tFlowOut", "count"),
    "handle_count": ("tHandle", "count"),
    "handle_sum_ms": ("tHandle", "sum"),
    "talk_sum_ms": ("tTalkComplete", "sum"),
    "hold_sum_ms": ("tHeldComplete", "sum"),
    "acw_sum_ms": ("tAcw", "sum"),
    "wait_count": ("tWait", "count"),
    "wait_sum_ms": ("tWait", "sum"),
    "sl_numerator": ("oServiceLevel", "numerator"),
    "sl_denominator": ("oServiceLevel", "denominator"),
    "short_abandoned": ("tShortAbandon", "count"),
    "abandon_sum_ms": ("tAbandon", "sum"),
    "flow_out_sum_ms": ("tFlowOut", "sum"),
    "talk_count": ("tTalkComplete", "count"),
    "hold_count": ("tHeldComplete", "count"),
    "acw_count": ("tAcw", "count"),
    "transferred": ("nTransferred", "count"),
    "blind_transferred": ("nBlindTransferred", "count"),
    "consult_transferred": ("nConsultTransferred", "count"),
    "alert_count": ("tAlert", "count"),
    "alert_sum_ms": ("tAlert", "sum"),
    "not_responding_count": ("tNotResponding", "count"),
    "not_responding_sum_ms": ("tNotResponding", "sum"),
    "connected": ("nConnected", "count"),
    "outbound": ("nOutbound", "count"),
    "outbound_attempted": ("nOutboundAttempted", "count"),
    "outbound_connected": ("nOutboundConnected", "count"),
    "outbound_abandoned": ("nOutboundAbandoned", "count"),
    "over_sla": ("nOverSla", "count"),
}
assert tuple(MEASURE_SOURCES) == KPI_MEASURES
# Maximum name -> (aggregate metric, statistic): rolled up with max over intervals, days and weeks.
MAXIMUM_SOURCES: Final[dict[str, tuple[str, str]]] = {"wait_max_ms": ("tWait", "max")}
assert tuple(MAXIMUM_SOURCES) == KPI_MAXIMA
# The metrics the pipeline requests (`schema.AGGREGATE_METRICS`, in the order of its request bodies) are
# exactly those the measures and maxima read.
assert set(AGGREGATE_METRICS) == {
    metric for metric, _ in (*MEASURE_SOURCES.values(), *MAXIMUM_SOURCES.values())
}

# Key columns of one row of the interval grid, and of one queue x channel (the grid without its intervals).
GRID_KEYS: Final[tuple[str, ...]] = (
    "local_date",
    "queue_id",
    "media_type",
    "direction",
    "interval_start",
    "interval_end",
)
GRID_SCHEMA: Final = pl.Schema({name: INTERVAL_KPIS[name] for name in GRID_KEYS})
CHANNEL_KEYS: Final[tuple[str, ...]] = ("queue_id", "media_type", "direction")
_PIVOT_KEYS: Final[tuple[str, ...]] = ("local_date", *CHANNEL_KEYS, "interval_start")


def complete_group() -> pl.Expr:
    """True for raw rows of a complete group: every key of `CHANNEL_KEYS` known. A partial group (a key the
    answer left out, stored as null) is kept in the raw table and never merged into a channel's rows."""
    return pl.all_horizontal(pl.col(key).is_not_null() for key in CHANNEL_KEYS)


@dataclass(frozen=True)
class Ratio:
    """A KPI ratio: numerator measure / denominator measure / divisor, undefined for some media types."""

    numerator: str
    denominator: str
    divisor: float = 1.0
    undefined_for: tuple[str, ...] = ()


# Ratio name -> its rule. Each average divides a sum by the count of its own metric, as Genesys's views do
# (Avg Talk, Avg Hold and Avg ACW divide by the interactions that had talk, hold or after-call work, not by
# handled ones). Abandon rate is undefined (null) for the media types that never count an abandon.
RATIO_SOURCES: Final[dict[str, Ratio]] = {
    "aht_s": Ratio("handle_sum_ms", "handle_count", 1000.0),
    "asa_s": Ratio("answer_sum_ms", "answered", 1000.0),
    "answer_rate": Ratio("answered", "offered"),
    "abandon_rate": Ratio("abandoned", "offered", undefined_for=MEDIA_WITHOUT_ABANDONS),
    "service_level": Ratio("sl_numerator", "sl_denominator"),
    "avg_talk_s": Ratio("talk_sum_ms", "talk_count", 1000.0),
    "avg_hold_s": Ratio("hold_sum_ms", "hold_count", 1000.0),
    "avg_acw_s": Ratio("acw_sum_ms", "acw_count", 1000.0),
    "avg_wait_s": Ratio("wait_sum_ms", "wait_count", 1000.0),
    "avg_abandon_s": Ratio("abandon_sum_ms", "abandoned", 1000.0),
}
assert tuple(RATIO_SOURCES) == KPI_RATIOS


def ratio_exprs() -> list[pl.Expr]:
    """Expressions for every KPI ratio from the measure columns (and `media_type`): null when the denominator
    is 0 or null, or when the ratio is undefined for the row's media type.

    A ratio is never 0 for "no activity" and never NaN or infinite. Negative denominators (data that breaks
    the contract) are divided as they are; the blocking contract checks report them.
    """
    exprs = []
    for name, rule in RATIO_SOURCES.items():
        den = pl.col(rule.denominator)
        value = pl.col(rule.numerator).cast(pl.Float64) / den.cast(pl.Float64)
        if rule.divisor != 1.0:
            value = value / rule.divisor
        defined = den.is_not_null() & (den != 0)
        if rule.undefined_for:
            defined = defined & ~pl.col("media_type").is_in(list(rule.undefined_for))
        exprs.append(pl.when(defined).then(value).otherwise(None).alias(name))
    return exprs


def with_ratios(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every ratio column (re)computed from its measure columns."""
    return frame.with_columns(ratio_exprs())


def is_primary_channel() -> pl.Expr:
    """True for the rows an all-channel total may add up: every media type but the secondary media
    (`genesys.records.SECONDARY_MEDIA_TYPES`), which ride on a conversation counted in its own channel."""
    return ~pl.col("media_type").is_in(list(SECONDARY_MEDIA_TYPES))


def primary_totals(frame: pl.DataFrame, measures: Sequence[str]) -> tuple[dict[str, int], dict[str, float]]:
    """Sums of `measures` over the frame's primary channels (`is_primary_channel`), and each KPI ratio over
    them from summed measures, in one pass over the frame.

    Rows of secondary media (co-browse, screen share, screen monitoring: they ride on a conversation that is
    counted under its own channel) are left out, so an all-channel figure counts each customer once. A ratio
    undefined for a media type leaves that type's rows out of both its sums; a ratio whose summed denominator
    is 0 is left out of the ratios.
    """
    primary = is_primary_channel()
    exprs = [pl.col(name).filter(primary).sum().alias(name) for name in measures]
    for name, rule in RATIO_SOURCES.items():
        rows = (
            primary & ~pl.col("media_type").is_in(list(rule.undefined_for)) if rule.undefined_for else primary
        )
        exprs.append(pl.col(rule.numerator).filter(rows).sum().alias(f"{name}/numerator"))
        exprs.append(pl.col(rule.denominator).filter(rows).sum().alias(f"{name}/denominator"))
    sums = frame.select(exprs).row(0, named=True)
    ratios: dict[str, float] = {}
    for name, rule in RATIO_SOURCES.items():
        denominator = sums[f"{name}/denominator"]
        if denominator:
            ratios[name] = float(sums[f"{name}/numerator"]) / float(denominator) / rule.divisor
    return {name: int(sums[name] or 0) for name in measures}, ratios


def sum_or_null(column: str) -> pl.Expr:
    """Sum of a measure over a group; null only when every value in the group is null (nothing known)."""
    col = pl.col(column)
    return pl.when(col.is_not_null().any()).then(col.sum()).otherwise(None).cast(pl.Int64).alias(column)


def rollup_exprs() -> list[pl.Expr]:
    """Aggregations that roll intervals up into days and days into weeks: every measure summed
    (`sum_or_null`), every maximum the largest known value (null when none is known)."""
    return [
        *[sum_or_null(name) for name in KPI_MEASURES],
        *[pl.col(name).max().cast(pl.Int64).alias(name) for name in KPI_MAXIMA],
    ]


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


def window_days(days: Sequence[date], window_days: int) -> list[date]:
    """The days before `days` (consecutive local days) that their trailing channel windows reach."""
    first = min(days)
    return [first - timedelta(days=back) for back in range(window_days - 1, 0, -1)]


def channels_by_day(frames: Iterable[pl.DataFrame | pl.LazyFrame]) -> pl.DataFrame:
    """The distinct local_date + `CHANNEL_KEYS` of raw rows of complete groups: which channels had traffic on
    which day (the input of `active_pairs`), small enough to carry across a range run's batches."""
    parts = [frame.lazy().filter(complete_group()).select("local_date", *CHANNEL_KEYS) for frame in frames]
    if not parts:
        return pl.DataFrame(schema={"local_date": pl.Date, **dict.fromkeys(CHANNEL_KEYS, pl.String)})
    return pl.concat(parts).unique().collect()


def active_pairs(raw: pl.DataFrame | pl.LazyFrame, days: Sequence[date], window_days: int) -> pl.DataFrame:
    """The queue x media type x direction of each day's grid: those with a raw row on a day of its trailing
    window (the day and the `window_days - 1` before it). Columns local_date + `CHANNEL_KEYS`, sorted.

    `raw` holds the raw rows (at least `CHANNEL_KEYS` and `local_date`) of every stored day the windows touch.
    """
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, got {window_days}.")
    seen = channels_by_day([raw])
    targets = pl.DataFrame({"target": sorted(set(days))}, schema={"target": pl.Date})
    return (
        targets.join(seen, how="cross")
        .filter(
            (pl.col("local_date") <= pl.col("target"))
            & (pl.col("local_date") > pl.col("target") - pl.duration(days=window_days))
        )
        .select(pl.col("target").alias("local_date"), *CHANNEL_KEYS)
        .unique()
        .sort("local_date", *CHANNEL_KEYS)
    )


def expected_grid(
    pairs: pl.DataFrame, days: Sequence[date], timezone: str, interval_minutes: int
) -> pl.DataFrame:
    """The rows the interval KPI table must have for the given local days (columns `GRID_KEYS`).

    One row per local_date x queue x media type x direction of `pairs` (`active_pairs`) x every local interval
    of that day. Sorted by local_date, queue_id, media_type, direction, interval_start.
    """
    intervals = day_intervals(days, timezone, interval_minutes)
    return (
        pairs.select("local_date", *CHANNEL_KEYS)
        .unique()
        .sort("local_date", *CHANNEL_KEYS)
        .join(
            intervals.sort("local_date", "interval_start"),
            on="local_date",
            how="inner",
            maintain_order="left_right",
        )
        .select(GRID_KEYS)
    )


def pivot_measures(raw: pl.DataFrame) -> pl.DataFrame:
    """Raw long metric rows -> one row per local_date x queue x media x interval with every measure.

    A measure whose metric has no row in the interval is 0; a maximum whose metric has no row is null.
    Duplicate metric rows (which the blocking raw checks reject) are added together. Rows of partial groups
    (a grouping key null, `flatten.PARTIAL_GROUP`) must be filtered out before.

    The raw table holds each interval's metric rows next to each other, as `flatten` reads them from an
    answer's entries; then each measure is placed straight into its interval's row (`_pivot_entries`),
    about a third of the work of grouping every row. Rows laid out otherwise are grouped (`_pivot_grouped`).
    """
    return _pivot_entries(raw) if raw.height else _pivot_grouped(raw)


def _pivot_grouped(raw: pl.DataFrame) -> pl.DataFrame:
    picked = [
        pl.when(pl.col("metric") == metric).then(pl.col(stat)).otherwise(0).alias(name)
        for name, (metric, stat) in MEASURE_SOURCES.items()
    ]
    maxima = [
        pl.when(pl.col("metric") == metric).then(pl.col(stat)).otherwise(None).alias(name)
        for name, (metric, stat) in MAXIMUM_SOURCES.items()
    ]
    return (
        raw.lazy()
        .select(*_PIVOT_KEYS, pl.col("interval_end"), *picked, *maxima)
        .group_by(_PIVOT_KEYS)
        .agg(
            pl.col("interval_end").first(),
            *[pl.col(name).sum().cast(pl.Int64) for name in KPI_MEASURES],
            *[pl.col(name).max().cast(pl.Int64) for name in KPI_MAXIMA],
        )
        .collect()
    )


def _pivot_entries(raw: pl.DataFrame) -> pl.DataFrame:
    """`pivot_measures` of rows whose intervals each form one run of consecutive rows: a new interval starts
    where a key changes, and each measure is scattered into its interval's row. Falls back to grouping when
    an interval's rows are not consecutive or a metric repeats within one."""
    starts = raw.select(
        pl.any_horizontal([pl.col(key).ne_missing(pl.col(key).shift()) for key in _PIVOT_KEYS]).fill_null(
            True
        )
    ).to_series()
    entry = (starts.cast(pl.UInt32).cum_sum() - 1).alias("__entry")
    heads = raw.filter(starts).select(*_PIVOT_KEYS, "interval_end")
    if heads.select(pl.struct(_PIVOT_KEYS).is_duplicated().any()).item():
        return _pivot_grouped(raw)  # an interval's rows are split up
    stats = {stat for _, stat in (*MEASURE_SOURCES.values(), *MAXIMUM_SOURCES.values())}
    by_metric = raw.select(entry, "metric", *sorted(stats)).partition_by("metric", as_dict=True)
    if any(bool((part["__entry"].diff() == 0).any()) for part in by_metric.values()):
        return _pivot_grouped(raw)  # a metric twice in one interval: add them up the grouped way
    rows = heads.height
    columns = []
    for name, (metric, stat) in (*MEASURE_SOURCES.items(), *MAXIMUM_SOURCES.items()):
        is_maximum = name in MAXIMUM_SOURCES
        column = pl.repeat(None if is_maximum else 0, rows, dtype=pl.Int64, eager=True).alias(name)
        part = by_metric.get((metric,))
        if part is not None:
            values = part[stat].cast(pl.Int64)
            column = column.scatter(part["__entry"], values if is_maximum else values.fill_null(0))
        columns.append(column)
    return heads.with_columns(columns)


def interval_kpis(
    raw: pl.DataFrame,
    pairs: pl.DataFrame,
    days: Sequence[date],
    timezone: str,
    interval_minutes: int,
) -> pl.DataFrame:
    """The interval KPI table (`schema.INTERVAL_KPIS`) of the given local days from raw aggregate rows.

    `raw` is a `RAW_AGGREGATES` frame; rows of other local dates and rows of partial groups are ignored. `pairs` is the days' channels
    (`active_pairs`, which include every channel with raw rows on the day itself). The result covers the
    expected grid, with measures 0 where the API returned nothing and ratios null where their denominator is
    0. Answered + abandoned may exceed offered in an interval (metrics land in the bucket of their own event);
    that is kept as is. Raw rows off the day's interval grid (which `flatten` never produces) are kept as
    extra rows. Sorted by local_date, queue_id, media_type, direction, interval_start.
    """
    day_list = sorted(set(days))
    measures = pivot_measures(raw.filter(pl.col("local_date").is_in(day_list) & complete_group()))
    all_pairs = pl.concat(
        [pairs.select("local_date", *CHANNEL_KEYS), measures.select("local_date", *CHANNEL_KEYS)]
    ).unique()
    grid = expected_grid(all_pairs, day_list, timezone, interval_minutes)
    frame = grid.join(
        measures.drop("interval_end").with_columns(__joined=pl.lit(True)),
        on=list(_PIVOT_KEYS),
        how="left",
        maintain_order="left",
    )
    # Grid rows are unique, so every measured interval found its row unless fewer joined than were measured.
    if frame["__joined"].count() < measures.height:
        off_grid = measures.join(grid, on=list(_PIVOT_KEYS), how="anti")
        frame = pl.concat([frame.drop("__joined"), off_grid.select(frame.drop("__joined").columns)]).sort(
            "local_date", *CHANNEL_KEYS, "interval_start"
        )
    frame = frame.with_columns(pl.col(name).fill_null(0) for name in KPI_MEASURES).with_columns(ratio_exprs())
    return frame.select(pl.col(name).cast(dtype) for name, dtype in INTERVAL_KPIS.items()).match_to_schema(
        INTERVAL_KPIS
    )
