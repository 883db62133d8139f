"""Expected grid and flat interval KPI table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from genesys_assets import localtime
from genesys_assets.schema import INTERVAL_KPIS, KPI_MEASURES, QUEUES, RAW_AGGREGATES
from genesys_assets.transforms.kpis import expected_grid, interval_kpis

NY = "America/New_York"
BERLIN = "Europe/Berlin"


def queues(*rows: tuple[str, list[str], datetime | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "queue_id": [r[0] for r in rows],
            "queue_name": [f"Queue {r[0]}" for r in rows],
            "division_id": ["d1"] * len(rows),
            "division_name": ["Home"] * len(rows),
            "media_types": [r[1] for r in rows],
            "service_level_target": [0.8] * len(rows),
            "service_level_duration_ms": [20000] * len(rows),
            "date_created": [r[2] for r in rows],
        },
        schema=QUEUES,
    )


def raw_rows(day: date, tz: str, rows: list[tuple[str, str, int, str, dict[str, int]]]) -> pl.DataFrame:
    """(queue, media, interval index of the day, metric, stats) -> RAW_AGGREGATES."""
    starts = localtime.interval_starts(day, tz, 30)
    records = []
    for queue, media, index, metric, stats in rows:
        record = {name: None for name in RAW_AGGREGATES}
        record.update(
            local_date=day,
            queue_id=queue,
            media_type=media,
            interval_start=starts[index],
            interval_end=starts[index] + timedelta(minutes=30),
            metric=metric,
            extracted_at=datetime(2026, 12, 1, tzinfo=UTC),
            **stats,
        )
        records.append(record)
    return pl.DataFrame(records, schema=RAW_AGGREGATES)


@pytest.mark.parametrize(
    ("tz", "day", "count"),
    [
        (NY, date(2026, 3, 8), 46),
        (NY, date(2026, 11, 1), 50),
        (NY, date(2026, 6, 1), 48),
        (BERLIN, date(2026, 3, 29), 46),
        (BERLIN, date(2026, 10, 25), 50),
    ],
)
def test_grid_has_every_local_interval(tz: str, day: date, count: int) -> None:
    grid = expected_grid(queues(("q1", ["voice", "chat"], None)), [day], tz, 30)
    assert grid.height == 2 * count
    voice = grid.filter(pl.col("media_type") == "voice")
    start, end = localtime.day_bounds(day, tz)
    assert voice["interval_start"].min() == start
    assert voice["interval_end"].max() == end
    assert (voice["interval_end"] - voice["interval_start"]).unique().to_list() == [timedelta(minutes=30)]


def test_grid_only_has_queues_that_existed_that_day() -> None:
    day = date(2026, 3, 8)
    start, end = localtime.day_bounds(day, NY)
    directory = queues(
        ("old", ["voice"], datetime(2025, 1, 1, tzinfo=UTC)),
        ("during", ["voice"], start + timedelta(hours=20)),
        ("at_end", ["voice"], end),
        ("later", ["voice"], end + timedelta(days=1)),
        ("unknown_date", ["voice", "voice"], None),
        ("no_media", [], None),
    )
    grid = expected_grid(directory, [day, day + timedelta(days=1)], NY, 30)
    per_day = grid.group_by("local_date", "queue_id").len().sort("local_date", "queue_id")
    assert per_day.filter(pl.col("local_date") == day)["queue_id"].to_list() == [
        "during",
        "old",
        "unknown_date",
    ]
    assert per_day.filter(pl.col("local_date") == day + timedelta(days=1))["queue_id"].to_list() == [
        "at_end",
        "during",
        "old",
        "unknown_date",
    ]
    assert set(per_day["len"].to_list()) == {46, 48}


def test_interval_kpis_pivot_zeros_and_ratios() -> None:
    day = date(2026, 11, 1)
    raw = raw_rows(
        day,
        NY,
        [
            ("q1", "voice", 2, "nOffered", {"count": 4}),
            ("q1", "voice", 2, "tAnswered", {"count": 3, "sum": 30000}),
            ("q1", "voice", 2, "tAbandon", {"count": 1, "sum": 5000}),
            ("q1", "voice", 2, "tFlowOut", {"count": 1, "sum": 100}),
            ("q1", "voice", 2, "tHandle", {"count": 2, "sum": 600000}),
            ("q1", "voice", 2, "tTalkComplete", {"count": 2, "sum": 500000}),
            ("q1", "voice", 2, "tHeldComplete", {"count": 1, "sum": 40000}),
            ("q1", "voice", 2, "tAcw", {"count": 2, "sum": 60000}),
            ("q1", "voice", 2, "tWait", {"count": 4, "sum": 35000}),
            ("q1", "voice", 2, "nOverSla", {"count": 1}),
            ("q1", "voice", 2, "oServiceLevel", {"numerator": 2, "denominator": 4}),
            # answered + abandoned above offered in one interval: kept as is
            ("q1", "voice", 3, "tAnswered", {"count": 2, "sum": 1000}),
            ("q1", "voice", 3, "nOffered", {"count": 1}),
        ],
    )
    kpis = interval_kpis(raw, queues(("q1", ["voice", "chat"], None)), [day], NY, 30)
    assert kpis.schema == INTERVAL_KPIS
    assert kpis.height == 2 * 50
    row = kpis.filter(pl.col("media_type") == "voice").row(2, named=True)
    expected = {
        "offered": 4,
        "answered": 3,
        "abandoned": 1,
        "flow_out": 1,
        "handle_count": 2,
        "handle_sum_ms": 600000,
        "talk_sum_ms": 500000,
        "hold_sum_ms": 40000,
        "acw_sum_ms": 60000,
        "wait_sum_ms": 35000,
        "sl_numerator": 2,
        "sl_denominator": 4,
    }
    assert {m: row[m] for m in KPI_MEASURES} == expected
    assert row["aht_s"] == pytest.approx(300.0)
    assert row["answer_rate"] == pytest.approx(0.75)
    assert row["abandon_rate"] == pytest.approx(0.25)
    assert row["service_level"] == pytest.approx(0.5)
    over = kpis.filter(pl.col("media_type") == "voice").row(3, named=True)
    assert over["answer_rate"] == pytest.approx(2.0) and over["abandon_rate"] == 0.0
    assert over["aht_s"] is None and over["service_level"] is None
    quiet = kpis.filter(pl.col("media_type") == "chat")
    assert quiet.select(pl.sum_horizontal(KPI_MEASURES).sum()).item() == 0
    assert quiet.select(pl.col("aht_s", "answer_rate", "abandon_rate", "service_level").null_count()).row(
        0
    ) == (
        50,
        50,
        50,
        50,
    )
    assert not kpis.select(pl.col(pl.Float64).is_nan().any()).row(0).count(True)


def test_pairs_outside_the_directory_keep_their_data() -> None:
    day = date(2026, 3, 8)
    raw = raw_rows(
        day,
        NY,
        [
            ("deleted", "voice", 0, "nOffered", {"count": 2}),
            ("q1", "email", 45, "nOffered", {"count": 1}),
        ],
    )
    kpis = interval_kpis(raw, queues(("q1", ["voice"], None)), [day], NY, 30)
    counts = (
        kpis.group_by("queue_id", "media_type")
        .agg(pl.len(), pl.col("offered").sum())
        .sort("queue_id", "media_type")
    )
    assert counts.rows() == [("deleted", "voice", 46, 2), ("q1", "email", 46, 1), ("q1", "voice", 46, 0)]


def test_empty_raw_gives_zero_grid_and_other_days_ignored() -> None:
    day = date(2026, 6, 1)
    other = raw_rows(day + timedelta(days=1), NY, [("q1", "voice", 0, "nOffered", {"count": 9})])
    kpis = interval_kpis(other, queues(("q1", ["voice"], None)), [day], NY, 30)
    assert kpis.height == 48
    assert kpis["offered"].sum() == 0
    assert kpis["local_date"].unique().to_list() == [day]


def test_raw_rows_off_the_grid_are_kept() -> None:
    day = date(2026, 6, 1)
    raw = raw_rows(day, NY, [("q1", "voice", 0, "nOffered", {"count": 5})]).with_columns(
        pl.col("interval_start", "interval_end") + timedelta(minutes=15)
    )
    kpis = interval_kpis(raw, queues(("q1", ["voice"], None)), [day], NY, 30)
    assert kpis.height == 49
    assert kpis["offered"].sum() == 5
    assert kpis["interval_start"].is_sorted()
