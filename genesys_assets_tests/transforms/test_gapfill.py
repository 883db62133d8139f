"""Daily table with gaps filled: observed days, linear / carried / none estimates, DST wall-clock matching."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from genesys_assets import localtime
from genesys_assets.schema import DAILY_KPIS, INTERVAL_KPIS, KPI_MEASURES, KPI_RATIOS
from genesys_assets.transforms.gapfill import fill_days, is_provisional
from genesys_assets_tests.frames import BERLIN, NY, Channel, kpi_day

LATE = datetime(2027, 1, 1, tzinfo=UTC)  # long after every test day: nothing provisional


def wall_value(tz: str) -> pl.Expr:
    """Local wall time as HHMM, plus 10000 on the second pass through a repeated hour."""
    local = pl.col("interval_start").dt.convert_time_zone(tz)
    hhmm = local.dt.hour().cast(pl.Int64) * 100 + local.dt.minute().cast(pl.Int64)
    offset = local.dt.base_utc_offset() + local.dt.dst_offset()
    second_pass = offset < offset.max().over("queue_id", "local_date", hhmm)
    return hhmm + pl.when(second_pass).then(10000).otherwise(0)


def fill(
    window: dict[date, pl.DataFrame | None],
    day: date,
    tz: str = NY,
    now: datetime = LATE,
    lookback_days: int = 3,
) -> pl.DataFrame:
    out = fill_days(window, [day], timezone=tz, interval_minutes=30, now=now, lookback_days=lookback_days)[
        day
    ]
    assert out.schema == DAILY_KPIS
    return out


def day_of(
    day: date, offered: int | pl.Expr, tz: str = NY, channels: tuple[Channel, ...] = (("q1", "voice"),)
) -> pl.DataFrame:
    return kpi_day(day, offered, tz, channels)


def at_wall(frame: pl.DataFrame, tz: str, hhmm: str) -> pl.DataFrame:
    local = pl.col("interval_start").dt.convert_time_zone(tz).dt.strftime("%H:%M")
    return frame.filter(local == hhmm).sort("interval_start")


D = date(2026, 6, 10)


def test_observed_day_is_exact() -> None:
    own = day_of(D, wall_value(NY))
    out = fill({D: own, D - timedelta(days=1): day_of(D - timedelta(days=1), 99)}, D)
    assert out.height == 48
    assert out.select(INTERVAL_KPIS.names()).equals(own.sort("queue_id", "media_type", "interval_start"))
    assert set(out["fill_method"]) == {"observed"}
    assert not out["is_interpolated"].any()


def test_observed_day_without_rows_is_zero_activity_not_a_gap() -> None:
    # An observed partition holds its channels' full grid; without any channel it has no rows, and is
    # still observed: nothing is estimated for it.
    empty = pl.DataFrame(schema=INTERVAL_KPIS)
    out = fill({D: empty, D - timedelta(days=1): day_of(D - timedelta(days=1), 50)}, D)
    assert out.height == 0
    quiet = day_of(D, 0)  # a channel without activity that day: zeros, ratios null, observed
    out = fill({D: quiet, D - timedelta(days=1): day_of(D - timedelta(days=1), 50)}, D)
    assert out.height == 48
    assert out.select(pl.sum_horizontal(KPI_MEASURES).sum()).item() == 0
    assert out.select(pl.min_horizontal(pl.col(KPI_RATIOS).null_count())).item() == 48
    assert set(out["fill_method"]) == {"observed"} and not out["is_interpolated"].any()


def test_gap_day_has_the_channels_of_its_nearest_neighbours() -> None:
    window: dict[date, pl.DataFrame | None] = {
        D - timedelta(days=3): day_of(
            D - timedelta(days=3), 9, channels=(("q9", "email"),)
        ),  # farther: not used
        D - timedelta(days=1): day_of(D - timedelta(days=1), 2, channels=(("q1", "voice"),)),
        D + timedelta(days=1): day_of(
            D + timedelta(days=1), 2, channels=(("q1", "voice"), ("q1", "voice", "outbound"))
        ),
    }
    out = fill(window, D)
    channels = out.group_by("queue_id", "media_type", "direction").len().sort("direction")
    assert channels.rows() == [("q1", "voice", "inbound", 48), ("q1", "voice", "outbound", 48)]
    assert fill({}, D).height == 0  # no observed day near: nothing to lay out or estimate


def test_linear_estimate_between_nearest_observed_days() -> None:
    window: dict[date, pl.DataFrame | None] = {
        D - timedelta(days=2): day_of(D - timedelta(days=2), 1000),  # farther: not used
        D - timedelta(days=1): day_of(D - timedelta(days=1), 10),
        D + timedelta(days=1): None,  # gap
        D + timedelta(days=2): day_of(D + timedelta(days=2), 40),
    }
    out = fill(window, D)
    assert out.height == 48
    assert set(out["fill_method"]) == {"linear"} and out["is_interpolated"].all()
    row = out.row(0, named=True)
    assert row["offered"] == 20  # 10 + (40 - 10) * 1/3
    assert row["answered"] == 10  # 5 + (20 - 5) * 1/3
    assert row["handle_sum_ms"] == 3_000_000
    # ratios come from the estimated measures
    assert row["answer_rate"] == pytest.approx(10 / 20)
    assert row["aht_s"] == pytest.approx(3_000_000 / 10 / 1000)
    # the second gap day sits two thirds of the way
    assert fill(window, D + timedelta(days=1))["offered"].unique().to_list() == [30]


def test_linear_day_total_is_rounded_once_and_spread_by_largest_remainder() -> None:
    window = {
        D - timedelta(days=1): day_of(D - timedelta(days=1), 1),
        D + timedelta(days=1): day_of(D + timedelta(days=1), 2),
    }
    out = fill(window, D)
    # 48 intervals of 1.5: the day gets 72 (not 96, as rounding each interval up would give); ties in the
    # fractional parts go to the earlier intervals, so the first 24 get 2 and the rest 1.
    assert out["offered"].sum() == 72
    assert out["offered"].to_list() == [2] * 24 + [1] * 24
    flipped = {
        D - timedelta(days=1): day_of(D - timedelta(days=1), 2),
        D + timedelta(days=1): day_of(D + timedelta(days=1), 1),
    }
    assert fill(flipped, D)["offered"].to_list() == [2] * 24 + [1] * 24


def at_local(hhmm: str) -> pl.Expr:
    """1 in the interval starting at that local wall time, 0 elsewhere."""
    local = pl.col("interval_start").dt.convert_time_zone(NY).dt.strftime("%H:%M")
    return (local == hhmm).cast(pl.Int64)


def test_sparse_neighbours_do_not_become_volume() -> None:
    # Two calls at 09:00 the day before, two at 15:00 the day after: the estimate is two calls, one in
    # each of those intervals, where rounding each interval up would have made four.
    window = {
        D - timedelta(days=1): day_of(D - timedelta(days=1), at_local("09:00") * 2),
        D + timedelta(days=1): day_of(D + timedelta(days=1), at_local("15:00") * 2),
    }
    out = fill(window, D)
    assert out["offered"].sum() == 2
    assert out.filter(pl.col("offered") > 0)["interval_start"].dt.convert_time_zone(NY).dt.strftime(
        "%H:%M"
    ).to_list() == ["09:00", "15:00"]
    # Half a call in all rounds upward once, in one interval.
    half = {
        D - timedelta(days=1): day_of(D - timedelta(days=1), 0),
        D + timedelta(days=1): day_of(D + timedelta(days=1), at_local("10:00")),
    }
    assert fill(half, D)["offered"].sum() == 1


def test_service_level_numerator_keeps_within_its_denominator() -> None:
    # Neighbours 2 days before and 3 after, so the estimate is 0.6 x before + 0.4 x after. The first
    # three intervals estimate the numerator at 0.4, 0.4, 0 and the denominator at 0.4, 0.4, 4.6: the
    # day needs one numerator unit (0.8) and one denominator unit above its floors (5.4 -> 5). By largest
    # remainder alone the denominator's unit goes to the third interval and the numerator's to the first,
    # which would be 1 answered within target out of 0.
    def day_frame(day: date, numerators: list[int], denominators: list[int]) -> pl.DataFrame:
        rest = 48 - len(numerators)
        return day_of(day, 0).with_columns(
            sl_numerator=pl.Series([*numerators, *[0] * rest], dtype=pl.Int64),
            sl_denominator=pl.Series([*denominators, *[0] * rest], dtype=pl.Int64),
        )

    before, after = D - timedelta(days=2), D + timedelta(days=3)
    window = {before: day_frame(before, [0, 0, 0], [0, 0, 5]), after: day_frame(after, [1, 1, 0], [1, 1, 4])}
    out = fill(window, D)
    assert out["sl_numerator"].sum() == 1
    assert out["sl_denominator"].sum() == 5
    assert (out["sl_numerator"] <= out["sl_denominator"]).all()
    first = out.head(3)
    assert first["sl_numerator"].to_list() == [1, 0, 0]
    assert first["sl_denominator"].to_list() == [1, 0, 4]


def test_carried_forward_backward_and_none() -> None:
    before = {D - timedelta(days=3): day_of(D - timedelta(days=3), 12)}
    after = {D + timedelta(days=2): day_of(D + timedelta(days=2), 8)}
    forward = fill(before, D)
    assert set(forward["fill_method"]) == {"carried_forward"} and forward["offered"].unique().to_list() == [
        12
    ]
    backward = fill(after, D)
    assert set(backward["fill_method"]) == {"carried_backward"} and backward[
        "offered"
    ].unique().to_list() == [8]
    # The only neighbour is a spring-forward day: the wall times it skipped have no value on either side.
    short, day = date(2026, 3, 8), date(2026, 3, 9)
    partial = fill({short: day_of(short, 3), day - timedelta(days=9): None}, day)
    nothing = partial.filter(pl.col("fill_method") == "none")
    assert at_wall(nothing, NY, "02:00").height == 1 and nothing.height == 2  # 02:00 and 02:30
    assert nothing.select(pl.min_horizontal(pl.col([*KPI_MEASURES, *KPI_RATIOS]).null_count())).item() == 2
    assert partial["is_interpolated"].all() and partial["offered"].sum() == 3 * 46


def test_zero_activity_neighbour_pulls_estimate_down() -> None:
    quiet = pl.DataFrame(schema=INTERVAL_KPIS)  # observed, no activity at all
    window = {D - timedelta(days=1): quiet, D + timedelta(days=1): day_of(D + timedelta(days=1), 10)}
    out = fill(window, D)
    assert set(out["fill_method"]) == {"linear"}
    assert out["offered"].unique().to_list() == [5]
    # a queue missing from an observed neighbour had no activity there: zeros, not "carried"
    window = {
        D - timedelta(days=1): day_of(D - timedelta(days=1), 4, channels=(("q1", "voice"),)),
        D + timedelta(days=1): day_of(D + timedelta(days=1), 4, channels=(("q1", "voice"), ("q2", "voice"))),
    }
    out = fill(window, D)
    assert out.group_by("queue_id").agg(pl.col("offered").max()).sort("queue_id").rows() == [
        ("q1", 4),
        ("q2", 2),
    ]
    assert set(out["fill_method"]) == {"linear"}


def test_gap_on_fall_back_day_estimates_both_passes_of_repeated_hour() -> None:
    day = date(2026, 11, 1)
    window = {
        day - timedelta(days=1): day_of(day - timedelta(days=1), wall_value(NY)),
        day + timedelta(days=1): day_of(day + timedelta(days=1), wall_value(NY) + 2),
    }
    out = fill(window, day)
    assert out.height == 50
    assert set(out["fill_method"]) == {"linear"}
    assert at_wall(out, NY, "01:00")["offered"].to_list() == [101, 101]  # (100 + 102) / 2 twice
    assert at_wall(out, NY, "01:30")["offered"].to_list() == [131, 131]
    assert at_wall(out, NY, "23:30")["offered"].to_list() == [2331]


def test_gap_on_spring_forward_day_has_no_skipped_wall_times() -> None:
    day = date(2026, 3, 8)
    window = {
        day - timedelta(days=1): day_of(day - timedelta(days=1), wall_value(NY)),
        day + timedelta(days=1): day_of(day + timedelta(days=1), wall_value(NY)),
    }
    out = fill(window, day)
    assert out.height == 46
    assert at_wall(out, NY, "02:00").height == 0
    assert at_wall(out, NY, "01:30")["offered"].to_list() == [130]
    assert at_wall(out, NY, "03:00")["offered"].to_list() == [300]


def test_spring_forward_neighbour_is_passed_over_for_skipped_times() -> None:
    day = date(2026, 3, 9)
    short = day - timedelta(days=1)  # 2026-03-08: no 02:00 or 02:30
    after = {day + timedelta(days=1): day_of(day + timedelta(days=1), wall_value(NY))}
    out = fill({short: day_of(short, wall_value(NY)), **after}, day)
    assert at_wall(out, NY, "02:00")["fill_method"].to_list() == ["carried_backward"]
    assert at_wall(out, NY, "03:00")["fill_method"].to_list() == ["linear"]
    earlier = day - timedelta(days=2)
    out = fill(
        {earlier: day_of(earlier, wall_value(NY) + 30), short: day_of(short, wall_value(NY)), **after}, day
    )
    two = at_wall(out, NY, "02:00").row(0, named=True)
    assert two["fill_method"] == "linear"
    assert two["offered"] == 210  # 230 two days before, 200 one day after: 230 - 30 / 3


def test_fall_back_neighbour_offers_its_first_pass() -> None:
    day = date(2026, 11, 2)
    long_day = day - timedelta(days=1)
    out = fill({long_day: day_of(long_day, wall_value(NY))}, day)
    assert out.height == 48
    assert at_wall(out, NY, "01:00")["offered"].to_list() == [100]  # not 10100 (second pass)
    assert set(out["fill_method"]) == {"carried_forward"}


def test_berlin_fall_back_gap() -> None:
    day = date(2026, 10, 25)  # 03:00 CEST -> 02:00 CET: 02:00 and 02:30 twice
    window = {day - timedelta(days=1): day_of(day - timedelta(days=1), wall_value(BERLIN), BERLIN)}
    out = fill(window, day, BERLIN)
    assert out.height == 50
    assert at_wall(out, BERLIN, "02:30")["offered"].to_list() == [230, 230]
    assert out["local_date"].unique().to_list() == [day]


def test_provisional_until_its_last_nightly_re_read() -> None:
    # With 3 days of lookback the day is read for the last time on the night three days after it: from
    # that local midnight it is final.
    final_from = localtime.local_midnight(D + timedelta(days=3), NY)
    frame = {D: day_of(D, 1)}
    assert fill(frame, D, now=final_from - timedelta(minutes=1))["is_provisional"].all()
    assert not fill(frame, D, now=final_from)["is_provisional"].any()
    assert is_provisional(D, NY, localtime.day_bounds(D, NY)[1] - timedelta(hours=1), 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_provisional(D, NY, datetime(2026, 6, 10), 7)
