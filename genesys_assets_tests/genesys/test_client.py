"""Typed calls against the sandbox org: the queue directory and range fetches (sync and async, DST)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from genesys_assets.genesys import FetchProgress, GenesysClient
from genesys_assets.genesys.errors import BadRequest, ServerUnavailable
from genesys_assets.genesys.records import MEDIA_TYPES
from genesys_assets.localtime import iter_days, parse_iso_instant
from genesys_assets.sandbox import SandboxServer
from genesys_assets_tests.sandbox_fixtures import client_settings, daily_measures

NY = "America/New_York"
MakeSandbox = Callable[..., SandboxServer]


def test_queue_directory_reads_every_page(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    server = make_sandbox(queue_count=130, sl_percentage_scale=100.0)  # percentages sent as 80.0
    with GenesysClient(client_settings(server, tmp_path)) as client:
        queues = client.list_queues()
        stats = client.stats
    assert len(queues) == 130 == len({q.id for q in queues})
    assert stats.api_calls == 2  # pages of 100
    assert [q.id for q in queues] == sorted(q.id for q in queues)
    for queue in queues:
        truth = server.truth.queue(queue.id)
        assert queue.name == truth.name and queue.division_id == truth.division_id
        # All five settings blocks, in analytics names ("voice", not "call"), each with its own target.
        assert tuple(queue.service_levels) == MEDIA_TYPES
        for media, (target, duration_ms) in queue.service_levels.items():
            expected_target, expected_ms = truth.service_levels[media]
            assert target == pytest.approx(expected_target, abs=1e-4) and 0 <= (target or 0) <= 1
            assert duration_ms == expected_ms
        assert queue.date_created == truth.date_created
    # Blocks of channels a queue does not serve carry Genesys's defaults, e.g. 24 hours for email.
    email_defaults = [
        q.service_levels["email"] for q in queues if "email" not in server.truth.queue(q.id).media_types
    ]
    assert email_defaults and all(level == (pytest.approx(0.8), 86_400_000) for level in email_defaults)


def test_queue_filter_by_ids_reports_missing_ones(
    sandbox: SandboxServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wanted = sandbox.truth.queue_ids()[:2]
    caplog.set_level(logging.WARNING, logger="genesys_assets.genesys")
    with GenesysClient(client_settings(sandbox, tmp_path)) as client:
        queues = client.list_queues([*wanted, "no-such-queue", wanted[0]])
    assert [q.id for q in queues] == sorted(wanted)
    assert "no-such-queue" in caplog.text and "routing:queue:view" in caplog.text


def test_sync_and_async_fetches_match_the_truth_across_dst(sandbox: SandboxServer, tmp_path: Path) -> None:
    first, last = date(2026, 3, 1), date(2026, 3, 14)  # DST starts 2026-03-08 in New York
    progress: list[FetchProgress] = []
    with GenesysClient(client_settings(sandbox, tmp_path)) as client:
        sync = client.fetch_aggregates(first, last, timezone=NY, on_progress=progress.append)
        sync_calls = client.stats.api_calls
        jobs = client.fetch_aggregates(first, last, timezone=NY, mode="async")
    assert sync.mode == "sync" and len(sync.chunks) == 2 and sync.calls == sync_calls + 1  # + token call
    assert jobs.mode == "async" and len(jobs.chunks) == 1
    assert [(p.chunks_done, p.chunks_total) for p in progress] == [(1, 2), (2, 2)]
    assert progress[-1].calls == 3 and progress[-1].http_429 == 0
    assert "2/2 chunks done" in str(progress[-1])

    dst_chunk = sync.chunks[1]
    assert dst_chunk.first_day == date(2026, 3, 8)
    assert dst_chunk.window_end - dst_chunk.window_start == timedelta(hours=7 * 24 - 1)
    starts = {
        parse_iso_instant(entry["interval"].split("/")[0])
        for result in dst_chunk.results
        for entry in result["data"]
    }
    assert all(dst_chunk.window_start <= start < dst_chunk.window_end for start in starts)
    assert all((start - dst_chunk.window_start) % timedelta(minutes=30) == timedelta(0) for start in starts)
    dst_day = [s for s in starts if s < dst_chunk.window_start + timedelta(hours=23)]
    assert 0 < len(dst_day) <= 46  # the 23-hour day has 46 half hours

    from_sync = _measured_by_day(sync)
    assert from_sync == _measured_by_day(jobs)
    queue_id = sandbox.truth.queue_ids()[0]
    for day in iter_days(first, last):
        expected = sandbox.truth.daily_totals(queue_id, "voice", day)
        assert from_sync.get((queue_id, "voice", "inbound", day), dict.fromkeys(expected, 0)) == expected


def test_chunks_fetched_ahead_arrive_in_order_and_equal_one_at_a_time(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    server = make_sandbox()
    first, last = date(2026, 5, 1), date(2026, 5, 28)  # four weekly chunks
    with GenesysClient(client_settings(server, tmp_path)) as client:
        one_at_a_time = [chunk.answer for chunk in client.iter_aggregates(first, last, timezone=NY)]
        ahead = list(client.iter_aggregates(first, last, timezone=NY, in_flight=2))
    assert [(c.first_day, c.last_day) for c in ahead] == [
        (date(2026, 5, 1) + timedelta(days=7 * i), date(2026, 5, 7) + timedelta(days=7 * i)) for i in range(4)
    ]
    assert [c.answer for c in ahead] == one_at_a_time

    # An outage on the third chunk's days reaches the caller at that chunk, after the first two.
    server.update(outage_days={date(2026, 5, 16)}, max_query_days=7)
    fast = client_settings(server, tmp_path, max_attempts=1)
    received = []
    with GenesysClient(fast) as client, pytest.raises(ServerUnavailable):
        for chunk in client.iter_aggregates(first, last, timezone=NY, in_flight=2):
            received.append(chunk.first_day)
    assert received == [date(2026, 5, 1), date(2026, 5, 8)]


def test_fetch_filters_queues_and_reads_paged_job_results(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    server = make_sandbox(queue_count=6, job_page_size=2)
    wanted = server.truth.queue_ids()[:3]
    with GenesysClient(client_settings(server, tmp_path, job_page_size=2)) as client:
        fetch = client.fetch_aggregates(
            date(2026, 4, 1),
            date(2026, 4, 30),
            timezone=NY,
            granularity="PT1H",
            queue_ids=wanted,
            mode="async",
        )
        stats = client.stats
    groups = [r["group"] for r in fetch.chunks[0].results]
    assert {g["queueId"] for g in groups} == set(wanted)
    pages = server.stats()["requests"]["job_results"]
    assert pages == -(-len(groups) // 2) > 1  # every cursor page was read
    assert fetch.calls == stats.total_calls


@pytest.mark.parametrize(
    ("queue_count", "mode", "data_calls"),
    [
        # 2 queues: 6 groups (one of them co-browse), one result page of 25 per job: 12 x (submit + 2 polls +
        # 1 page) = 48.
        (2, "async", 48),
        # 40 queues: 111 groups, 5 pages per job: 12 x 8 = 96 > 53 weekly synchronous queries.
        (40, "sync", 53),
    ],
)
def test_a_year_is_planned_from_the_groups_with_traffic_in_its_last_week(
    make_sandbox: MakeSandbox, tmp_path: Path, queue_count: int, mode: str, data_calls: int
) -> None:
    server = make_sandbox(queue_count=queue_count)
    with GenesysClient(client_settings(server, tmp_path)) as client:
        year = client.plan(date(2025, 11, 1), date(2026, 10, 31), timezone=NY)
        probe_calls = client.stats.api_calls
        week = client.plan(date(2026, 10, 1), date(2026, 10, 7), timezone=NY)
        assert (
            client.stats.api_calls == probe_calls
        )  # where synchronous queries win anyway, nothing is probed
    # Groups are the queue x media type x direction pairs with traffic in the range's last 7 days, whatever
    # settings blocks the queues carry.
    last_week = list(iter_days(date(2026, 10, 25), date(2026, 10, 31)))
    groups = {
        (queue_id, media, direction)
        for queue_id in server.truth.queue_ids()
        for media, direction in server.truth.channels(queue_id)
        for day in last_week
        if any(server.truth.daily_totals(queue_id, media, day, direction).values())
    }
    assert len(groups) == {2: 6, 40: 111}[queue_count]
    assert (year.mode, year.estimated_calls) == (mode, data_calls)
    assert year.estimated_calls == min(year.sync_calls, year.async_calls)
    assert probe_calls == 1 == server.stats()["requests"]["aggregates_query"]  # one query counted them
    assert (week.mode, week.estimated_calls) == ("sync", 1)


def _measured_by_day(fetch: Any) -> dict[tuple[Any, ...], dict[str, Any]]:
    return daily_measures([r for chunk in fetch.chunks for r in chunk.results], NY)


def _truth_by_day(server: Any, first: date, last: date) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {
        (row.pop("queue_id"), row.pop("media_type"), row.pop("direction"), row.pop("local_date")): row
        for row in server.truth.daily_frame(first, last).iter_rows(named=True)
    }


def test_a_year_through_an_org_that_takes_three_day_queries_is_exact(
    make_sandbox: MakeSandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_sandbox(max_query_days=3)  # the client starts with 7-day queries
    first, last = date(2026, 1, 1), date(2026, 12, 31)
    caplog.set_level(logging.WARNING, logger="genesys_assets.genesys")
    with GenesysClient(client_settings(server, tmp_path, fetch_mode="sync")) as client:
        fetch = client.fetch_aggregates(first, last, timezone=NY)
    assert fetch.mode == "sync" and len(fetch.chunks) == 53
    # The first week: 7 days refused, then 4; 2 + 2 + 3 accepted. Every later week: 3 + 3 + 1; the last
    # chunk of the year is one day.
    queries = server.stats()["requests"]["aggregates_query"]
    assert queries == 2 + 3 + 51 * 3 + 1 == 159
    assert server.stats()["status"]["400"] == 2
    refusals = [r.getMessage() for r in caplog.records if "as too large" in r.getMessage()]
    assert len(refusals) == 2 and "2026-01-01..2026-01-07 (7 days)" in refusals[0]
    assert "querying 2026-01-01..2026-01-04 and 2026-01-05..2026-01-07 instead" in refusals[0]

    expected = _truth_by_day(server, first, last)
    assert len(expected) > 365 * 4 and _measured_by_day(fetch) == expected


def test_the_group_count_is_split_too_when_the_org_takes_three_day_queries(
    make_sandbox: MakeSandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # In auto mode a year first counts the groups of its last 7 days, which this org refuses as too large.
    server = make_sandbox(max_query_days=3)
    first, last = date(2026, 1, 1), date(2026, 12, 31)
    caplog.set_level(logging.WARNING, logger="genesys_assets.genesys")
    with GenesysClient(client_settings(server, tmp_path, fetch_mode="auto")) as client:
        fetch = client.fetch_aggregates(first, last, timezone=NY)
    refusals = [r.getMessage() for r in caplog.records if "as too large" in r.getMessage()]
    # 7 days refused, then 4: the count is 2 + 2 + 3 days, and no later query is refused.
    assert len(refusals) == 2 and "2026-12-25..2026-12-31 (7 days)" in refusals[0]
    assert server.stats()["status"]["400"] == 2
    assert _measured_by_day(fetch) == _truth_by_day(server, first, last)


@pytest.mark.parametrize(
    ("fault", "knobs", "created", "sent", "queries"),
    [
        # The job is created, then the answer is cut off or too slow: the client cannot tell, so it does not
        # submit again and reads the month with 7-day synchronous queries instead.
        ("reset", {}, 1, 1, 5),
        ("slow", {"slow_seconds": 1.0}, 1, 1, 5),
        # A gateway error says nothing about whether the org created the job: same.
        ("504", {}, 0, 1, 5),
        # A 429 proves the submission was not processed: it is sent again and the job is used.
        ("429", {"retry_after_s": 0}, 1, 2, 0),
    ],
)
def test_a_job_submission_is_never_processed_twice(
    make_sandbox: MakeSandbox,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    knobs: dict[str, Any],
    created: int,
    sent: int,
    queries: int,
) -> None:
    server = make_sandbox(fault_script=(fault,), **knobs)  # the first API call is the job submission
    first, last = date(2026, 7, 1), date(2026, 7, 31)
    caplog.set_level(logging.WARNING, logger="genesys_assets.genesys")
    with GenesysClient(client_settings(server, tmp_path, timeout_s=0.5)) as client:
        fetch = client.fetch_aggregates(first, last, timezone=NY, mode="async")
    deadline = time.monotonic() + 3  # a slow submission is still being handled after the client gave up
    while server.stats()["jobs_created"] < created and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = server.stats()
    assert stats["faults_injected"] == {fault: 1}
    assert stats["jobs_created"] == created and stats["requests"]["jobs_create"] == sent
    assert stats["requests"].get("aggregates_query", 0) == queries
    assert ("it is not submitted again" in caplog.text) == (queries > 0)
    assert _measured_by_day(fetch) == _truth_by_day(server, first, last)


def test_a_long_queue_filter_is_sent_in_batches_the_org_accepts(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    server = make_sandbox(queue_count=150, start_date=date(2025, 1, 1))  # the org takes 100 predicates
    wanted = [*server.truth.queue_ids(), server.truth.queue_ids()[0]]
    day = date(2026, 6, 2)
    with GenesysClient(client_settings(server, tmp_path)) as client:
        fetch = client.fetch_aggregates(day, day, timezone=NY, queue_ids=wanted)
    assert server.stats()["requests"]["aggregates_query"] == 2  # 100 + 50 queue ids
    assert server.stats()["status"].get("400", 0) == 0
    expected = _truth_by_day(server, day, day)
    assert len({key[0] for key in expected}) > 100 and _measured_by_day(fetch) == expected

    # Configured past the org's limit, the one-day query is refused and the error says what to lower.
    too_many = client_settings(server, tmp_path, max_queue_predicates=120)
    with GenesysClient(too_many) as client, pytest.raises(BadRequest) as caught:
        client.fetch_aggregates(day, day, timezone=NY, queue_ids=wanted)
    assert "more than the maximum of 100" in str(caught.value)
    assert "GENESYS_MAX_QUEUE_PREDICATES" in str(caught.value)


def test_chunks_hold_their_share_of_a_row_budget_and_lose_nothing(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    server = make_sandbox(queue_count=40)
    first, last = date(2026, 10, 1), date(2026, 10, 14)
    # 111 groups with traffic x 48 half-hours = 5,328 rows a day; 3 chunks held at once (the caller's and two
    # in flight) share 36,000 rows: 12,000 each, so chunks of 2 days.
    with GenesysClient(client_settings(server, tmp_path, fetch_mode="sync")) as client:
        bounded = list(client.iter_aggregates(first, last, timezone=NY, in_flight=2, max_rows_held=36_000))
        counted = server.stats()["requests"]["aggregates_query"] - len(bounded)
        whole = list(client.iter_aggregates(first, last, timezone=NY))
    assert [(chunk.last_day - chunk.first_day).days + 1 for chunk in bounded] == [2] * 7
    assert counted == 1  # the groups were counted once, by one query
    assert [(chunk.last_day - chunk.first_day).days + 1 for chunk in whole] == [7, 7]
    assert daily_measures([r for c in bounded for r in c.results], NY) == daily_measures(
        [r for c in whole for r in c.results], NY
    )
