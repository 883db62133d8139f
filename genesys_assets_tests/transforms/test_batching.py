"""Batches sized by a row budget: one day first, then as many days as the largest day seen lets fit."""

from __future__ import annotations

import pytest

from genesys_assets.transforms.batching import RowBudgetBatches


def test_batches_grow_to_the_budget_after_the_first_day_and_cover_every_item_once() -> None:
    days = list(range(20))
    day_rows = {day: 1_000 + 10 * day for day in days}  # days grow, as an org adds queues
    plan = RowBudgetBatches(days, budget_rows=5_000)
    handed = []
    for batch in plan:
        handed.append(batch)
        plan.record(day_rows[day] for day in batch)
    assert [day for batch in handed for day in batch] == days
    assert handed[0] == [0]  # nothing known yet: one day
    assert handed[1] == [1, 2, 3, 4, 5]  # 5,000 // 1,000
    # Each later batch is sized by the largest day seen before it (the last one takes what is left).
    for index, batch in enumerate(handed[1:], start=1):
        largest_before = max(day_rows[day] for earlier in handed[:index] for day in earlier)
        assert len(batch) == min(5_000 // largest_before, len(days) - sum(map(len, handed[:index])))
    assert plan.count == len(handed) and plan.largest_item_rows == day_rows[19]


def test_a_day_larger_than_the_budget_goes_alone_and_an_unrecorded_plan_stays_at_one_day() -> None:
    plan = RowBudgetBatches(["a", "b", "c"], budget_rows=100)
    first = next(iter(plan))
    assert first == ["a"]
    plan.record([1_000])
    assert plan.next_size() == 1
    assert list(RowBudgetBatches(["x", "y"], budget_rows=10)) == [["x"], ["y"]]
    with pytest.raises(ValueError, match="budget_rows must be at least 1"):
        RowBudgetBatches(["x"], budget_rows=0)
