"""Weekly sums and the S3 export tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from genesys_assets import localtime
from genesys_assets.schema import (
    DAILY_KPIS,
    EXPORT_DAILY,
    EXPORT_WEEKLY,
    INTERVAL_KPIS,
    KPI_MAXIMA,
    KPI_MEASURES,
    KPI_RATIOS,
    WEEKLY_KPIS,
)
from genesys_assets.transforms.export import export_daily, export_weekly
from genesys_assets.transforms.gapfill import fill_days
from genesys_assets.transforms.kpis import expected_grid, with_ratios
from genesys_assets.transforms.weekly import DAY_ROLLUP, DAY_ROLLUP_COLUMNS, day_rollup, weekly_kpis
from genesys_assets_tests.frames import BERLIN, NY, Channel, directory, kpi_day, pairs

MONDAY = date(2026, 10, 26)  # the week holding the New York fall-back day (Sunday 2026-11-01)
WEEK = localtime.week_days(MONDAY)
VOICE: tuple[Channel, ...] = (("q1", "voice"),)
LATE = datetime(2027, 1, 1, tzinfo=UTC)


def one_busy_interval(day: date, tz: str, channels: tuple[Channel, ...], **measures: int) -> pl.DataFrame:
    """INTERVAL_KPIS of a day where only the first interval of each channel has the given measures."""
    grid = expected_grid(pairs(day, *channels), [day], tz, 30)
    first = pl.col("interval_start") == pl.col("interval_start").min().over(
        "queue_id", "media_type", "direction"
    )
    frame = grid.with_columns(
        *[
            pl.when(first).then(pl.lit(measures.get(m, 0))).otherwise(0).cast(pl.Int64).alias(m)
            for m in KPI_MEASURES
        ],
        *[
            pl.when(first).then(pl.lit(measures.get(m))).otherwise(None).cast(pl.Int64).alias(m)
            for m in KPI_MAXIMA
        ],
    )
    return with_ratios(frame).select(pl.col(n).cast(t) for n, t in INTERVAL_KPIS.items())


def fill(
    window: dict[date, pl.DataFrame | None], days: list[date], tz: str = NY, now: datetime = LATE
) -> pl.DataFrame:
    filled = fill_days(window, days, timezone=tz, interval_minutes=30, now=now, lookback_days=3)
    return pl.concat(filled.values())


def test_weekly_sums_measures_and_recomputes_ratios() -> None:
    window: dict[date, pl.DataFrame | None] = {
        WEEK[0]: one_busy_interval(
            WEEK[0], NY, VOICE, offered=100, answered=90, handle_count=90, handle_sum_ms=90 * 200_000
        ),
        WEEK[1]: one_busy_interval(WEEK[1], NY, VOICE, offered=1, answered=0, abandoned=1),
        WEEK[2]: one_busy_interval(WEEK[2], NY, VOICE),
        WEEK[3]: one_busy_interval(
            WEEK[3], NY, VOICE, offered=9, answered=10, handle_count=10, handle_sum_ms=10 * 100_000
        ),
        WEEK[4]: one_busy_interval(WEEK[4], NY, VOICE),
        WEEK[5]: one_busy_interval(WEEK[5], NY, VOICE),
        WEEK[6]: one_busy_interval(WEEK[6], NY, VOICE, sl_numerator=3, sl_denominator=4),
    }
    daily = fill(window, WEEK)
    weekly = weekly_kpis(daily, MONDAY)
    assert weekly.schema == WEEKLY_KPIS
    row = weekly.row(0, named=True)
    assert (row["offered"], row["answered"], row["abandoned"]) == (110, 100, 1)
    assert row["answer_rate"] == pytest.approx(100 / 110)  # not the mean of daily rates
    assert row["aht_s"] == pytest.approx((90 * 200 + 10 * 100) / 100)
    assert row["service_level"] == pytest.approx(0.75)
    assert (row["days_observed"], row["days_interpolated"], row["week_start"]) == (7, 0, MONDAY)
    assert not row["is_provisional"]


def test_weekly_counts_gap_days_and_nulls() -> None:
    both: tuple[Channel, ...] = (("q1", "voice"), ("q2", "voice"), ("q2", "voice", "outbound"))
    window: dict[date, pl.DataFrame | None] = {
        day: pl.concat([one_busy_interval(day, NY, VOICE, offered=2), one_busy_interval(day, NY, both[1:])])
        for day in WEEK[:5]
    }
    window[WEEK[2]] = None  # gap between observed days: linear
    # WEEK[5] and WEEK[6] absent: carried forward from WEEK[4]
    weekly = weekly_kpis(fill(window, WEEK), MONDAY)
    rows = {(r["queue_id"], r["direction"]): r for r in weekly.iter_rows(named=True)}
    assert rows[("q1", "inbound")]["offered"] == 2 * 7
    assert (rows[("q1", "inbound")]["days_observed"], rows[("q1", "inbound")]["days_interpolated"]) == (4, 3)
    # q2 had no activity on observed days: zeros, ratios null, and its outbound work is its own row
    quiet = rows[("q2", "inbound")]
    assert quiet["offered"] == 0 and quiet["answer_rate"] is None and quiet["aht_s"] is None
    assert quiet["service_level"] is None and rows[("q2", "outbound")]["handle_count"] == 0


def test_weekly_of_unknown_days_is_null_and_provisional_propagates() -> None:
    # A week whose days have no value on either side: null measures, every day interpolated.
    daily = fill({WEEK[0]: one_busy_interval(WEEK[0], NY, VOICE, offered=5)}, WEEK)
    unknown = daily.with_columns(
        *[pl.lit(None, dtype=pl.Int64).alias(m) for m in KPI_MEASURES],
        *[pl.lit(None, dtype=pl.Float64).alias(r) for r in KPI_RATIOS],
        fill_method=pl.lit("none"),
        is_interpolated=pl.lit(True),
    )
    weekly = weekly_kpis(unknown, MONDAY).row(0, named=True)
    assert all(weekly[m] is None for m in KPI_MEASURES)
    assert (weekly["days_observed"], weekly["days_interpolated"]) == (0, 7)
    early = fill(
        {WEEK[0]: one_busy_interval(WEEK[0], NY, VOICE)}, WEEK, now=localtime.day_bounds(WEEK[6], NY)[1]
    )
    assert weekly_kpis(early, MONDAY).row(0, named=True)["is_provisional"]


def test_weekly_rejects_rows_of_other_weeks() -> None:
    daily = fill({WEEK[0]: one_busy_interval(WEEK[0], NY, VOICE)}, WEEK[:1])
    with pytest.raises(ValueError, match="include other dates"):
        weekly_kpis(daily, MONDAY + timedelta(days=7))
    with pytest.raises(ValueError, match="start on Monday"):
        weekly_kpis(daily, MONDAY + timedelta(days=1))


def test_export_daily_local_time_offsets_and_names() -> None:
    day = date(2026, 11, 1)
    interval = one_busy_interval(day, NY, VOICE, offered=3, answered=3)
    deleted = interval.filter(pl.col("interval_start") == pl.col("interval_start").min()).with_columns(
        queue_id=pl.lit("gone")
    )
    daily = fill({day: pl.concat([interval, deleted])}, [day])
    out = export_daily(daily, directory("q1"), NY)
    assert out.schema == EXPORT_DAILY
    assert out.height == 51
    assert out["queue_id"].to_list() == ["gone"] + ["q1"] * 50
    assert out["queue_name"].to_list()[:2] == ["unknown queue gone", "Queue q1"]
    q1 = out.filter(pl.col("queue_id") == "q1")
    assert q1["local_time"].to_list()[:6] == ["00:00", "00:30", "01:00", "01:30", "01:00", "01:30"]
    assert q1["utc_offset"].to_list()[:6] == ["-04:00"] * 4 + ["-05:00"] * 2
    assert q1["utc_offset"].to_list()[-1] == "-05:00"
    assert q1["offered"].to_list()[:2] == [3, 0]
    assert q1["answer_rate"].to_list()[:2] == [1.0, None]
    assert q1["interval_start"].is_sorted()


def test_export_daily_berlin_offsets() -> None:
    day = date(2026, 3, 29)
    daily = fill({day: one_busy_interval(day, BERLIN, VOICE)}, [day], BERLIN)
    out = export_daily(daily, directory("q1"), BERLIN)
    assert out.height == 46
    assert out["local_time"].to_list()[3:6] == ["01:30", "03:00", "03:30"]
    assert out["utc_offset"].to_list()[3:5] == ["+01:00", "+02:00"]


def test_export_weekly_one_row_per_day_with_week_counts() -> None:
    channels: tuple[Channel, ...] = (("q1", "voice"), ("q1", "chat"))
    window: dict[date, pl.DataFrame | None] = {
        day: one_busy_interval(day, NY, channels, offered=4, answered=2, abandoned=1) for day in WEEK
    }
    window[WEEK[3]] = None  # Thursday: linear
    del window[WEEK[6]]  # Sunday (the 25-hour day): carried forward
    daily = fill(window, WEEK)
    weekly = weekly_kpis(daily, MONDAY)
    out = export_weekly(daily, weekly, directory("q1"), NY)
    assert out.schema == EXPORT_WEEKLY
    assert out.height == 2 * 7
    voice = out.filter(pl.col("media_type") == "voice")
    assert voice["local_date"].to_list() == WEEK
    assert voice["offered"].to_list() == [4] * 7
    assert voice["answer_rate"].to_list() == [0.5] * 7
    assert voice["fill_method"].to_list() == ["observed"] * 3 + ["linear"] + ["observed"] * 2 + [
        "carried_forward"
    ]
    assert voice["is_interpolated"].to_list() == [False] * 3 + [True] + [False] * 2 + [True]
    assert set(voice["days_observed"]) == {5} and set(voice["days_interpolated"]) == {2}
    assert voice["interval_start"].to_list()[-1] == localtime.local_midnight(WEEK[6], NY)
    assert voice["utc_offset"].to_list()[-1] == "-04:00"  # midnight before the fall-back
    assert voice["interval_start"].to_list()[0] == datetime(2026, 10, 26, 4, 0, tzinfo=UTC)
    assert set(out["week_start"]) == {MONDAY}
    assert set(out["queue_name"]) == {"Queue q1"}


def test_export_weekly_zero_and_unknown_days() -> None:
    window: dict[date, pl.DataFrame | None] = {
        WEEK[0]: one_busy_interval(WEEK[0], NY, VOICE),
        WEEK[1]: one_busy_interval(WEEK[1], NY, VOICE),
    }
    known = fill(window, WEEK[:3])
    # The third day is estimated without a value on either side: null measures, fill method "none".
    unknown = known.filter(pl.col("local_date") == WEEK[2]).with_columns(
        *[pl.lit(None, dtype=pl.Int64).alias(m) for m in KPI_MEASURES], fill_method=pl.lit("none")
    )
    daily = pl.concat([known.filter(pl.col("local_date") < WEEK[2]), unknown])
    assert daily.schema == DAILY_KPIS
    out = export_weekly(daily, weekly_kpis(daily, MONDAY), directory("q1"), NY)
    assert out["offered"].to_list() == [0, 0, None]
    assert out["answer_rate"].to_list() == [None, None, None]
    assert out["fill_method"].to_list() == ["observed", "observed", "none"]


def mixed_week(monday: date, tz: str) -> dict[date, pl.DataFrame]:
    """The `DAILY_KPIS` partitions of a week with every kind of day: observed days with varying traffic, a
    linear gap (Wednesday), a gap carried forward (Friday), one carried backward from Sunday (Saturday; when
    Sunday is a spring-forward day, Saturday's 02:00 and 02:30 have no neighbour: fill method "none", null
    measures), a channel observed on Thursday only, a channel unknown all Saturday (every measure null),
    maxima on observed days only and provisional days at the end of the week."""
    week = localtime.week_days(monday)
    voice_chat: tuple[Channel, ...] = (("q1", "voice"), ("q1", "chat"), ("q2", "voice", "outbound"))
    offered = (pl.int_range(pl.len()) * 7 + 3) % 23

    def observed(index: int, *extra: Channel) -> pl.DataFrame:
        return kpi_day(week[index], offered + index, tz, (*voice_chat, *extra))

    window: dict[date, pl.DataFrame | None] = {
        week[0]: observed(0),
        week[1]: observed(1),
        week[3]: observed(3, ("q3", "email")),
        week[6]: observed(6),
    }
    filled = fill_days(
        window,
        week,
        timezone=tz,
        interval_minutes=30,
        now=localtime.day_bounds(week[4], tz)[1],
        lookback_days=3,
        window_days=1,
    )
    saturday = filled[week[5]]
    chat = pl.col("media_type") == "chat"
    filled[week[5]] = saturday.with_columns(
        *[pl.when(chat).then(None).otherwise(pl.col(m)).alias(m) for m in KPI_MEASURES],
        fill_method=pl.when(chat).then(pl.lit("none")).otherwise(pl.col("fill_method")),
    ).select(pl.col(n).cast(t) for n, t in DAILY_KPIS.items())
    return filled


SPRING_MONDAY = date(2026, 3, 2)  # the week holding the New York spring-forward day (Sunday 2026-03-08)


@pytest.mark.parametrize(("monday", "tz"), [(SPRING_MONDAY, NY), (MONDAY, NY), (date(2026, 10, 19), BERLIN)])
def test_week_from_day_rollups_equals_week_from_daily_rows(monday: date, tz: str) -> None:
    days = mixed_week(monday, tz)
    # The roll-up counts a channel-day as interpolated when any of its rows is: the same as "all of its
    # rows" only because gap filling estimates a day whole and copies an observed day whole.
    for frame in days.values():
        flags = frame.group_by("local_date", "queue_id", "media_type", "direction").agg(
            pl.col("is_interpolated").n_unique()
        )
        assert set(flags["is_interpolated"]) == {1}
    rows = pl.concat(days.values())
    methods = set(rows["fill_method"])
    assert {"observed", "linear", "carried_forward", "carried_backward", "none"} <= methods
    assert rows.filter(pl.col("fill_method") == "none")["offered"].null_count() > 0
    rollups = pl.concat([day_rollup(frame.select(DAY_ROLLUP_COLUMNS)) for frame in days.values()])
    assert rollups.schema == DAY_ROLLUP
    assert rollups.height == rows.select("local_date", "queue_id", "media_type", "direction").n_unique()

    week_from_rows = weekly_kpis(rows, monday)
    week_from_rollups = weekly_kpis(rollups, monday)
    assert_frame_equal(week_from_rollups, week_from_rows, check_exact=True)
    assert week_from_rows["days_interpolated"].to_list() != week_from_rows["days_observed"].to_list()
    assert week_from_rows.filter(pl.col("queue_id") == "q3")["days_observed"].to_list() == [1]

    queues = directory("q1", "q2")
    export_from_rows = export_weekly(rows, week_from_rows, queues, tz)
    export_from_rollups = export_weekly(rollups, week_from_rollups, queues, tz)
    assert_frame_equal(export_from_rollups, export_from_rows, check_exact=True)
    assert export_from_rows.height == rollups.height
    chat = export_from_rows.filter(
        (pl.col("media_type") == "chat") & (pl.col("local_date") == monday + timedelta(5))
    )
    assert chat["offered"].to_list() == [None] and chat["fill_method"].to_list() == ["none"]


def test_day_rollup_of_rollups_is_unchanged() -> None:
    days = mixed_week(SPRING_MONDAY, NY)
    rollups = pl.concat([day_rollup(frame) for frame in days.values()])
    assert_frame_equal(day_rollup(rollups), rollups, check_exact=True)
    saturday = rollups.filter(pl.col("local_date") == SPRING_MONDAY + timedelta(days=5))
    # Saturday's voice rows mix carried_backward intervals with two that had no neighbour.
    assert set(saturday["fill_method"]) == {"none"}
    assert saturday.filter(pl.col("media_type") == "voice")["offered"].null_count() == 0
