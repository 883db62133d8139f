"""The daily KPI table with gaps filled (`queue_kpis_daily`, `schema.DAILY_KPIS`).

Zero activity is not a gap. A day whose interval KPI partition (`queue_interval_kpis`) was materialized is
*observed*, even with zero rows or all-zero measures: its values are exact. Any other day (its extraction
failed or has not run) is a *gap*: each of its rows is estimated from the nearest observed days around it.
The Dagster layer applies this one rule in the daily asset and in the gap-refill sensor
(`defs.gap_refills.observed_keys`); the functions here take the observed days as given.

Estimation of a gap day, per queue x media type x direction (each grid key but the interval) and measure:

* The gap day's grid is the channels of its nearest observed day before and after it (each observed
  partition lays out the full grid of its channels) x every local interval of the gap day. With no observed
  day within the window it has no rows.
* The neighbours of each row (a local interval of the target day's grid) are the observed days of the
  window before and after the target day; the nearest one on each side that has the row's local wall-clock
  interval is used. An observed day is complete: a queue x media type without rows on it had no activity
  that day (a quiet queue, a queue not created yet, an empty frame), so it offers zeros. Only a wall time
  that does not exist on that local day (skipped by a spring-forward change) makes the day pass over to the
  next one.
* Both sides -> `linear`: the row's exact estimate is `before + (after - before) * (D - d_before) /
  (d_after - d_before)`. Only one side -> `carried_forward` (from before) or `carried_backward` (from
  after): that day's value. Neither side within the window -> `none`: measures null.
* Estimates never invent volume. The day total is the sum of the rows' exact estimates, rounded once (halves
  upward); on days of equal length that is the linear (or carried) estimate of the neighbours' day totals.
  Each row gets its estimate rounded down, and the units the total still needs go to the rows with the
  largest fractional parts (earlier intervals first on ties), so every row lies between its two neighbours'
  values and the rows add up to the total exactly. A measure that is 0 on both sides stays 0.
* The service-level numerator keeps within its denominator in every row: where both round down to the same
  value, the numerator's extra unit goes to a row whose denominator takes one too
  (`_apportion_bounded_pair`).
* Maxima (`wait_max_ms`) are not estimated: they are null on every row of a gap day.
* Ratios are recomputed from the estimated measures; every row of a gap day has `is_interpolated` true.

Wall-clock matching on DST days: a row is identified by its local start time (minutes after local midnight)
and its occurrence (`fold`: 0, or 1 for the second pass through a repeated hour on a fall-back day).

* A spring-forward target day (46 half-hours in America/New_York) has no rows for the skipped wall times,
  so the neighbours' values for those times are not used.
* A fall-back target day (50 half-hours) has each repeated wall time twice; both occurrences are estimated
  from the neighbour's interval at that wall time (the same occurrence when the neighbour has it too).
* A spring-forward neighbour has no interval at the skipped wall times, so for those rows it is passed over
  and the next observed day on that side is used (or the row is carried from the other side). A fall-back
  neighbour offers its first occurrence of a repeated time to a target that has that time once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Final

import polars as pl

from genesys_assets import localtime
from genesys_assets.schema import DAILY_KPIS, INTERVAL_KPIS, KPI_MAXIMA, KPI_MEASURES, UTC_US
from genesys_assets.transforms.kpis import (
    CHANNEL_KEYS,
    GRID_KEYS,
    GRID_SCHEMA,
    expected_grid,
    with_ratios,
)

_MATCH_KEYS: Final[tuple[str, ...]] = (*CHANNEL_KEYS, "wall_minute", "fold")
# The columns an estimate reads from a neighbouring observed day (a gap's neighbours need no more).
NEIGHBOUR_COLUMNS: Final[tuple[str, ...]] = (*CHANNEL_KEYS, "interval_start", *KPI_MEASURES)
_JOIN_KEYS: Final[list[str]] = list(GRID_KEYS)


def is_provisional(day: date, timezone: str, now: datetime, lookback_days: int) -> bool:
    """True while the day's figures may still change here: until local midnight `lookback_days` days after
    the day, the day the daily schedule reads it for the last time (it re-reads the last
    `lookback_days` days every night)."""
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}.")
    return now.astimezone(UTC) < localtime.local_midnight(day + timedelta(days=lookback_days), timezone)


def wall_clock(starts: Iterable[datetime], timezone: str) -> pl.DataFrame:
    """interval_start -> wall_minute (local minutes after midnight) and fold (1 on a repeated wall time)."""
    tz = localtime.zone(timezone)
    unique = sorted(set(starts))
    walls: list[int] = []
    folds: list[int] = []
    for instant in unique:
        local = instant.astimezone(tz)
        walls.append(local.hour * 60 + local.minute)
        folds.append(local.fold)
    return pl.DataFrame(
        {"interval_start": unique, "wall_minute": walls, "fold": folds},
        schema={"interval_start": UTC_US, "wall_minute": pl.Int32, "fold": pl.Int8},
    )


def _with_wall_clock(frame: pl.DataFrame, timezone: str) -> pl.DataFrame:
    table = wall_clock(frame["interval_start"].unique().to_list(), timezone)
    return frame.join(table, on="interval_start", how="left")


def _finish(frame: pl.DataFrame, *, interpolated: bool, provisional: bool) -> pl.DataFrame:
    frame = with_ratios(frame).with_columns(
        is_interpolated=pl.lit(interpolated),
        is_provisional=pl.lit(provisional),
    )
    return (
        frame.select(pl.col(name).cast(dtype) for name, dtype in DAILY_KPIS.items())
        .sort(*CHANNEL_KEYS, "interval_start")
        .match_to_schema(DAILY_KPIS)
    )


def _nearest(neighbours: pl.DataFrame, *, before: bool) -> pl.DataFrame:
    """Per match key, the measures of the nearest neighbour day on one side."""
    side = neighbours.filter(pl.col("offset") < 0) if before else neighbours.filter(pl.col("offset") > 0)
    nearest = pl.col("offset").max() if before else pl.col("offset").min()
    return side.filter(pl.col("offset") == nearest.over(_MATCH_KEYS)).unique(_MATCH_KEYS, keep="first")


def _neighbour_offer(
    other: date,
    frame: pl.DataFrame,
    offset: int,
    pairs: pl.DataFrame,
    repeated: bool,
    timezone: str,
    minutes: int,
) -> pl.DataFrame:
    """What an observed day offers each target pair at each of its own wall-clock slots (absent rows: 0)."""
    slots = wall_clock(localtime.interval_starts(other, timezone, minutes), timezone)
    if repeated:
        # A wall time the neighbour has once is offered to both occurrences of a repeated target time.
        single = slots.filter((pl.col("fold") == 0) & (pl.len().over("wall_minute") == 1))
        slots = pl.concat([slots, single.with_columns(fold=pl.lit(1, dtype=pl.Int8))])
    values = (
        frame.select(NEIGHBOUR_COLUMNS)
        .cast({m: pl.Int64 for m in KPI_MEASURES})
        .with_columns(__present=pl.lit(True))
    )
    # An absent row offers zeros; a present row offers its values as stored (null where a partition written
    # before a measure existed does not know it, so that measure's estimate stays unknown).
    present = pl.col("__present").fill_null(False)
    return (
        pairs.join(slots, how="cross")
        .join(values, on=[*CHANNEL_KEYS, "interval_start"], how="left")
        .select(
            pl.lit(offset, dtype=pl.Int32).alias("offset"),
            *_MATCH_KEYS,
            *[pl.when(present).then(pl.col(m)).otherwise(0).alias(m) for m in KPI_MEASURES],
        )
    )


# Grid keys of one queue x media type on one day: the level at which estimated totals are rounded.
_DAY_KEYS: Final[list[str]] = [key for key in GRID_KEYS if key not in ("interval_start", "interval_end")]
# Measure pairs that must keep numerator <= denominator in every estimated interval.
_BOUNDED_PAIRS: Final[tuple[tuple[str, str], ...]] = (("sl_numerator", "sl_denominator"),)


def _common_denominator(joined: pl.DataFrame) -> int:
    """The least common multiple of the rows' neighbour spans (days between the two neighbours used)."""
    spans = joined.select((pl.col("after_offset") - pl.col("before_offset")).drop_nulls().unique())
    return math.lcm(1, *(int(span) for span in spans.to_series().to_list()))


