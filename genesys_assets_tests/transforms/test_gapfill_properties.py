"""Property tests of gap estimates: consistent at interval and day level for many random neighbour pairs.

Each example draws a gap day (an ordinary day, a spring-forward or fall-back day, or a day next to one),
the neighbours used on each side (1-3 days away, or none), an optional farther observed day per side,
sparse or dense values with odd and even differences, and several queues and media types. The expected
values come from an independent oracle written here: for each target interval it finds the nearest
neighbour day on each side holding that local wall time (the same pass through a repeated hour where
the neighbour has both), and takes the exact rational linear estimate. The estimate must then hold:

* each interval lies between its two neighbours' values (or equals the one side it was carried from);
* per queue x media type x direction and measure, the day total is the sum of the exact estimates rounded once
  (halves upward); on days of equal length with one pair of neighbours, that is the linear estimate of
  the neighbours' day totals;
* 0 on both sides stays 0, nothing is negative, the service-level numerator stays within its
  denominator, ratios are recomputed from the estimated measures, and a rerun is identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genesys_assets import localtime
from genesys_assets.schema import INTERVAL_KPIS, KPI_MEASURES
from genesys_assets.transforms.gapfill import fill_days
from genesys_assets.transforms.kpis import expected_grid, with_ratios
from genesys_assets_tests.frames import NY, pairs

LATE = datetime(2027, 1, 1, tzinfo=ZoneInfo("UTC"))
# Gap days: ordinary, spring-forward (46 half-hours), fall-back (50), and the days after each (whose
# neighbour before is the short or long day).
TARGETS = (date(2026, 6, 10), date(2026, 3, 8), date(2026, 11, 1), date(2026, 3, 9), date(2026, 11, 2))
CHANNELS = (("q1", "voice", "inbound"), ("q1", "chat", "inbound"), ("q2", "voice", "outbound"))


def observed_day(day: date, rng: np.random.Generator, density: float, scale: int) -> pl.DataFrame:
    """A random INTERVAL_KPIS day: each measure 0 with probability 1 - density, else 1..scale."""
    grid = expected_grid(pairs(day, *CHANNELS), [day], NY, 30)
    n = grid.height

    def draw() -> np.ndarray:
        return np.where(rng.random(n) < density, rng.integers(1, scale + 1, n), 0).astype(np.int64)

    values = {measure: draw() for measure in KPI_MEASURES}
    values["sl_numerator"] = np.minimum(values["sl_numerator"], values["sl_denominator"])
    frame = grid.with_columns(pl.Series(name, column) for name, column in values.items()).with_columns(
        wait_max_ms=pl.when(pl.col("wait_count") > 0).then(pl.col("wait_sum_ms")).otherwise(None)
    )
    return with_ratios(frame).select(pl.col(name).cast(dtype) for name, dtype in INTERVAL_KPIS.items())


def wall_slots(day: date) -> dict[tuple[int, int], datetime]:
    """(local minutes after midnight, fold) -> interval start, for every interval of a local day."""
    tz = ZoneInfo(NY)
    slots = {}
    for start in localtime.interval_starts(day, NY, 30):
        local = start.astimezone(tz)
        slots[(local.hour * 60 + local.minute, local.fold)] = start
    return slots


def neighbour_start(slots: dict[tuple[int, int], datetime], wall: int, fold: int) -> datetime | None:
    """The neighbour's interval for a target wall time: same pass, else its only pass, else none."""
    return slots.get((wall, fold)) or (slots.get((wall, 0)) if (wall, 1) not in slots else None)


@dataclass(frozen=True)
class Expected:
    before: int | None  # the before side's value, None when no observed day on that side has the slot
    after: int | None
    exact: Fraction | None  # the exact estimate, None when neither side has it


Found = tuple[date, datetime]  # the neighbour day used and its interval start


def nearest_with_slot(
    days: list[date], slots_of: dict[date, dict[tuple[int, int], datetime]], wall: int, fold: int
) -> Found | None:
    """The first of `days` (nearest first) that has the wall time, with its interval start."""
    for day in days:
        start = neighbour_start(slots_of[day], wall, fold)
        if start is not None:
            return day, start
    return None


def oracle(
    window: dict[date, pl.DataFrame], target: date
) -> dict[tuple[str, str, str, datetime, str], Expected]:
    """Expected neighbour values and exact estimate per (queue, media, direction, interval start, measure)."""
    lookups = {
        day: {
            (row["queue_id"], row["media_type"], row["direction"], row["interval_start"]): row
            for row in frame.iter_rows(named=True)
        }
        for day, frame in window.items()
    }
    slots_of = {day: wall_slots(day) for day in window}
    befores = sorted((d for d in window if d < target), reverse=True)
    afters = sorted(d for d in window if d > target)

    def value(found: Found | None, queue: str, media: str, direction: str, measure: str) -> int | None:
        if found is None:
            return None
        row = lookups[found[0]].get((queue, media, direction, found[1]))
        return 0 if row is None else int(row[measure])

    expected: dict[tuple[str, str, str, datetime, str], Expected] = {}
    for (wall, fold), start in wall_slots(target).items():
        before = nearest_with_slot(befores, slots_of, wall, fold)
        after = nearest_with_slot(afters, slots_of, wall, fold)
        for queue, media, direction in CHANNELS:
            for measure in KPI_MEASURES:
                b = value(before, queue, media, direction, measure)
                a = value(after, queue, media, direction, measure)
                if before is not None and after is not None and b is not None and a is not None:
                    d_b, d_a = (before[0] - target).days, (after[0] - target).days
                    exact: Fraction | None = b + Fraction(a - b) * Fraction(-d_b, d_a - d_b)
                else:
                    exact = Fraction(b) if b is not None else Fraction(a) if a is not None else None
                expected[(queue, media, direction, start, measure)] = Expected(b, a, exact)
    return expected


