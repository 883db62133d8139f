"""The sandbox's aggregates answers are exact and self-consistent, over real HTTP.

Granularities add up (PT15M/PT30M/PT1H buckets sum to the P1D bucket), DST days have 46/50 half-hours in
New York and Berlin, zero activity is omitted, answers equal the independently computed ground truth, and
the data is deterministic and independent of the queried range.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import polars as pl
import pytest

from genesys_assets.localtime import day_bounds, interval_starts, iso_interval
from genesys_assets.sandbox import SandboxServer
from genesys_assets.sandbox.generator import OUTCOME_ABANDONED, OUTCOME_ANSWERED, OUTCOME_SESSION
from genesys_assets.sandbox.queues import SETTINGS_NAME
from genesys_assets.schema import KPI_MEASURES
from genesys_assets_tests.sandbox_fixtures import (
    AGGREGATES_PATH,
    QUEUES_PATH,
    aggregates_body,
    daily_measures,
    sandbox_http,
)

NY = "America/New_York"
BERLIN = "Europe/Berlin"


def query(server: SandboxServer, body: dict[str, Any]) -> dict[str, Any]:
    with sandbox_http(server) as http:
        response = http.post(AGGREGATES_PATH, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rollup(results: list[dict[str, Any]]) -> dict[tuple[str, ...], dict[str, float]]:
    """(queue, media, direction, metric) -> stats summed over every bucket (count, sum, numerator,
    denominator; min/max)."""
    out: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
    for result in results:
        group = result["group"]
        key = (group["queueId"], group["mediaType"], group["direction"])
        for bucket in result["data"]:
            for metric in bucket["metrics"]:
                acc = out[(*key, metric["metric"])]
                for stat, value in metric["stats"].items():
                    if stat in ("ratio", "target"):
                        continue
                    if stat == "min":
                        acc[stat] = min(acc.get(stat, value), value)
                    elif stat == "max":
                        acc[stat] = max(acc.get(stat, value), value)
                    else:
                        acc[stat] = acc.get(stat, 0) + value
    return dict(out)


def test_granularities_sum_to_the_daily_bucket(sandbox: SandboxServer) -> None:
    day = date(2026, 3, 10)
    daily = query(sandbox, aggregates_body(day, day, NY, granularity="P1D"))
    for result in daily["results"]:
        assert [b["interval"] for b in result["data"]] == [iso_interval(*day_bounds(day, NY))]
    expected = rollup(daily["results"])
    assert expected
    for granularity in ("PT15M", "PT30M", "PT1H", None):
        assert (
            rollup(query(sandbox, aggregates_body(day, day, NY, granularity=granularity))["results"])
            == expected
        )


@pytest.mark.parametrize(
    ("timezone", "day", "hours"),
    [
        (NY, date(2026, 3, 8), 23),
        (NY, date(2026, 11, 1), 25),
        (BERLIN, date(2026, 3, 29), 23),
        (BERLIN, date(2026, 10, 25), 25),
    ],
)
def test_dst_days_have_23_or_25_hours_of_buckets(
    make_sandbox: Callable[..., SandboxServer], timezone: str, day: date, hours: int
) -> None:
    server = make_sandbox(timezone=timezone, queue_count=30, conversations_per_queue_day=1200)
    body = aggregates_body(day, day, timezone, granularity="PT30M", group_by=[], metrics=["nOffered"])
    buckets = query(server, body)["results"][0]["data"]
    grid = [iso_interval(s, s + timedelta(minutes=30)) for s in interval_starts(day, timezone, 30)]
    assert len(grid) == 2 * hours
    assert [b["interval"] for b in buckets] == grid  # busy enough that every half-hour has offers

    half_hourly = query(server, aggregates_body(day, day, timezone, granularity="PT30M"))
    hourly = query(server, aggregates_body(day, day, timezone, granularity="PT1H"))
    daily = query(server, aggregates_body(day, day, timezone, granularity="P1D"))
    start, end = day_bounds(day, timezone)
    assert (end - start) == timedelta(hours=hours)
    assert {b["interval"] for r in daily["results"] for b in r["data"]} == {iso_interval(start, end)}
    assert len({b["interval"] for r in hourly["results"] for b in r["data"]}) == hours
    assert rollup(half_hourly["results"]) == rollup(daily["results"]) == rollup(hourly["results"])
    measured = daily_measures(half_hourly["results"], timezone)
    for (queue_id, media, direction, local_day), measures in measured.items():
        assert local_day == day
        assert measures == server.truth.daily_totals(queue_id, media, day, direction)


def test_answers_equal_ground_truth_across_midnight(sandbox: SandboxServer) -> None:
    first, last = date(2026, 3, 6), date(2026, 3, 9)  # spans the New York spring-forward day
    answer = query(sandbox, aggregates_body(first, last, NY))
    measured = daily_measures(answer["results"], NY)
    expected = {}
    day = first
    while day <= last:
        for queue in sandbox.truth.queues():
            for media, direction in sandbox.truth.channels(queue.id):
                totals = sandbox.truth.daily_totals(queue.id, media, day, direction)
                if any(totals.values()):
                    expected[(queue.id, media, direction, day)] = totals
        day += timedelta(days=1)
    assert measured == expected
    assert len(expected) >= 4 * len(sandbox.truth.queues())


def test_metrics_land_on_the_day_of_their_event(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(queue_count=20, conversations_per_queue_day=150)
    day = date(2026, 9, 15)
    midnight, _ = day_bounds(day + timedelta(days=1), NY)
    data = server.org.day(day)
    crossing = (data.offered < midnight.timestamp() * 1000) & (data.wait_end >= midnight.timestamp() * 1000)
    assert crossing.any()  # some conversations are offered before midnight and leave the queue after it
    first, last = day, day + timedelta(days=1)
    answer = query(server, aggregates_body(first, last, NY))
    measured = daily_measures(answer["results"], NY)
    frame = server.truth.daily_frame(first, last)
    assert frame.height == len(measured)
    for row in frame.iter_rows(named=True):
        key = (row.pop("queue_id"), row.pop("media_type"), row.pop("direction"), row.pop("local_date"))
        assert measured[key] == row
    outbound = frame.filter(pl.col("direction") == "outbound")
    assert outbound.height > 0 and (outbound["handle_count"] > 0).all()
    assert outbound.select("offered", "answered", "abandoned", "wait_count", "sl_denominator").sum().row(
        0
    ) == (
        0,
        0,
        0,
        0,
        0,
    )  # outbound work has no queue offers, answers, abandons, waits or service level
    # Per day, offered is not answered + abandoned + flow-outs: each metric counts on its own day.
    assert (frame["answered"] + frame["abandoned"] + frame["flow_out"] != frame["offered"]).any()


def test_only_requested_metrics_groups_and_filters(sandbox: SandboxServer) -> None:
    day = date(2026, 3, 11)
    start, _ = day_bounds(day, NY)
    messaging = [
        q.id for q in sandbox.truth.queues() if "message" in q.media_types and q.date_created < start
    ]
    assert len(messaging) >= 2
    body = aggregates_body(
        day, day, NY, queue_ids=messaging[:2], media_type="message", metrics=["nOffered", "tHandle"]
    )
    results = query(sandbox, body)["results"]
    assert {r["group"]["queueId"] for r in results} == set(messaging[:2])
    assert {r["group"]["mediaType"] for r in results} == {"message"}
    assert {m["metric"] for r in results for b in r["data"] for m in b["metrics"]} == {"nOffered", "tHandle"}
    for result in results:
        for bucket in result["data"]:
            for metric in bucket["metrics"]:
                expected = {"count"} if metric["metric"] == "nOffered" else {"count", "sum", "min", "max"}
                assert set(metric["stats"]) == expected
                assert metric["stats"]["count"] > 0
    per_queue = query(sandbox, aggregates_body(day, day, NY, group_by=["queueId"], metrics=["nOffered"]))
    assert all(set(r["group"]) == {"queueId"} for r in per_queue["results"])


def test_zero_activity_is_omitted(make_sandbox: Callable[..., SandboxServer]) -> None:
    quiet_day = date(2026, 4, 15)
    server = make_sandbox(quiet_days=[quiet_day], quiet_queues=[1])
    quiet_queue = server.truth.queues()[1].id
    assert query(server, aggregates_body(quiet_day, quiet_day, NY)) == {}  # no "results" key at all
    around = query(server, aggregates_body(quiet_day - timedelta(days=1), quiet_day + timedelta(days=1), NY))
    assert quiet_queue not in {r["group"]["queueId"] for r in around["results"]}
    measured = daily_measures(around["results"], NY)
    assert not [key for key in measured if key[2] == quiet_day]
    assert not any(server.truth.daily_totals(quiet_queue, "voice", quiet_day - timedelta(days=1)).values())
    with sandbox_http(server) as http:
        listing = http.get(QUEUES_PATH, params={"pageSize": 100}).json()
    assert quiet_queue in {q["id"] for q in listing["entities"]}  # quiet, not deleted


def test_new_queue_has_no_data_before_it_was_created(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(
        queue_count=10, new_queue_share=0.2, start_date=date(2026, 1, 1), end_date=date(2026, 3, 31)
    )
    new = [
        q
        for q in server.truth.queues()
        if q.date_created > datetime(2026, 1, 1, 12, tzinfo=q.date_created.tzinfo)
    ]
    assert len(new) == 2
    queue = new[0]
    created_day = queue.date_created.astimezone(ZoneInfo(NY)).date()
    before = aggregates_body(
        created_day - timedelta(days=3), created_day - timedelta(days=1), NY, queue_ids=[queue.id]
    )
    assert query(server, before) == {}
    after = aggregates_body(created_day, created_day + timedelta(days=2), NY, queue_ids=[queue.id])
    first_offer = min(
        instant(b["interval"].split("/")[1]) for r in query(server, after)["results"] for b in r["data"]
    )
    assert first_offer > queue.date_created


def test_deterministic_and_range_independent(make_sandbox: Callable[..., SandboxServer]) -> None:
    day = date(2026, 5, 6)
    first, second = make_sandbox(), make_sandbox()
    alone = query(first, aggregates_body(day, day, NY))
    assert query(second, aggregates_body(day, day, NY)) == alone
    # Same day inside a longer range, queried after other days were generated: identical buckets.
    week = query(second, aggregates_body(day - timedelta(days=3), day + timedelta(days=3), NY))
    start, end = day_bounds(day, NY)

    def of_day(answer: dict[str, Any]) -> dict[tuple[str, ...], list[Any]]:
        return {
            (*r["group"].values(), b["interval"]): b["metrics"]
            for r in answer["results"]
            for b in r["data"]
            if start <= instant(b["interval"].split("/")[0]) < end
        }

    assert of_day(week) == of_day(alone)
    other = make_sandbox(seed=12)
    assert query(other, aggregates_body(day, day, NY)) != alone


def test_restated_day_changes_only_its_numbers(make_sandbox: Callable[..., SandboxServer]) -> None:
    day = date(2026, 6, 10)
    server = make_sandbox()
    before = {d: query(server, aggregates_body(d, d, NY)) for d in (day - timedelta(days=1), day)}
    server.update(restated_days={day.isoformat(): 1})
    assert query(server, aggregates_body(day, day, NY)) != before[day]
    assert (
        query(server, aggregates_body(day - timedelta(days=1), day - timedelta(days=1), NY))
        == before[day - timedelta(days=1)]
    )
    measured = daily_measures(query(server, aggregates_body(day, day, NY))["results"], NY)
    for (queue_id, media, direction, local_day), measures in measured.items():
        assert measures == server.truth.daily_totals(queue_id, media, local_day, direction)


def test_empty_org(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(queue_count=0)
    with sandbox_http(server) as http:
        listing = http.get(QUEUES_PATH).json()
        answer = http.post(AGGREGATES_PATH, json=aggregates_body(date(2026, 2, 2), date(2026, 2, 2), NY))
    assert listing["entities"] == [] and listing["total"] == 0
    assert answer.status_code == 200 and answer.json() == {}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"granularity": "PT30X"}, "granularity"),
        ({"granularity": "PT0M"}, "granularity"),
        ({"timeZone": "Mars/Olympus"}, "timeZone"),
        ({"interval": "2026-01-02T00:00:00Z/2026-01-01T00:00:00Z"}, "interval"),
        ({"interval": "yesterday"}, "ISO-8601"),
        ({"metrics": ["nOfferd"]}, "nOfferd"),
        ({"groupBy": ["userId"]}, "userId"),
    ],
)
def test_invalid_queries_answer_400(sandbox: SandboxServer, change: dict[str, Any], message: str) -> None:
    body = aggregates_body(date(2026, 3, 2), date(2026, 3, 2), NY) | change
    with sandbox_http(sandbox) as http:
        response = http.post(AGGREGATES_PATH, json=body)
    assert response.status_code == 400
    error = response.json()
    assert error["status"] == 400 and error["code"] in ("bad.request", "invalid.date", "invalid.value")
    assert message in error["message"]
    assert error["contextId"] == response.headers["ININ-Correlation-Id"]


def test_week_of_200_queues_at_pt30m_is_fast(make_sandbox: Callable[..., SandboxServer]) -> None:
    server = make_sandbox(queue_count=200, conversations_per_queue_day=60)
    body = aggregates_body(date(2026, 3, 2), date(2026, 3, 8), NY)
    with sandbox_http(server, timeout=60) as http:
        started = time.perf_counter()
        response = http.post(AGGREGATES_PATH, json=body)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    results = response.json()["results"]
    _, end = day_bounds(date(2026, 3, 8), NY)
    existing = {q.id for q in server.truth.queues() if q.date_created < end}
    assert len(existing) > 150
    assert {r["group"]["queueId"] for r in results} == existing
    assert elapsed < 6.0, f"a 7-day PT30M query of 200 queues took {elapsed:.2f} s"


def test_in_process_query_matches_http_and_offsets_are_honoured(sandbox: SandboxServer) -> None:
    body = aggregates_body(date(2026, 3, 3), date(2026, 3, 3), NY)
    assert sandbox.query(body) == query(sandbox, body)
    with_offsets = {**body, "interval": "2026-03-03T00:00:00-05:00/2026-03-04T00:00:00-05:00"}
    assert query(sandbox, with_offsets) == query(sandbox, body)
    with httpx.Client(timeout=10) as http:
        assert http.get(f"{sandbox.url}/sandbox/health").json()["status"] == "ok"


# The measures added with the queue-view metrics: every KPI measure from short_abandoned on.
NEW_MEASURES = KPI_MEASURES[KPI_MEASURES.index("short_abandoned") :]


def test_queue_view_metrics_equal_truth_and_keep_their_subsets(
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    server = make_sandbox(queue_count=14, conversations_per_queue_day=80)
    first, last = date(2026, 9, 10), date(2026, 9, 14)  # Thursday to Monday: a weekend between
    answer = query(server, aggregates_body(first, last, NY))
    measured = daily_measures(answer["results"], NY)
    frame = server.truth.daily_frame(first, last)
    assert frame.height == len(measured)
    for row in frame.iter_rows(named=True):
        key = (row.pop("queue_id"), row.pop("media_type"), row.pop("direction"), row.pop("local_date"))
        assert measured[key] == row
    totals = frame.select(pl.col(name).sum() for name in NEW_MEASURES).row(0, named=True)
    assert all(totals.values()), totals  # every new column has data, so the equality above is not vacuous

    inbound = frame.filter(pl.col("direction") == "inbound")
    assert (frame["short_abandoned"] <= frame["abandoned"]).all()
    assert 0.05 < totals["short_abandoned"] / frame["abandoned"].sum() < 0.5  # a realistic share is short
    assert (frame["not_responding_count"] <= frame["alert_count"]).all()
    assert (frame["not_responding_sum_ms"] <= frame["alert_sum_ms"]).all()
    assert (inbound["alert_count"] >= inbound["answered"]).all()  # the answered alert rings too
    assert totals["alert_count"] > frame["answered"].sum()  # not-responding alerts: more alerts than answers
    assert (frame["blind_transferred"] + frame["consult_transferred"] == frame["transferred"]).all()
    assert (frame["transferred"] <= frame["talk_count"]).all()  # transfers end the talk they count with
    outbound = frame.filter(pl.col("direction") == "outbound")
    assert (
        outbound["outbound_connected"] + outbound["outbound_abandoned"] <= outbound["outbound_attempted"]
    ).all()
    assert (
        outbound["outbound_attempted"].sum()
        > outbound["outbound_connected"].sum() + outbound["outbound_abandoned"].sum()
    )
    assert (
        outbound["outbound"].sum() == outbound["handle_count"].sum()
    )  # nOutbound: calls that reached an agent
    assert outbound.filter(pl.col("local_date").dt.weekday() >= 6).height == 0  # dialing on weekdays only
    # Averages need their own counts: hold only on some conversations, talk and handle on different days.
    assert frame["hold_count"].sum() < 0.5 * frame["handle_count"].sum()
    assert _bucket_counts(answer, "tTalkComplete") != _bucket_counts(answer, "tHandle")
    assert (frame["acw_count"] == frame["handle_count"]).all()
    # Email never counts an abandon; the answer carries no tAbandon on any email row.
    email = frame.filter(pl.col("media_type") == "email")
    assert email.height and email["abandoned"].sum() == email["short_abandoned"].sum() == 0
    assert email["flow_out"].sum() > 0
    assert not [
        m
        for r in answer["results"]
        if r["group"]["mediaType"] == "email"
        for b in r["data"]
        for m in b["metrics"]
        if m["metric"] in ("tAbandon", "tShortAbandon")
    ]
    # Longest wait: the largest tWait of the day, None only where no wait ended.
    assert (frame["wait_max_ms"].is_null() == (frame["wait_count"] == 0)).all()
    assert (frame["wait_max_ms"].fill_null(0) * frame["wait_count"] >= frame["wait_sum_ms"]).all()


def test_cobrowse_sessions_are_their_own_channel_never_in_chat(
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    server = make_sandbox(queue_count=14, conversations_per_queue_day=80)
    day = date(2026, 9, 15)
    chat_queues = [q.id for q in server.truth.queues() if "chat" in q.media_types]
    assert chat_queues
    for queue_id in chat_queues:
        assert ("cobrowse", "inbound") in server.truth.channels(queue_id)
    answer = query(server, aggregates_body(day, day, NY))
    cobrowse = [r for r in answer["results"] if r["group"]["mediaType"] == "cobrowse"]
    assert {r["group"]["queueId"] for r in cobrowse} <= set(chat_queues) and cobrowse
    assert {r["group"]["direction"] for r in cobrowse} == {"inbound"}
    metrics = {m["metric"] for r in cobrowse for b in r["data"] for m in b["metrics"]}
    assert metrics == {"nOffered", "nConnected"}  # of the requested metrics; no answers, waits or work
    sessions = query(server, aggregates_body(day, day, NY, metrics=["nCobrowseSessions", "nOffered"]))
    for result in sessions["results"]:
        names = {m["metric"] for b in result["data"] for m in b["metrics"]}
        assert ("nCobrowseSessions" in names) == (result["group"]["mediaType"] == "cobrowse")
    measured = daily_measures(answer["results"], NY)
    for queue_id in chat_queues:
        chat = server.truth.daily_totals(queue_id, "chat", day)
        browse = server.truth.daily_totals(queue_id, "cobrowse", day)
        assert measured.get((queue_id, "chat", "inbound", day), chat) == chat
        assert browse["offered"] == browse["connected"] and browse["answered"] == browse["handle_count"] == 0
        assert browse["wait_max_ms"] is None and browse["alert_count"] == browse["transferred"] == 0
    sessions_offered = sum(
        m["stats"]["count"]
        for r in cobrowse
        for b in r["data"]
        for m in b["metrics"]
        if m["metric"] == "nOffered"
    )
    assert sessions_offered == sum(
        server.truth.daily_totals(q, "cobrowse", day)["offered"] for q in chat_queues
    )
    assert sessions_offered > 0
    # Filtered to chat, the answer holds the chats only; the sessions ride on them in their own media type.
    chat_only = query(
        server,
        aggregates_body(day, day, NY, media_type="chat", group_by=["queueId"], metrics=["nOffered"]),
    )
    offered = {
        r["group"]["queueId"]: sum(b["metrics"][0]["stats"]["count"] for b in r["data"])
        for r in chat_only["results"]
    }
    assert offered == {
        q: server.truth.daily_totals(q, "chat", day)["offered"]
        for q in chat_queues
        if server.truth.daily_totals(q, "chat", day)["offered"]
    }


def _bucket_counts(answer: dict[str, Any], metric: str, stat: str = "count") -> dict[tuple[str, ...], int]:
    """(queue, media type, direction, bucket interval) -> the metric's stat in an answer."""
    out: dict[tuple[str, ...], int] = defaultdict(int)
    for result in answer["results"]:
        group = result["group"]
        for bucket in result["data"]:
            for entry in bucket["metrics"]:
                if entry["metric"] == metric:
                    key = (group["queueId"], group["mediaType"], group["direction"], bucket["interval"])
                    out[key] += int(entry["stats"][stat])
    return dict(out)


