"""Batches of partitions sized by a row budget, so a step's memory follows the budget, not the org's size.

A range run transforms its days a batch at a time: a few polars queries per batch instead of per day, and
only one batch of frames in memory. How many days make a batch depends on how many rows a day holds, which
grows with the org (queues x channels x intervals). `RowBudgetBatches` learns that from the days it has
already handed out: the first batch is one day, and each later batch holds as many days as the budget
allows for the largest day seen so far, but at most twice as many as the batch before. A 200-queue org then
reaches about a month per batch and a 2,000-queue org a few days, and both hold about the same number of rows
at once. The doubling keeps a small first day (a quiet holiday, the first day of a history without earlier
channels) from sizing a batch many times over the budget: days larger than any seen before can only arrive
in a batch at most twice as long as one that fitted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class RowBudgetBatches(Generic[T]):
    """Consecutive runs of `items`, in order, each holding about `budget_rows` rows.

    Iterate to get the batches; after processing each one, call `record` with the rows its items held, so
    the next batch is sized from them. A batch always holds at least one item, so a single day larger than
    the budget still goes through (alone).
    """

    def __init__(self, items: Sequence[T], budget_rows: int) -> None:
        if budget_rows < 1:
            raise ValueError(f"budget_rows must be at least 1, got {budget_rows}.")
        self.items = list(items)
        self.budget_rows = budget_rows
        self.largest_item_rows = 0
        self.count = 0
        self.last_size = 0

    def next_size(self) -> int:
        """Items the next batch takes: one until a row count is known, then as many as the budget holds for
        the largest item seen, at most twice the last batch."""
        if self.largest_item_rows == 0:
            return 1
        return max(1, min(self.budget_rows // self.largest_item_rows, 2 * self.last_size))

    def record(self, rows: Iterable[int]) -> None:
        """The rows each item of the batch just processed held (any order)."""
        self.largest_item_rows = max(self.largest_item_rows, *rows, 0)

    def __iter__(self) -> Iterator[list[T]]:
        start = 0
        while start < len(self.items):
            size = self.next_size()
            self.count += 1
            self.last_size = size
            yield self.items[start : start + size]
            start += size
