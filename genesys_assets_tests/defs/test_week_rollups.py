"""The weekly steps read each daily partition alone, for the columns of a day roll-up only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import polars as pl
from polars.testing import assert_frame_equal

from genesys_assets import localtime
from genesys_assets.defs.common import week_day_rollups
from genesys_assets.defs.io_manager import StoredPartitions
from genesys_assets.transforms.gapfill import fill_days
from genesys_assets.transforms.weekly import DAY_ROLLUP, DAY_ROLLUP_COLUMNS, day_rollup
from genesys_assets_tests.frames import NY, kpi_day

WEEK_KEY = "2026-10-26"
WEEK = localtime.week_days(WEEK_KEY)


def test_week_day_rollups_reads_one_day_at_a_time_for_the_rollup_columns() -> None:
    window: dict[date, pl.DataFrame | None] = {day: kpi_day(day, 4) for day in WEEK[:5]}
    filled = fill_days(
        window, WEEK, timezone=NY, interval_minutes=30, now=datetime(2027, 1, 1, tzinfo=UTC), lookback_days=3
    )
    stored = {day.isoformat(): frame for day, frame in filled.items() if day != WEEK[1]}
    reads: list[tuple[str, tuple[str, ...] | None]] = []

    def read(key: str, columns: Sequence[str] | None) -> pl.DataFrame:
        reads.append((key, tuple(columns) if columns is not None else None))
        return stored[key].select(columns) if columns is not None else stored[key]

    partitions = StoredPartitions(list(stored), read)
    rollups = week_day_rollups(partitions, WEEK_KEY)
    assert reads == [(key, DAY_ROLLUP_COLUMNS) for key in stored]
    expected = pl.concat([day_rollup(frame) for frame in stored.values()])
    assert_frame_equal(rollups, expected, check_exact=True)
    assert rollups.schema == DAY_ROLLUP and rollups.height == 6
    assert not {"interval_start", "interval_end", "aht_s"} & set(DAY_ROLLUP_COLUMNS)


def test_week_day_rollups_of_a_week_without_stored_days_is_empty() -> None:
    empty = week_day_rollups(StoredPartitions([], lambda key, columns: pl.DataFrame()), WEEK_KEY)
    assert empty.schema == DAY_ROLLUP and empty.height == 0