def test_each_new_metric_lands_in_the_bucket_of_its_own_event(
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    server = make_sandbox(queue_count=20, conversations_per_queue_day=150)
    day = date(2026, 9, 15)
    start, end = (int(t.timestamp() * 1000) for t in day_bounds(day, NY))
    half_hour = 1_800_000
    answer = query(server, aggregates_body(day, day, NY))
    org = server.org
    data = org.days(day - timedelta(days=1), day)
    media_names = ("voice", "callback", "chat", "email", "message", "cobrowse")

    def in_buckets(
        times: np.ndarray, rows: np.ndarray, weights: np.ndarray | None = None
    ) -> dict[tuple[str, ...], int]:
        """Events (instants of the given rows) counted per group and half-hour of the day they fall in."""
        out: dict[tuple[str, ...], int] = defaultdict(int)
        for i, t in zip(rows.tolist(), times.tolist(), strict=True):
            if start <= t < end:
                b = start + (t - start) // half_hour * half_hour
                interval = iso_interval(
                    datetime.fromtimestamp(b / 1000, tz=UTC),
                    datetime.fromtimestamp((b + half_hour) / 1000, tz=UTC),
                )
                group = (
                    org.queues[data.queue[i]].id,
                    media_names[data.media[i]],
                    ("inbound", "outbound")[data.direction[i]],
                )
                out[(*group, interval)] += 1 if weights is None else int(weights[i])
        return dict(out)

    # Not-responding alerts land when they time out: the queue's alerting timeout after they started.
    timeout_s = {
        media: org.queue_settings_json(org.queues[0])["mediaSettings"][SETTINGS_NAME[media]][
            "alertingTimeoutSeconds"
        ]
        for media in media_names[:5]
    }
    want: dict[tuple[str, ...], int] = defaultdict(int)
    straddling = 0
    for j in range(data.nr_end.shape[1]):
        rows = np.flatnonzero(data.not_responding > j)
        ends = data.nr_end[rows, j]
        for key, n in in_buckets(ends, rows).items():
            want[key] += n
        starts = ends - np.array([timeout_s[media_names[m]] * 1000 for m in data.media[rows]], dtype=np.int64)
        inside = (ends >= start) & (ends < end)
        straddling += int((inside & ((starts - start) // half_hour != (ends - start) // half_hour)).sum())
    assert _bucket_counts(answer, "tNotResponding") == dict(want)
    assert straddling > 0  # alerts that start in one half-hour and time out in the next count in the later
    # Transfers land at the end of the agent's talk; short abandons at the disconnect; outbound attempts at
    # dial start and the dialer's abandons when it drops the call; connections when the agent (or the
    # co-browse session) connects.
    transferred = np.flatnonzero(data.transfer > 0)
    assert _bucket_counts(answer, "nTransferred") == in_buckets(data.talk_end[transferred], transferred)
    short = np.flatnonzero((data.direction == 0) & (data.outcome == OUTCOME_ABANDONED) & (data.wait < 10_000))
    assert _bucket_counts(answer, "tShortAbandon") == in_buckets(data.wait_end[short], short)
    assert _bucket_counts(answer, "tShortAbandon", "sum") == in_buckets(
        data.wait_end[short], short, data.wait
    )
    outbound = np.flatnonzero(data.direction == 1)
    assert _bucket_counts(answer, "nOutboundAttempted") == in_buckets(data.offered[outbound], outbound)
    dropped = np.flatnonzero((data.direction == 1) & (data.outcome == OUTCOME_ABANDONED))
    assert dropped.size and _bucket_counts(answer, "nOutboundAbandoned") == in_buckets(
        data.wait_end[dropped], dropped
    )
    connected = np.flatnonzero(data.outcome == OUTCOME_ANSWERED)
    sessions = np.flatnonzero(data.outcome == OUTCOME_SESSION)
    want = defaultdict(int, in_buckets(data.wait_end[connected], connected))
    for key, n in in_buckets(data.offered[sessions], sessions).items():
        want[key] += n
    assert sessions.size and _bucket_counts(answer, "nConnected") == dict(want)
    # Talk and handle land on different days when after-call work ends after midnight.
    frame = server.truth.daily_frame(day, day)
    assert (frame["talk_count"] != frame["handle_count"]).any()
