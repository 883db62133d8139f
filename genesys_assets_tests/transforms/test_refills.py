"""The gap-refill plan: which daily partitions need a new estimate or their exact values back."""

from __future__ import annotations

from datetime import date

from genesys_assets.transforms.refills import (
    days_to_read,
    estimate_sources,
    nearest_observed,
    plan_refills,
    stale_weeks,
)

KEYS = [f"2026-11-{d:02d}" for d in range(1, 21)]


def test_nearest_observed_within_window() -> None:
    observed = [date(2026, 11, 1), date(2026, 11, 3), date(2026, 11, 20)]
    assert nearest_observed(date(2026, 11, 5), observed, 7) == (date(2026, 11, 3), None)
    assert nearest_observed(date(2026, 11, 2), observed, 7) == (date(2026, 11, 1), date(2026, 11, 3))
    assert nearest_observed(date(2026, 11, 12), observed, 7) == (None, None)


def test_new_gap_gets_an_estimate_and_a_current_one_does_not() -> None:
    observed = [k for k in KEYS if k != "2026-11-10"]
    recorded = {k: None for k in observed}
    assert plan_refills(KEYS, observed, recorded, 7) == ["2026-11-10"]
    recorded["2026-11-10"] = ("2026-11-09", "2026-11-11")
    assert plan_refills(KEYS, observed, recorded, 7) == []


def test_backfilled_gap_and_its_neighbouring_estimates_are_refreshed() -> None:
    # 10 and 11 failed; both were estimated from 09 and 12. Now 10 is backfilled.
    recorded = {k: None for k in KEYS}
    recorded["2026-11-10"] = ("2026-11-09", "2026-11-12")
    recorded["2026-11-11"] = ("2026-11-09", "2026-11-12")
    observed = [k for k in KEYS if k != "2026-11-11"]
    # 10 is observed now (its estimate is replaced); 11 should now use 10 as its left neighbour.
    assert plan_refills(KEYS, observed, recorded, 7) == ["2026-11-10", "2026-11-11"]
    assert estimate_sources(date(2026, 11, 11), [date.fromisoformat(k) for k in observed], 7) == (
        "2026-11-10",
        "2026-11-12",
    )


def test_days_before_the_first_observed_day_are_not_gaps() -> None:
    observed = KEYS[10:]
    assert plan_refills(KEYS, observed, {k: None for k in observed}, 7) == []


def test_gap_without_neighbours_in_window_is_left_alone() -> None:
    observed = ["2026-11-01", "2026-11-20"]
    plan = plan_refills(KEYS, observed, {k: None for k in observed}, 3)
    assert "2026-11-10" not in plan
    assert plan == ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-17", "2026-11-18", "2026-11-19"]


def test_a_week_is_stale_once_one_of_its_days_changed_after_it_was_built() -> None:
    # Days of the weeks of 26 October (Sunday 1 November) and 2 November, storage ids in event order.
    daily = {"2026-10-31": 10, "2026-11-01": 11, "2026-11-02": 12, "2026-11-03": 13}
    weekly = {"2026-10-26": 20, "2026-11-02": 21}
    assert stale_weeks(daily, weekly) == {}
    daily["2026-11-01"] = 30  # a refill or restatement re-read of Sunday, after both weeks were built
    assert stale_weeks(daily, weekly) == {"2026-10-26": 30}
    daily["2026-11-03"] = 31
    assert stale_weeks(daily, weekly) == {"2026-10-26": 30, "2026-11-02": 31}
    # A week never built is left to its schedule; a week with a refill pending waits for it.
    assert stale_weeks(daily, {"2026-11-02": 21}) == {"2026-11-02": 31}
    assert stale_weeks(daily, weekly, pending=["2026-11-04"]) == {"2026-10-26": 30}


def test_a_batch_reads_its_observed_days_and_only_its_gaps_neighbours() -> None:
    observed = [date(2026, 11, d) for d in (1, 2, 3, 5, 6, 20)]
    batch = [date(2026, 11, d) for d in (2, 3, 4)]  # 4 is a gap
    assert days_to_read(batch, observed, 2) == [date(2026, 11, d) for d in (2, 3, 5, 6)]
    assert days_to_read([date(2026, 11, 2), date(2026, 11, 3)], observed, 7) == batch[:2]  # no gap: itself