def _ranked(flag: pl.Expr, key: pl.Expr, *, descending: bool) -> pl.Expr:
    """1-based rank of `key` among the rows of one day group where `flag` holds (null elsewhere).

    Ties go to the earlier interval: the frame is sorted by interval start within each group, and an
    ordinal rank keeps the order of equal values.
    """
    return pl.when(flag).then(key).rank("ordinal", descending=descending).over(_DAY_KEYS)


def _extra_units(measure: str, scale: int) -> pl.Expr:
    """Units the day group of `measure` needs above the sum of its floors: round(sum / scale) - sum(floors)."""
    total = pl.col(f"{measure}__n").sum().over(_DAY_KEYS)
    floors = pl.col(f"{measure}__f").sum().over(_DAY_KEYS)
    return (2 * total + scale) // (2 * scale) - floors


def _largest_remainders(measure: str, eligible: pl.Expr, units: pl.Expr) -> pl.Expr:
    """True for the `units` rows of each day group with the largest fractional parts among `eligible` ones."""
    remainder = pl.col(f"{measure}__r")
    rank = _ranked(eligible & (remainder > 0), remainder, descending=True)
    return (rank <= units).fill_null(False)


def _apportioned_estimates(joined: pl.DataFrame, measures: list[str]) -> pl.DataFrame:
    """Integer estimates of every measure, consistent at interval and day level (see the module docstring).

    `joined` has one row per target interval with `before_offset`/`after_offset` (days to the neighbour used
    on each side, null when none) and each measure's neighbour values as `<measure>__b`/`<measure>__a`, sorted
    by the grid keys. The result adds one Int64 column per measure (null where neither side has a value).
    """
    scale = _common_denominator(joined)
    largest = max(
        (joined.select(pl.max_horizontal(pl.col(f"{m}__b").max(), pl.col(f"{m}__a").max())).item() or 0)
        for m in measures
    )
    if 2 * (largest + 1) * scale * max(joined.height, 1) >= 2**62:
        raise ValueError(
            f"Gap estimates would overflow 64-bit integers (largest value {largest}, {scale} parts per unit); "
            "shorten GENESYS_GAP_WINDOW_DAYS."
        )
    before_offset = pl.col("before_offset").cast(pl.Int64)
    after_offset = pl.col("after_offset").cast(pl.Int64)
    has_before, has_after = before_offset.is_not_null(), after_offset.is_not_null()
    # The linear weight of each side, in units of 1/scale: the other side's distance over the span.
    parts = pl.lit(scale, dtype=pl.Int64) // (after_offset - before_offset)
    weight_before, weight_after = after_offset * parts, -before_offset * parts

    def scaled(measure: str) -> pl.Expr:
        b, a = pl.col(f"{measure}__b"), pl.col(f"{measure}__a")
        return (
            pl.when(has_before & has_after)
            .then(b * weight_before + a * weight_after)
            .when(has_before)
            .then(b * scale)
            .when(has_after)
            .then(a * scale)
            .otherwise(None)
            .cast(pl.Int64)
            .alias(f"{measure}__n")
        )

    frame = joined.with_columns(scaled(m) for m in measures)
    frame = frame.with_columns((pl.col(f"{m}__n") // scale).alias(f"{m}__f") for m in measures)
    frame = frame.with_columns(
        *[(pl.col(f"{m}__n") - pl.col(f"{m}__f") * scale).alias(f"{m}__r") for m in measures],
        *[_extra_units(m, scale).alias(f"{m}__k") for m in measures],
    )

    bounded = {name for pair in _BOUNDED_PAIRS for name in pair}
    frame = frame.with_columns(
        (pl.col(f"{m}__f") + _largest_remainders(m, pl.lit(True), pl.col(f"{m}__k")).cast(pl.Int64)).alias(m)
        for m in measures
        if m not in bounded
    )
    for numerator, denominator in _BOUNDED_PAIRS:
        frame = _apportion_bounded_pair(frame, numerator, denominator)
    return frame.select(*joined.columns, *measures)


def _apportion_bounded_pair(frame: pl.DataFrame, numerator: str, denominator: str) -> pl.DataFrame:
    """Apportion a numerator and its denominator so that numerator <= denominator in every interval.

    Apportioned independently, an interval where both floors are equal could give the numerator its extra
    unit and not the denominator. So the numerator's units go first by largest remainder; where more of them
    land on such *coupled* intervals than the denominator has units, the lowest-ranked ones move to the
    best-ranked free intervals (whose denominator floor is already higher). The denominator then gives a
    unit to every coupled interval that took one, and the rest by largest remainder. Enough free intervals
    always exist: the denominator's extra units are at least the numerator's minus its free intervals.
    """
    n_floor, d_floor = pl.col(f"{numerator}__f"), pl.col(f"{denominator}__f")
    n_rem = pl.col(f"{numerator}__r")
    n_units, d_units = pl.col(f"{numerator}__k"), pl.col(f"{denominator}__k")
    coupled = n_floor == d_floor
    frame = frame.with_columns(
        __rank=_ranked(n_rem > 0, n_rem, descending=True),
        __chosen=_largest_remainders(numerator, pl.lit(True), n_units),
    )
    chosen, rank = pl.col("__chosen"), pl.col("__rank")
    excess = pl.max_horizontal((chosen & coupled).sum().over(_DAY_KEYS) - d_units, pl.lit(0))
    dropped = chosen & coupled & (_ranked(chosen & coupled, rank, descending=True) <= excess)
    free = (n_rem > 0) & ~coupled & ~chosen
    added = free & (_ranked(free, rank, descending=False) <= excess)
    frame = frame.with_columns(__chosen=(chosen & ~dropped.fill_null(False)) | added.fill_null(False))
    forced = pl.col("__chosen") & coupled
    rest = d_units - forced.sum().over(_DAY_KEYS)
    return frame.with_columns(
        (n_floor + pl.col("__chosen").cast(pl.Int64)).alias(numerator),
        (d_floor + (forced | _largest_remainders(denominator, ~forced, rest)).cast(pl.Int64)).alias(
            denominator
        ),
    ).drop("__rank", "__chosen")


def _gap_grid(window: Mapping[date, pl.DataFrame], day: date, timezone: str, minutes: int) -> pl.DataFrame:
    """The grid of a gap day: the channels of its nearest observed day before and after (each a full grid of
    its own channels) x every local interval of the gap day. Empty when no observed day is near."""
    nearest = [
        max((d for d in window if d < day), default=None),
        min((d for d in window if d > day), default=None),
    ]
    frames = [window[d].select(CHANNEL_KEYS) for d in nearest if d is not None]
    if not frames:
        return pl.DataFrame(schema=GRID_SCHEMA)
    pairs = pl.concat(frames).with_columns(local_date=pl.lit(day, dtype=pl.Date))
    return expected_grid(pairs, [day], timezone, minutes)


def _estimate(
    window: Mapping[date, pl.DataFrame],
    day: date,
    timezone: str,
    minutes: int,
    provisional: bool,
) -> pl.DataFrame:
    """The estimated rows of gap day `day` from the observed days of `window` (see the module docstring)."""
    grid = _gap_grid(window, day, timezone, minutes)
    target = _with_wall_clock(grid.select(_JOIN_KEYS), timezone)
    pairs = grid.select(CHANNEL_KEYS).unique()
    repeated = bool(target.filter(pl.col("fold") == 1).height)
    parts = [
        _neighbour_offer(other, frame, (other - day).days, pairs, repeated, timezone, minutes)
        for other, frame in sorted(window.items(), key=lambda item: item[0])
    ]
    neighbours = (
        pl.concat(parts, how="vertical")
        if parts
        else pl.DataFrame(
            schema={
                "offset": pl.Int32,
                **{key: pl.String for key in CHANNEL_KEYS},
                "wall_minute": pl.Int32,
                "fold": pl.Int8,
                **{m: pl.Int64 for m in KPI_MEASURES},
            }
        )
    )
    measures = list(KPI_MEASURES)
    before = _nearest(neighbours, before=True).select(
        *_MATCH_KEYS, pl.col("offset").alias("before_offset"), *[pl.col(m).alias(f"{m}__b") for m in measures]
    )
    after = _nearest(neighbours, before=False).select(
        *_MATCH_KEYS, pl.col("offset").alias("after_offset"), *[pl.col(m).alias(f"{m}__a") for m in measures]
    )
    joined = target.join(before, on=_MATCH_KEYS, how="left").join(after, on=_MATCH_KEYS, how="left")
    method = (
        pl.when(pl.col("before_offset").is_not_null() & pl.col("after_offset").is_not_null())
        .then(pl.lit("linear"))
        .when(pl.col("before_offset").is_not_null())
        .then(pl.lit("carried_forward"))
        .when(pl.col("after_offset").is_not_null())
        .then(pl.lit("carried_backward"))
        .otherwise(pl.lit("none"))
        .alias("fill_method")
    )
    estimated = _apportioned_estimates(joined.sort(_JOIN_KEYS), measures).with_columns(
        method, *[pl.lit(None, dtype=pl.Int64).alias(name) for name in KPI_MAXIMA]
    )
    return _finish(
        estimated.select(*_JOIN_KEYS, *measures, *KPI_MAXIMA, "fill_method"),
        interpolated=True,
        provisional=provisional,
    )


def _observed(
    window: Mapping[date, pl.DataFrame], days: Sequence[date], provisional: Sequence[date]
) -> dict[date, pl.DataFrame]:
    """`DAILY_KPIS` frames of the observed days: their exact rows, `fill_method` "observed".

    Each observed partition is the full grid of its channels as `queue_interval_kpis` wrote it, sorted by
    channel and interval, so the day is its rows plus the three daily columns, with no sort. Its ratios are
    computed again from its measures (a partition stored before a ratio existed holds that ratio null).
    """
    return {
        day: with_ratios(
            window[day].select(pl.col(name).cast(dtype) for name, dtype in INTERVAL_KPIS.items())
        ).with_columns(
            is_interpolated=pl.lit(False),
            fill_method=pl.lit("observed"),
            is_provisional=pl.lit(day in provisional),
        )
        for day in days
    }


def fill_days(
    window: Mapping[date, pl.DataFrame | None],
    days: Sequence[date],
    *,
    timezone: str,
    interval_minutes: int,
    now: datetime,
    lookback_days: int,
    window_days: int | None = None,
) -> dict[date, pl.DataFrame]:
    """The `DAILY_KPIS` rows of each of `days`, observed or estimated, sorted by channel and interval.

    `window` maps local days to their `INTERVAL_KPIS` frame (`queue_interval_kpis`, which lays out each
    day's full grid); a day that is absent or maps to None is a gap, a day mapped to a frame (even an empty
    one) is observed. An observed day is copied exactly, `fill_method` "observed". A gap is estimated (see
    the module docstring) from the observed days at most `window_days` away (any day of `window` when None).
    `is_provisional` is `is_provisional(day, ..., lookback_days)` for every row.
    """
    if interval_minutes <= 0:
        raise ValueError(f"interval_minutes must be positive, got {interval_minutes}.")
    observed = {day: frame for day, frame in window.items() if frame is not None}
    provisional = [day for day in days if is_provisional(day, timezone, now, lookback_days)]
    filled = _observed(observed, [day for day in days if day in observed], provisional)
    for day in days:
        if day not in filled:
            near = {
                other: frame
                for other, frame in observed.items()
                if window_days is None or abs((other - day).days) <= window_days
            }
            filled[day] = _estimate(near, day, timezone, interval_minutes, day in provisional)
    return {day: filled[day] for day in days}
