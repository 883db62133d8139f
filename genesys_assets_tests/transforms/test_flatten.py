"""Flattening of conversation-aggregates answers into the raw long table.

Every test runs twice: on the parsed `results` (`parse_aggregate_results_checked`) and on the answer's JSON bytes
(`parse_aggregate_answer`, columnar with a fallback to the parsed path), which must agree exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import polars as pl
import pytest

from genesys_assets import localtime
from genesys_assets.schema import RAW_AGGREGATES
from genesys_assets.transforms import flatten
from genesys_assets.transforms.flatten import AggregatesFormatError, parse_aggregate_results_checked

NY = "America/New_York"
EXTRACTED = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True, params=["objects", "bytes"])
def entry_point(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Sends this module's calls of `parse_aggregate_results_checked` through the chosen entry point."""
    if request.param == "bytes":

        def from_bytes(results: Any, **window: Any) -> pl.DataFrame:
            body = json.dumps({"results": results}).encode()  # NaN and huge ints as JSON texts them
            return flatten.parse_aggregate_answer(body, **window)

        monkeypatch.setitem(globals(), "parse_aggregate_results_checked", from_bytes)
    yield request.param


def bucket(start: datetime, minutes: int = 30) -> str:
    return localtime.iso_interval(start, start + timedelta(minutes=minutes))


def group(
    queue: str | None,
    media: str | None,
    data: list[dict[str, Any]],
    direction: str | None = "inbound",
    **extra: Any,
) -> dict[str, Any]:
    """A result group; a key given as None is left out (a partial group), one given in `extra` is written as is."""
    keys: dict[str, Any] = {}
    for name, value in (("queueId", queue), ("mediaType", media), ("direction", direction)):
        if value is not None:
            keys[name] = value
    keys.update(extra)
    return {"group": keys, "data": data}


def parse(results: list[Any], day: date = date(2026, 3, 8), tz: str = NY, minutes: int = 30) -> pl.DataFrame:
    start, end = localtime.day_bounds(day, tz)
    return parse_aggregate_results_checked(
        results,
        window_start=start,
        window_end=end,
        interval_minutes=minutes,
        timezone=tz,
        extracted_at=EXTRACTED,
    )


def first_start(day: date = date(2026, 3, 8), tz: str = NY) -> datetime:
    return localtime.local_midnight(day, tz)


def test_floats_become_exact_int64_with_schema_and_local_date() -> None:
    start = first_start()
    results = [
        group(
            "q1",
            "voice",
            [
                {
                    "interval": bucket(start),
                    "metrics": [
                        {"metric": "nOffered", "stats": {"count": 3.0}},
                        {
                            "metric": "tHandle",
                            "stats": {"count": 2, "sum": 123456.0, "min": 1000.0, "max": 9000},
                        },
                        {
                            "metric": "oServiceLevel",
                            "stats": {"ratio": 0.5, "numerator": 1.0, "denominator": 2.0, "target": 0.8},
                        },
                    ],
                    "views": [],
                }
            ],
        )
    ]
    raw = parse(results)
    assert raw.schema == RAW_AGGREGATES
    assert raw.height == 3
    rows = {r["metric"]: r for r in raw.to_dicts()}
    assert rows["nOffered"]["count"] == 3 and rows["nOffered"]["sum"] is None
    assert rows["tHandle"]["sum"] == 123456 and rows["tHandle"]["max"] == 9000
    assert rows["oServiceLevel"]["numerator"] == 1 and rows["oServiceLevel"]["target"] == pytest.approx(0.8)
    assert set(raw["local_date"].to_list()) == {date(2026, 3, 8)}
    assert raw["interval_start"].to_list()[0] == start
    assert raw["extracted_at"].to_list()[0] == EXTRACTED


def test_large_integers_stay_exact() -> None:
    big = 2**53 + 1
    results = [
        group(
            "q1",
            "voice",
            [
                {
                    "interval": bucket(first_start()),
                    "metrics": [{"metric": "tWait", "stats": {"sum": big, "count": 1.0}}],
                }
            ],
        )
    ]
    assert parse(results)["sum"].to_list() == [big]


def test_target_percentage_normalised() -> None:
    stats = {"numerator": 1, "denominator": 1, "target": 80}
    results = [
        group(
            "q1",
            "voice",
            [{"interval": bucket(first_start()), "metrics": [{"metric": "oServiceLevel", "stats": stats}]}],
        )
    ]
    assert parse(results)["target"].to_list() == [pytest.approx(0.8)]


def test_empty_answers_are_valid() -> None:
    assert parse([]).schema == RAW_AGGREGATES
    assert parse([]).height == 0
    start, end = localtime.day_bounds(date(2026, 3, 8), NY)
    none = parse_aggregate_results_checked(
        None, window_start=start, window_end=end, interval_minutes=30, timezone=NY, extracted_at=EXTRACTED
    )
    assert none.height == 0 and none.schema == RAW_AGGREGATES