def round_half_up(value: Fraction) -> int:
    return int((2 * value + 1) // 2)


neighbour_offsets = st.tuples(
    st.sampled_from([None, -1, -2, -3]),
    st.sampled_from([None, 1, 2, 3]),
    st.booleans(),  # a farther observed day before
    st.booleans(),  # a farther observed day after
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    target=st.sampled_from(TARGETS),
    offsets=neighbour_offsets,
    density=st.sampled_from([0.03, 0.2, 0.7, 1.0]),
    scale=st.sampled_from([1, 2, 7, 500, 3_600_000]),
    seed=st.integers(0, 2**32 - 1),
)
def test_estimates_lie_between_neighbours_and_add_up(
    target: date, offsets: tuple[int | None, int | None, bool, bool], density: float, scale: int, seed: int
) -> None:
    before, after, farther_before, farther_after = offsets
    rng = np.random.default_rng(seed)
    days: list[int] = []
    if before is not None:
        days += [before] + ([before - 2] if farther_before else [])
    if after is not None:
        days += [after] + ([after + 2] if farther_after else [])
    window = {
        target + timedelta(days=offset): observed_day(target + timedelta(days=offset), rng, density, scale)
        for offset in days
    }

    def estimate() -> pl.DataFrame:
        return fill_days(dict(window), [target], timezone=NY, interval_minutes=30, now=LATE, lookback_days=7)[
            target
        ]

    out = estimate()
    assert out.equals(estimate())  # deterministic: a rerun writes the same bytes
    if not window:
        assert out.height == 0  # no observed day near: no channels to lay out
        return
    assert out.height == len(CHANNELS) * len(wall_slots(target))
    assert out["is_interpolated"].all()
    expected = oracle(window, target)

    for row in out.iter_rows(named=True):
        for measure in KPI_MEASURES:
            want = expected[
                (row["queue_id"], row["media_type"], row["direction"], row["interval_start"], measure)
            ]
            got = row[measure]
            if want.exact is None:
                assert got is None
                continue
            assert got is not None and got >= 0
            known = [v for v in (want.before, want.after) if v is not None]
            assert min(known) <= got <= max(known), (measure, row["interval_start"], want, got)
        if row["sl_numerator"] is not None:
            assert row["sl_numerator"] <= row["sl_denominator"]

    channel = ["queue_id", "media_type", "direction"]
    totals = out.group_by(channel).agg(pl.col(m).sum() for m in KPI_MEASURES)
    exact_totals: dict[tuple[str, str, str, str], Fraction] = {}
    for (queue, media, direction, _start, measure), want in expected.items():
        if want.exact is not None:
            key = (queue, media, direction, measure)
            exact_totals[key] = exact_totals.get(key, Fraction(0)) + want.exact
    for row in totals.iter_rows(named=True):
        for measure in KPI_MEASURES:
            key = (row["queue_id"], row["media_type"], row["direction"], measure)
            if key in exact_totals:
                assert row[measure] == round_half_up(exact_totals[key]), key

    # Days of equal length with one neighbour on each side: the rounded linear estimate of the day totals.
    equal_length = all(len(wall_slots(day)) == len(wall_slots(target)) for day in window)
    if before is not None and after is not None and equal_length:
        b_day, a_day = target + timedelta(days=before), target + timedelta(days=after)
        sums = {
            day: window[day].group_by(channel).agg(pl.col(m).sum() for m in KPI_MEASURES)
            for day in (b_day, a_day)
        }
        weight = Fraction(-before, after - before)
        for row in totals.iter_rows(named=True):
            pair = pl.all_horizontal(pl.col(c) == row[c] for c in channel)
            low_row, high_row = sums[b_day].filter(pair), sums[a_day].filter(pair)
            for measure in KPI_MEASURES:
                low = int(low_row[measure].item()) if low_row.height else 0
                high = int(high_row[measure].item()) if high_row.height else 0
                assert row[measure] == round_half_up(low + (high - low) * weight)
                assert min(low, high) <= row[measure] <= max(low, high)

    recomputed = with_ratios(out)
    for ratio in ("aht_s", "answer_rate", "abandon_rate", "service_level"):
        assert out[ratio].equals(recomputed[ratio])
