"""Performance smoke test: a week of 200 queues through every transform in a few seconds."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import polars as pl

from genesys_assets import localtime
from genesys_assets.schema import DAILY_KPIS, QUEUES, RAW_AGGREGATES
from genesys_assets.transforms import (
    expected_grid,
    export_daily,
    export_weekly,
    fill_day,
    interval_kpis,
    parse_aggregate_results,
    weekly_kpis,
)

NY = "America/New_York"
MONDAY = date(2026, 3, 2)  # week ending on the spring-forward Sunday
DAYS = [MONDAY + timedelta(days=i) for i in range(7)]
QUEUE_COUNT = 200
MEDIA = ("voice", "chat")


def answer() -> list[dict[str, object]]:
    """Every queue x media busy in two of three intervals, all metrics present (floats, as the API sends)."""
    timed = {"count": 3.0, "sum": 45000.0, "min": 2000.0, "max": 30000.0}
    metrics = [
        {"metric": "nOffered", "stats": {"count": 4.0}},
        *[
            {"metric": name, "stats": timed}
            for name in (
                "tAnswered",
                "tAbandon",
                "tFlowOut",
                "tHandle",
                "tTalkComplete",
                "tHeldComplete",
                "tAcw",
            )
        ],
        {"metric": "tWait", "stats": timed},
        {"metric": "nOverSla", "stats": {"count": 1.0}},
        {
            "metric": "oServiceLevel",
            "stats": {"ratio": 0.5, "numerator": 2.0, "denominator": 4.0, "target": 0.8},
        },
    ]
    buckets = [
        localtime.iso_interval(start, start + timedelta(minutes=30))
        for day in DAYS
        for start in localtime.interval_starts(day, NY, 30)
    ]
    data = [{"interval": text, "metrics": metrics} for i, text in enumerate(buckets) if i % 3]
    return [
        {"group": {"queueId": f"queue-{q:03d}", "mediaType": media}, "data": data}
        for q in range(QUEUE_COUNT)
        for media in MEDIA
    ] + [{"group": {"mediaType": "voice"}, "data": data}]  # a roll-up group, dropped


def directory() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "queue_id": [f"queue-{q:03d}" for q in range(QUEUE_COUNT)],
            "queue_name": [f"Queue {q}" for q in range(QUEUE_COUNT)],
            "division_id": ["d1"] * QUEUE_COUNT,
            "division_name": ["Home"] * QUEUE_COUNT,
            "media_types": [list(MEDIA)] * QUEUE_COUNT,
            "service_level_target": [0.8] * QUEUE_COUNT,
            "service_level_duration_ms": [20000] * QUEUE_COUNT,
            "date_created": [None] * QUEUE_COUNT,
        },
        schema=QUEUES,
    )


def test_week_of_200_queues_in_seconds() -> None:
    results = answer()
    queues = directory()
    window_start, window_end = localtime.days_bounds(DAYS[0], DAYS[-1], NY)
    now = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)

    started = time.perf_counter()
    raw = parse_aggregate_results(
        results,
        window_start=window_start,
        window_end=window_end,
        interval_minutes=30,
        timezone=NY,
        extracted_at=now,
    )
    flattened = time.perf_counter()
    kpis = interval_kpis(raw, queues, DAYS, NY, 30)
    window: dict[date, pl.DataFrame | None] = {
        key[0]: frame for key, frame in kpis.partition_by("local_date", as_dict=True).items()
    }
    window.pop(DAYS[3])  # one gap, estimated
    daily = pl.concat(
        fill_day(
            window,
            day,
            expected_grid(queues, [day], NY, 30),
            timezone=NY,
            interval_minutes=30,
            now=now,
            settle_hours=72,
        )
        for day in DAYS
    )
    weekly = weekly_kpis(daily, MONDAY)
    exported = export_daily(daily, queues, NY)
    exported_week = export_weekly(daily, weekly, queues, NY)
    finished = time.perf_counter()

    intervals = 6 * 48 + 46
    assert raw.schema == RAW_AGGREGATES
    assert raw.height == QUEUE_COUNT * len(MEDIA) * 11 * sum(1 for i in range(intervals) if i % 3)
    assert daily.schema == DAILY_KPIS and daily.height == QUEUE_COUNT * len(MEDIA) * intervals
    assert weekly.height == exported_week.height // 7 == QUEUE_COUNT * len(MEDIA)
    assert exported.height == daily.height
    assert set(daily.filter(pl.col("local_date") == DAYS[3])["fill_method"]) == {"linear"}
    assert flattened - started < 4.0, f"flatten took {flattened - started:.2f}s"
    assert finished - started < 8.0, f"the week took {finished - started:.2f}s"