def test_partial_groups_kept_with_the_missing_key_null_but_null_keys_rejected() -> None:
    data = [{"interval": bucket(first_start()), "metrics": [{"metric": "nOffered", "stats": {"count": 1}}]}]
    partial = [
        group(None, "voice", data),
        group("q1", None, data),
        group("q1", "voice", data, direction=None),
        {"data": data},
        group("q2", "chat", data, direction="outbound"),
    ]
    raw = parse(partial)
    assert raw.select("queue_id", "media_type", "direction").rows() == [
        (None, "voice", "inbound"),
        ("q1", None, "inbound"),
        ("q1", "voice", None),
        (None, None, None),
        ("q2", "chat", "outbound"),
    ]
    assert raw["count"].sum() == 5  # nothing an answer holds is dropped
    explicit_null = {"group": {"queueId": "q1", "mediaType": "voice", "direction": None}, "data": data}
    with pytest.raises(AggregatesFormatError, match=r"direction None"):
        parse([explicit_null])
    with pytest.raises(AggregatesFormatError, match=r"queueId None.*partial group leaves the key out"):
        parse([group(None, "voice", data, queueId=None)])
    with pytest.raises(AggregatesFormatError, match=r"mediaType ''"):
        parse([group("q1", None, data, mediaType="")])


def test_unknown_fields_ignored_and_contract_violations_pass_through() -> None:
    start = first_start()
    metrics = [
        {"metric": "nOffered", "qualifier": "x", "stats": {"count": -2.0, "p95": 7, "countPositive": 1}},
        {"metric": "nOffered", "stats": {"count": 5}},
        {"metric": "oServiceLevel", "stats": {"numerator": 5, "denominator": 3}},
    ]
    results = [
        group("q1", "voice", [{"interval": bucket(start), "metrics": metrics, "extra": 1}], divisionId="d")
    ]
    raw = parse(results)
    assert raw.filter(pl.col("metric") == "nOffered")["count"].to_list() == [-2, 5]
    assert raw.filter(pl.col("metric") == "oServiceLevel")["numerator"].to_list() == [5]


def test_unknown_field_with_odd_type_takes_checked_path() -> None:
    metrics = [{"metric": "nOffered", "stats": {"count": 4.0, "note": "text", "flag": True}}]
    results = [group("q1", "voice", [{"interval": bucket(first_start()), "metrics": metrics}])]
    assert parse(results)["count"].to_list() == [4]


@pytest.mark.parametrize(
    ("stats", "message"),
    [
        ({"count": 1.5}, r"stats\.count is 1\.5, not a whole number"),
        ({"count": "3"}, r"stats\.count is '3', not a number"),
        ({"sum": True}, r"stats\.sum is True, not a number"),
        ({"count": float("nan")}, r"stats\.count is nan"),
        ({"count": 2**70}, r"not a whole number within Int64"),
        ({"target": "high"}, r"stats\.target is 'high'"),
    ],
)
def test_bad_numbers_rejected_with_location(stats: dict[str, Any], message: str, entry_point: str) -> None:
    if entry_point == "bytes" and message.endswith("is nan"):
        # NaN is not JSON: an answer holding it is refused as a broken body, which the HTTP layer retries.
        message = "unexpected character"
    start = first_start()
    good = {"metric": "nOffered", "stats": {"count": 1.0}}
    results = [
        group("q1", "voice", [{"interval": bucket(start), "metrics": [good, good]}]),
        group(
            "q2",
            "chat",
            [
                {
                    "interval": bucket(start + timedelta(minutes=30)),
                    "metrics": [good, {"metric": "tWait", "stats": stats}],
                }
            ],
        ),
    ]
    expected = orjson.JSONDecodeError if message == "unexpected character" else AggregatesFormatError
    with pytest.raises(expected, match=message) as info:
        parse(results)
    if expected is orjson.JSONDecodeError:
        return
    text = str(info.value)
    assert "queueId='q2'" in text and "mediaType='chat'" in text and "'tWait'" in text
    assert "2026-03-08T05:30:00.000Z" in text


def test_malformed_entries_rejected() -> None:
    start = first_start()
    with pytest.raises(AggregatesFormatError, match="'stats' is a list"):
        parse(
            [
                group(
                    "q1",
                    "voice",
                    [{"interval": bucket(start), "metrics": [{"metric": "nOffered", "stats": [1]}]}],
                )
            ]
        )
    with pytest.raises(AggregatesFormatError, match="must be an object with 'metric' and 'stats'"):
        parse([group("q1", "voice", [{"interval": bucket(start), "metrics": [{"stats": {"count": 1}}]}])])
    with pytest.raises(AggregatesFormatError, match="metric name must be a non-empty string"):
        parse([group("q1", "voice", [{"interval": bucket(start), "metrics": [{"metric": 7, "stats": {}}]}])])


