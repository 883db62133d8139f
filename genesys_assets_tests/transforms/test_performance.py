"""Performance smoke test: a week of 200 queues through every transform the assets call, in a few seconds."""

from __future__ import annotations

import importlib
import time
from datetime import UTC, date, datetime, timedelta

import orjson
import polars as pl

from genesys_assets import localtime
from genesys_assets.schema import AGGREGATE_METRICS, DAILY_KPIS, RAW_AGGREGATES
from genesys_assets.transforms.export import export_daily_partitions, export_weekly
from genesys_assets.transforms.flatten import parse_aggregate_answer
from genesys_assets.transforms.gapfill import fill_days
from genesys_assets.transforms.kpis import active_pairs, interval_kpis
from genesys_assets.transforms.weekly import weekly_kpis
from genesys_assets_tests.frames import NY, directory

MONDAY = date(2026, 3, 2)  # week ending on the spring-forward Sunday
DAYS = localtime.week_days(MONDAY)
QUEUE_COUNT = 200
MEDIA = ("voice", "chat")


def answer() -> list[dict[str, object]]:
    """Every queue x media busy in two of three intervals, all metrics present (floats, as the API sends)."""
    timed = {"count": 3.0, "sum": 45000.0, "min": 2000.0, "max": 30000.0}
    service_level = {"ratio": 0.5, "numerator": 2.0, "denominator": 4.0, "target": 0.8}
    metrics = [
        {
            "metric": name,
            "stats": service_level
            if name.startswith("o")
            else {"count": 4.0}
            if name.startswith("n")
            else timed,
        }
        for name in AGGREGATE_METRICS
    ]
    buckets = [
        localtime.iso_interval(start, start + timedelta(minutes=30))
        for day in DAYS
        for start in localtime.interval_starts(day, NY, 30)
    ]
    data = [{"interval": text, "metrics": metrics} for i, text in enumerate(buckets) if i % 3]
    return [
        {"group": {"queueId": f"queue-{q:03d}", "mediaType": media, "direction": "inbound"}, "data": data}
        for q in range(QUEUE_COUNT)
        for media in MEDIA
    ] + [{"group": {"mediaType": "voice"}, "data": data}]  # a partial group, kept raw and out of the KPIs


def test_week_of_200_queues_in_seconds() -> None:
    body = orjson.dumps({"results": answer()})
    queues = directory(*[f"queue-{q:03d}" for q in range(QUEUE_COUNT)])
    window_start, window_end = localtime.days_bounds(DAYS[0], DAYS[-1], NY)
    now = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    # The reader imports pyarrow's JSON and compute modules on its first answer; a run pays that once, not
    # per answer, so the clock starts after it.
    importlib.import_module("pyarrow.json")
    importlib.import_module("pyarrow.compute")

    # CPU time of this process (every thread counted): at least the wall time on an idle machine, and
    # not stretched by what the suite's other worker runs on the same two cores.
    started = time.process_time()
    raw = parse_aggregate_answer(
        body,
        window_start=window_start,
        window_end=window_end,
        interval_minutes=30,
        timezone=NY,
        extracted_at=now,
    )
    flattened = time.process_time()
    kpis = interval_kpis(raw, active_pairs(raw, DAYS, 28), DAYS, NY, 30)
    window: dict[date, pl.DataFrame | None] = {
        key[0]: frame for key, frame in kpis.partition_by("local_date", as_dict=True).items()
    }
    window.pop(DAYS[3])  # one gap, estimated
    filled = fill_days(window, DAYS, timezone=NY, interval_minutes=30, now=now, lookback_days=7)
    daily = pl.concat(filled.values())
    weekly = weekly_kpis(daily, MONDAY)
    exported = export_daily_partitions({d.isoformat(): f for d, f in filled.items()}, queues, NY)
    exported_week = export_weekly(daily, weekly, queues, NY)
    finished = time.process_time()

    intervals = 6 * 48 + 46
    assert raw.schema == RAW_AGGREGATES
    assert raw.height == (QUEUE_COUNT * len(MEDIA) + 1) * len(AGGREGATE_METRICS) * sum(
        1 for i in range(intervals) if i % 3
    )
    assert daily.schema == DAILY_KPIS and daily.height == QUEUE_COUNT * len(MEDIA) * intervals
    assert weekly.height == exported_week.height // 7 == QUEUE_COUNT * len(MEDIA)
    assert sum(frame.height for frame in exported.values()) == daily.height
    assert set(daily.filter(pl.col("local_date") == DAYS[3])["fill_method"]) == {"linear"}
    # The bounds were set for an answer of 11 metrics per bucket; the work grows with the metric entries.
    scale = len(AGGREGATE_METRICS) / 11
    assert flattened - started < 4.0 * scale, f"flatten took {flattened - started:.2f} s of CPU"
    assert finished - started < 8.0 * scale, f"the week took {finished - started:.2f} s of CPU"
