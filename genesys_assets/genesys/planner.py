"""Plans how a range of local days is fetched from the conversation aggregates API with the fewest calls.

Two ways exist: synchronous queries of at most ``max_sync_query_days`` days (one call each, however many
queues answer: the synchronous answer is not paged), or asynchronous jobs of at most ``max_job_days`` days
(a submit, a few status polls and one call per result page of ``job_page_size`` groups each). The planner
estimates the calls of both and picks the smaller; a tie goes to synchronous queries, which finish sooner
and need no polling waits. A job's pages grow with the number of queue x media type groups, so a large
org's year is cheapest as synchronous queries, and a small org's as jobs.

Chunk bounds are local midnights in the query's timezone (`genesys_assets.localtime`), so a chunk that
crosses a DST change is 23 or 25 hours longer or shorter than whole days of 24 hours, and consecutive
chunks share their boundary instant.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from genesys_assets.genesys.records import ChunkPlan, FetchMode, FetchPlan
from genesys_assets.localtime import days_bounds

# Status polls an aggregates job usually needs before it is FULFILLED (first poll after the initial wait).
EXPECTED_JOB_POLLS = 2


def chunk_days(first_day: date, last_day: date, max_days: int, timezone: str) -> tuple[ChunkPlan, ...]:
    """Consecutive chunks of at most ``max_days`` local days covering first_day..last_day."""
    if last_day < first_day:
        raise ValueError(f"last_day {last_day} is before first_day {first_day}.")
    if max_days < 1:
        raise ValueError(f"max_days must be at least 1, got {max_days}.")
    chunks: list[ChunkPlan] = []
    start = first_day
    while start <= last_day:
        end = min(last_day, start + timedelta(days=max_days - 1))
        window_start, window_end = days_bounds(start, end, timezone)
        chunks.append(ChunkPlan(start, end, window_start, window_end))
        start = end + timedelta(days=1)
    return tuple(chunks)


def job_calls(expected_groups: int | None, job_page_size: int) -> int:
    """Estimated calls of one aggregates job: submit + polls + result pages.

    Without ``expected_groups`` one result page is assumed: the least a job can cost.
    """
    pages = 1 if not expected_groups else max(1, math.ceil(expected_groups / job_page_size))
    return 1 + EXPECTED_JOB_POLLS + pages


def plan_fetch(
    first_day: date,
    last_day: date,
    timezone: str,
    *,
    max_sync_query_days: int,
    max_job_days: int,
    job_page_size: int = 25,
    expected_groups: int | None = None,
    mode: FetchMode | None = None,
) -> FetchPlan:
    """The plan with the fewest estimated calls (or the forced ``mode``) for local days first..last.

    ``expected_groups`` (queue x media type groups in the answer) sets the job page estimate; when it is
    unknown one result page per job is assumed, the jobs' lower bound, so a plan that still picks
    synchronous queries needs no group count (`RangeFetching.plan` counts groups only otherwise).
    """
    days = (last_day - first_day).days + 1
    if days < 1:
        raise ValueError(f"last_day {last_day} is before first_day {first_day}.")
    sync_calls = math.ceil(days / max_sync_query_days)
    async_calls = math.ceil(days / max_job_days) * job_calls(expected_groups, job_page_size)
    chosen: FetchMode = mode or ("async" if async_calls < sync_calls else "sync")
    max_days = max_sync_query_days if chosen == "sync" else max_job_days
    chunks = chunk_days(first_day, last_day, max_days, timezone)
    estimated = sync_calls if chosen == "sync" else async_calls
    return FetchPlan(
        mode=chosen, chunks=chunks, estimated_calls=estimated, sync_calls=sync_calls, async_calls=async_calls
    )