@pytest.mark.parametrize(
    ("interval", "message"),
    [
        ("yesterday", r"is not an ISO-8601 'start/end' pair"),
        ("2026-03-08T05:00:00/2026-03-08T05:30:00", r"offset-qualified"),
        ("2026-03-08T05:00:00.000Z/2026-03-08T06:00:00.000Z", r"lasts 3600000 ms.*granularity is 1800000 ms"),
        ("2026-03-08T05:00:00.000Z/2026-03-08T05:29:59.999Z", r"lasts 1799999 ms.*granularity is 1800000 ms"),
        ("2026-03-08T05:15:00.000Z/2026-03-08T05:45:00.000Z", r"starts at 2026-03-08 00:15 America/New_York"),
        ("2026-03-09T04:00:00.000Z/2026-03-09T04:30:00.000Z", r"outside the queried window"),
        ("2026-03-08T04:30:00.000Z/2026-03-08T05:00:00.000Z", r"outside the queried window"),
    ],
)
def test_bad_intervals_rejected(interval: str, message: str) -> None:
    results = [
        group(
            "q1",
            "voice",
            [{"interval": interval, "metrics": [{"metric": "nOffered", "stats": {"count": 1}}]}],
        )
    ]
    with pytest.raises(AggregatesFormatError, match=message) as info:
        parse(results)
    assert "queueId='q1'" in str(info.value)


def test_dst_days_accept_every_local_bucket() -> None:
    for day, expected in ((date(2026, 3, 8), 46), (date(2026, 11, 1), 50)):
        starts = localtime.interval_starts(day, NY, 30)
        data = [
            {"interval": bucket(s), "metrics": [{"metric": "nOffered", "stats": {"count": 1}}]}
            for s in starts
        ]
        raw = parse([group("q1", "voice", data)], day=day)
        assert raw.height == expected
        assert raw["local_date"].unique().to_list() == [day]


def test_berlin_half_hour_offsets_and_hourly_granularity() -> None:
    day = date(2026, 3, 29)  # Europe/Berlin springs forward: 23 hours
    starts = localtime.interval_starts(day, "Europe/Berlin", 60)
    data = [
        {"interval": bucket(s, 60), "metrics": [{"metric": "nOffered", "stats": {"count": 2}}]}
        for s in starts
    ]
    raw = parse([group("q1", "voice", data)], day=day, tz="Europe/Berlin", minutes=60)
    assert raw.height == 23
    assert raw["interval_start"].min() == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)


def test_multi_day_window_assigns_local_dates() -> None:
    first, last = date(2026, 10, 31), date(2026, 11, 1)
    start, end = localtime.days_bounds(first, last, NY)
    late = localtime.local_midnight(last, NY) - timedelta(minutes=30)
    results = [
        group(
            "q1",
            "voice",
            [
                {"interval": bucket(late), "metrics": [{"metric": "nOffered", "stats": {"count": 1}}]},
                {
                    "interval": bucket(localtime.local_midnight(last, NY)),
                    "metrics": [{"metric": "nOffered", "stats": {"count": 2}}],
                },
            ],
        )
    ]
    raw = parse_aggregate_results_checked(
        results, window_start=start, window_end=end, interval_minutes=30, timezone=NY, extracted_at=EXTRACTED
    )
    assert raw["local_date"].to_list() == [first, last]


def test_sandbox_weeks_read_as_columns_equal_the_parsed_path() -> None:
    from genesys_assets.genesys.ranges import aggregates_body
    from genesys_assets.sandbox import SandboxConfig, SandboxServer
    from genesys_assets.schema import AGGREGATE_METRICS

    sandbox = SandboxServer(
        SandboxConfig(queue_count=12, timezone=NY, start_date=date(2026, 10, 20), end_date=date(2026, 11, 10))
    )
    first, last = date(2026, 10, 27), date(2026, 11, 2)  # DST ends 2026-11-01: a 25-hour day
    start, end = localtime.days_bounds(first, last, NY)
    body = aggregates_body(start, end, timezone=NY, granularity="PT30M", metrics=AGGREGATE_METRICS)
    answer = orjson.dumps(sandbox.query(body))
    window = {
        "window_start": start,
        "window_end": end,
        "interval_minutes": 30,
        "timezone": NY,
        "extracted_at": EXTRACTED,
    }
    columnar = flatten._columnar_answer(answer, flatten._BucketIndex(start, end, 30, NY), EXTRACTED)
    assert columnar is not None  # a normal answer never needs the slower parsed path
    parsed = flatten.parse_aggregate_results_checked(orjson.loads(answer)["results"], **window)
    assert parsed.height > 10_000 and set(parsed["local_date"]) == set(localtime.iter_days(first, last))
    assert columnar.equals(parsed) and columnar.schema == parsed.schema == RAW_AGGREGATES
    assert flatten.parse_aggregate_answer(answer, **window).equals(parsed)


def test_a_bucket_off_the_grid_is_rejected_even_without_metrics() -> None:
    off_grid = bucket(first_start() + timedelta(minutes=10))
    with pytest.raises(AggregatesFormatError, match="not on a 30-minute boundary"):
        parse([group("q1", "voice", [{"interval": off_grid, "metrics": []}])])
