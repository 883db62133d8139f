"""Data-contract checks: pass on good data, fail with counts and samples on bad data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from genesys_assets import localtime
from genesys_assets.schema import INTERVAL_KPIS, KPI_MEASURES
from genesys_assets.transforms import contracts
from genesys_assets.transforms.flatten import parse_aggregate_results_checked
from genesys_assets.transforms.gapfill import fill_days
from genesys_assets.transforms.kpis import expected_grid, interval_kpis
from genesys_assets.transforms.weekly import day_rollup, weekly_kpis
from genesys_assets_tests.frames import NY, pairs

DAY = date(2026, 11, 1)
MONDAY = date(2026, 10, 26)
LATE = datetime(2027, 1, 1, tzinfo=UTC)
CHANNELS = (("q1", "voice"), ("q2", "voice"), ("q2", "chat"))


def raw_day(
    day: date = DAY, numerator: int = 2, offered: float = 4.0, duplicate: bool = False
) -> pl.DataFrame:
    start, end = localtime.day_bounds(day, NY)
    bucket = localtime.iso_interval(start + timedelta(hours=3), start + timedelta(hours=3, minutes=30))
    metrics = [
        {"metric": "nOffered", "stats": {"count": offered}},
        {"metric": "tAnswered", "stats": {"count": 3.0, "sum": 9000.0}},
        {"metric": "tAbandon", "stats": {"count": 1.0, "sum": 9000.0}},
        {"metric": "oServiceLevel", "stats": {"numerator": numerator, "denominator": 4, "target": 0.8}},
    ]
    if duplicate:
        metrics.append(metrics[0])
    results = [
        {
            "group": {"queueId": "q1", "mediaType": "voice", "direction": "inbound"},
            "data": [{"interval": bucket, "metrics": metrics}],
        }
    ]
    return parse_aggregate_results_checked(
        results, window_start=start, window_end=end, interval_minutes=30, timezone=NY, extracted_at=LATE
    )


def kpi_day(day: date = DAY, **raw_options: object) -> pl.DataFrame:
    return interval_kpis(raw_day(day, **raw_options), pairs(day, *CHANNELS), [day], NY, 30)  # type: ignore[arg-type]


def daily_week(now: datetime = LATE, gaps: tuple[date, ...] = ()) -> pl.DataFrame:
    days = localtime.week_days(MONDAY)
    window = {day: kpi_day(day) for day in days if day not in gaps}
    filled = fill_days(window, days, timezone=NY, interval_minutes=30, now=now, lookback_days=3)
    return pl.concat(filled.values())


def test_outcome_is_frozen_record() -> None:
    outcome = contracts.check_non_negative(kpi_day())
    assert outcome.passed and outcome.failing_rows == 0 and outcome.sample == []
    with pytest.raises(AttributeError):
        outcome.passed = False  # type: ignore[misc]


def test_non_negative_raw_and_kpis() -> None:
    assert contracts.check_non_negative(raw_day()).passed
    bad_raw = contracts.check_non_negative(raw_day(offered=-1.0))
    assert not bad_raw.passed and bad_raw.failing_rows == 1
    assert bad_raw.sample[0]["count"] == -1 and bad_raw.sample[0]["interval_start"].startswith(
        "2026-11-01T07:00"
    )
    bad_kpis = contracts.check_non_negative(kpi_day(offered=-1.0))
    assert not bad_kpis.passed and bad_kpis.failing_rows == 1 and "offered" in bad_kpis.description


def test_service_level_bounds() -> None:
    assert contracts.check_service_level_bounds(raw_day()).passed
    assert contracts.check_service_level_bounds(kpi_day()).passed
    raw = contracts.check_service_level_bounds(raw_day(numerator=5))
    assert not raw.passed and raw.failing_rows == 1 and raw.sample[0]["numerator"] == 5
    kpis = contracts.check_service_level_bounds(kpi_day(numerator=5))
    assert not kpis.passed and kpis.sample[0]["sl_numerator"] == 5


def test_unique_keys() -> None:
    assert contracts.check_unique_keys(raw_day()).passed
    assert contracts.check_unique_keys(kpi_day()).passed
    dup = contracts.check_unique_keys(raw_day(duplicate=True))
    assert not dup.passed and dup.failing_rows == 1 and dup.sample[0]["metric"] == "nOffered"
    kpis = kpi_day()
    doubled = contracts.check_unique_keys(pl.concat([kpis, kpis.head(3)]))
    assert not doubled.passed and doubled.failing_rows == 3
    weekly = weekly_kpis(daily_week(), MONDAY)
    assert contracts.check_unique_keys(weekly).passed
    assert not contracts.check_unique_keys(pl.concat([weekly, weekly.head(1)])).passed


def test_intervals_in_day_and_dates_in_week() -> None:
    kpis = kpi_day()
    assert contracts.check_intervals_in_day(kpis, DAY, NY).passed
    assert contracts.check_intervals_in_day(raw_day(), DAY, NY).passed
    wrong = contracts.check_intervals_in_day(kpis, DAY - timedelta(days=1), NY)
    assert not wrong.passed and wrong.failing_rows == kpis.height
    shifted = kpis.with_columns(pl.col("interval_start", "interval_end") + timedelta(hours=1))
    late = contracts.check_intervals_in_day(shifted, DAY, NY)
    assert not late.passed and late.failing_rows == 6  # the last two half-hours of each of the 3 pairs
    weekly = weekly_kpis(daily_week(), MONDAY)
    assert contracts.check_dates_in_week(weekly, MONDAY).passed
    assert contracts.check_dates_in_week(daily_week(), MONDAY).passed
    assert not contracts.check_dates_in_week(daily_week(), MONDAY + timedelta(days=7)).passed


def test_grid_complete() -> None:
    kpis = kpi_day()
    grid = expected_grid(pairs(DAY, *CHANNELS), [DAY], NY, 30)
    assert grid.height == 3 * 50
    assert contracts.check_grid_complete(kpis, grid).passed
    holes = contracts.check_grid_complete(kpis.filter(pl.col("media_type") != "chat"), grid)
    assert not holes.passed and holes.failing_rows == 50 and holes.sample[0]["media_type"] == "chat"


def test_weekly_matches_daily() -> None:
    daily = daily_week(gaps=(MONDAY + timedelta(days=2),))
    weekly = weekly_kpis(daily, MONDAY)
    assert contracts.check_weekly_matches_daily(weekly, daily, MONDAY).passed
    tampered = weekly.with_columns(
        pl.when(pl.col("queue_id") == "q1")
        .then(pl.col("offered") + 1)
        .otherwise(pl.col("offered"))
        .alias("offered")
    )
    outcome = contracts.check_weekly_matches_daily(tampered, daily, MONDAY)
    assert not outcome.passed and outcome.failing_rows == 1 and outcome.sample[0]["queue_id"] == "q1"
    missing = contracts.check_weekly_matches_daily(weekly.head(1), daily, MONDAY)
    assert not missing.passed and missing.failing_rows == weekly.height - 1
    # The check sums the daily rows itself: a rollup that lost a day does not pass.
    short = weekly_kpis(daily.filter(pl.col("local_date") != MONDAY), MONDAY)
    assert not contracts.check_weekly_matches_daily(short, daily, MONDAY).passed


def test_weekly_matches_daily_rollups() -> None:
    # The weekly asset checks its rows against the day roll-ups: the same outcomes as against the rows.
    daily = daily_week(gaps=(MONDAY + timedelta(days=2),))
    rollups = day_rollup(daily)
    weekly = weekly_kpis(rollups, MONDAY)
    assert contracts.check_weekly_matches_daily(weekly, rollups, MONDAY).passed
    wait_max = weekly.with_columns(pl.col("wait_max_ms").fill_null(0) + 1)
    outcome = contracts.check_weekly_matches_daily(wait_max, rollups, MONDAY)
    assert not outcome.passed and outcome.failing_rows == weekly.height
    assert outcome == contracts.check_weekly_matches_daily(wait_max, daily, MONDAY)
    one_day_less = weekly.with_columns(pl.col("days_observed") - 1)
    assert not contracts.check_weekly_matches_daily(one_day_less, rollups, MONDAY).passed
    short = weekly_kpis(rollups.filter(pl.col("local_date") != MONDAY), MONDAY)
    assert not contracts.check_weekly_matches_daily(short, rollups, MONDAY).passed
    assert not contracts.check_weekly_matches_daily(weekly.head(1), rollups, MONDAY).passed


def test_answered_abandoned_vs_offered_warning() -> None:
    kpis = kpi_day()  # 4 offered, 3 answered + 1 abandoned
    assert contracts.check_answered_abandoned_vs_offered(kpis).passed
    skewed = kpi_day(offered=1.0)
    assert contracts.check_answered_abandoned_vs_offered(skewed).passed  # within the slack
    strict = contracts.check_answered_abandoned_vs_offered(skewed, max_ratio=1.0, slack=0)
    assert not strict.passed and strict.failing_rows == 1 and strict.sample[0]["offered"] == 1


def test_interpolated_share_and_provisional_warnings() -> None:
    observed = daily_week()
    assert contracts.check_interpolated_share(observed).passed
    gappy = daily_week(gaps=(MONDAY, MONDAY + timedelta(days=1)))
    share = contracts.check_interpolated_share(gappy, max_share=0.2)
    assert not share.passed and "28.4% (288 of 1014)" in share.description
    assert share.failing_rows == gappy.filter(pl.col("is_interpolated")).height
    weekly = weekly_kpis(gappy, MONDAY)
    assert not contracts.check_interpolated_share(weekly, max_share=0.2).passed
    assert contracts.check_interpolated_share(weekly, max_share=0.3).passed
    assert contracts.check_provisional_rows(observed).passed
    fresh = daily_week(now=localtime.day_bounds(MONDAY + timedelta(days=6), NY)[1])
    provisional = contracts.check_provisional_rows(fresh)
    assert not provisional.passed
    # With 3 days of lookback, Saturday and Sunday are still read again after the end of Sunday.
    assert provisional.failing_rows == 3 * 48 + 3 * 50


def test_checks_pass_on_a_good_pipeline_day() -> None:
    kpis = kpi_day()
    grid = expected_grid(pairs(DAY, *CHANNELS), [DAY], NY, 30)
    for outcome in (
        contracts.check_non_negative(kpis),
        contracts.check_service_level_bounds(kpis),
        contracts.check_unique_keys(kpis),
        contracts.check_intervals_in_day(kpis, DAY, NY),
        contracts.check_grid_complete(kpis, grid),
    ):
        assert outcome.passed, outcome.description
    assert kpis.schema == INTERVAL_KPIS
    assert kpis.select(pl.sum_horizontal(KPI_MEASURES).sum()).item() > 0
