"""Partition helpers of the Dagster layer."""

from __future__ import annotations

from genesys_assets.defs.partitions import contiguous_runs

ALL = [f"2026-10-{day:02d}" for day in range(10, 21)]


def test_consecutive_keys_become_one_range_each() -> None:
    keys = ["2026-10-16", "2026-10-14", "2026-10-15", "2026-10-18", "2026-10-20"]
    assert contiguous_runs(keys, ALL) == [
        ("2026-10-14", "2026-10-16"),
        ("2026-10-18", "2026-10-18"),
        ("2026-10-20", "2026-10-20"),
    ]
    assert contiguous_runs([], ALL) == []
