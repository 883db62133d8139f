"""Batches sized by a row budget: one day first, then as many days as the largest day seen lets fit, at most
twice the batch before."""

from __future__ import annotations

import pytest

from genesys_assets.transforms.batching import RowBudgetBatches


def _run(day_rows: list[int], budget: int) -> list[list[int]]:
    plan = RowBudgetBatches(list(range(len(day_rows))), budget_rows=budget)
    handed = []
    for batch in plan:
        handed.append(batch)
        plan.record(day_rows[day] for day in batch)
    assert plan.count == len(handed)
    return handed


def test_batches_grow_to_the_budget_and_cover_every_item_once() -> None:
    day_rows = [1_000 + 10 * day for day in range(40)]  # days grow, as an org adds queues
    handed = _run(day_rows, 5_000)
    assert [day for batch in handed for day in batch] == list(range(40))
    assert [len(batch) for batch in handed[:3]] == [1, 2, 4]  # doubling while the budget allows more
    for index, batch in enumerate(handed[1:], start=1):
        largest_before = max(day_rows[day] for earlier in handed[:index] for day in earlier)
        left = 40 - sum(map(len, handed[:index]))
        assert len(batch) == min(5_000 // largest_before, 2 * len(handed[index - 1]), left)


def test_a_small_first_day_does_not_size_a_batch_over_the_budget() -> None:
    # A history that starts on a quiet holiday: 50,000 rows, then 250,000 a day, under 750,000.
    day_rows = [50_000] + [250_000] * 20
    handed = _run(day_rows, 750_000)
    assert [len(batch) for batch in handed[:3]] == [1, 2, 3]
    assert max(sum(day_rows[day] for day in batch) for batch in handed) <= 750_000


def test_a_day_larger_than_the_budget_goes_alone_and_an_unrecorded_plan_stays_at_one_day() -> None:
    plan = RowBudgetBatches(["a", "b", "c"], budget_rows=100)
    assert next(iter(plan)) == ["a"]
    plan.record([1_000])
    assert plan.next_size() == 1
    assert list(RowBudgetBatches(["x", "y"], budget_rows=10)) == [["x"], ["y"]]
    with pytest.raises(ValueError, match="budget_rows must be at least 1"):
        RowBudgetBatches(["x"], budget_rows=0)
