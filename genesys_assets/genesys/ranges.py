"""`RangeFetching`: how `GenesysClient` fetches a range of local days of conversation aggregates.

* `plan` picks synchronous queries or aggregates jobs for the range (`planner.plan_fetch`), counting the
  groups a job would page through first when jobs might be cheaper (`count_groups`), and shortens the chunks
  of a large org so that each answer holds at most a given number of group x bucket rows;
* `fetch_aggregates` (and its lazy form `iter_aggregates`) fetches the range chunk by chunk, one query per
  batch of queue ids (`queue_batches`), optionally a few chunks ahead in threads, reporting progress;
* a query Genesys refuses as too large (`is_too_large`) is split into halves, and the shorter length is kept
  for the rest of the client's life; a job refused as too large, or one whose submission may have reached
  Genesys without an answer, is replaced by synchronous queries.

`aggregates_body` builds the ``ConversationAggregationQuery`` every call sends, grouped by `GROUP_BY`.
The endpoints these calls use (`query_aggregates`, `run_job`) are `GenesysClient`'s (`client.py`).
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

import orjson

from genesys_assets.genesys.errors import AmbiguousSubmission, BadRequest
from genesys_assets.genesys.http import LogLike
from genesys_assets.genesys.planner import chunk_days, plan_fetch
from genesys_assets.genesys.records import (
    AggregatesChunk,
    AggregatesFetch,
    ChunkPlan,
    FetchMode,
    FetchPlan,
    FetchProgress,
)
from genesys_assets.genesys.settings import GenesysSettings
from genesys_assets.localtime import GRANULARITY_MINUTES, iso_interval, zone

# `direction` is the session's direction, so the inbound and outbound work of one queue (a call into the
# queue and its completed callback) land on separate rows; `originatingDirection` would file all of a
# conversation under the direction it started with.
GROUP_BY: Final = ("queueId", "mediaType", "direction")
# Metrics that show a group's traffic when counting groups: inbound work is offered, outbound work handled.
_GROUP_PROBE_METRICS: Final = ("nOffered", "tHandle")
# A 400 whose message says the query is too big (the wording is not documented; these words cover
# "longer than the maximum", "too many groups", "exceeds the limit").
_TOO_LARGE: Final = re.compile(r"too (large|long|big|many)|exceed|maximum|limit", re.IGNORECASE)

MINUTES_PER_DAY: Final = 24 * 60
ProgressCallback = Callable[[FetchProgress], None]
# Reads one aggregates answer's JSON bytes for a chunk (see `RangeFetching.fetch_aggregates`).
AnswerReader = Callable[[ChunkPlan, bytes], Any]


def aggregates_body(
    window_start: datetime,
    window_end: datetime,
    *,
    timezone: str,
    granularity: str | None,
    metrics: Sequence[str],
    queue_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A ``ConversationAggregationQuery`` over [window_start, window_end) grouped by `GROUP_BY`.

    ``queue_ids`` becomes one ``or`` filter of queueId predicates; no granularity makes one bucket.
    """
    body: dict[str, Any] = {
        "interval": iso_interval(window_start, window_end),
        "timeZone": timezone,
        "groupBy": list(GROUP_BY),
        "metrics": list(metrics),
    }
    if granularity is not None:
        body["granularity"] = granularity
    if queue_ids:
        body["filter"] = {
            "type": "or",
            "predicates": [
                {"type": "dimension", "dimension": "queueId", "operator": "matches", "value": queue_id}
                for queue_id in dict.fromkeys(queue_ids)
            ],
        }
    return body


def queue_batches(queue_ids: Sequence[str], size: int) -> list[list[str]]:
    """The distinct queue ids in batches of at most ``size`` (one query filter each); [[]] for no filter."""
    unique = list(dict.fromkeys(queue_ids))
    return [unique[i : i + size] for i in range(0, len(unique), size)] or [[]]


def merge_answers(answers: Sequence[Any]) -> Any:
    """Parsed aggregates answers of one window (e.g. one per queue batch) as one answer."""
    if len(answers) == 1:
        return answers[0]
    return {"results": [result for answer in answers for result in (answer or {}).get("results") or []]}


def is_too_large(error: BadRequest) -> bool:
    """Whether Genesys refused a query (HTTP 400) because it asks for too much at once."""
    return error.status == 400 and bool(_TOO_LARGE.search(error.genesys_message or ""))


@dataclass(frozen=True)
class _Query:
    """What every query of one fetch shares: its timezone, granularity, metrics and answer reader."""

    timezone: str
    granularity: str | None  # None: one bucket over the whole interval
    metrics: tuple[str, ...]
    read_answer: AnswerReader | None

    def body(self, part: ChunkPlan, queue_ids: Sequence[str]) -> dict[str, Any]:
        return aggregates_body(
            part.window_start,
            part.window_end,
            timezone=self.timezone,
            granularity=self.granularity,
            metrics=self.metrics,
            queue_ids=queue_ids or None,
        )


def _fetched_in_order(
    chunks: Sequence[ChunkPlan], fetch: Callable[[ChunkPlan], AggregatesChunk], in_flight: int
) -> Iterator[AggregatesChunk]:
    """``fetch(chunk)`` of every chunk, in order; with ``in_flight`` > 0 that many run ahead in threads.

    Submitted fetches are bounded: besides the chunk the caller holds, at most ``in_flight`` answers are being
    fetched or waiting. When the caller stops early, fetches not yet started are cancelled.
    """
    if in_flight < 1:
        for chunk in chunks:
            yield fetch(chunk)
        return
    pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="genesys-fetch")
    pending: deque[Future[AggregatesChunk]] = deque()
    upcoming = iter(chunks)
    try:
        for chunk in upcoming:
            pending.append(pool.submit(fetch, chunk))
            if len(pending) > in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class RangeFetching:
    """The range planning and fetching of `GenesysClient`, which this class is a base of.

    It calls the client's `query_aggregates` and `run_job` and reads its `settings`, `log` and `stats`; it
    keeps what Genesys said about query lengths, which every later plan and query of the client follows.
    """

    settings: GenesysSettings
    log: LogLike

    def __init__(self) -> None:
        # What Genesys said about query lengths: the shortest it refused as too large (None: none refused) and
        # the longest it accepted below that; and whether it refused an aggregates job as too large.
        self._refused_days: int | None = None
        self._accepted_days = 0
        self._jobs_refused = False
        self._lock = threading.Lock()

    def plan(
        self,
        first_day: date,
        last_day: date,
        *,
        timezone: str = "UTC",
        queue_ids: Sequence[str] | None = None,
        mode: FetchMode | None = None,
        max_chunk_rows: int | None = None,
        granularity: str = "PT30M",
    ) -> FetchPlan:
        """The chunks and mode `fetch_aggregates` would use for local days first_day..last_day.

        With ``max_chunk_rows``, a chunk's answer holds at most about that many group x bucket rows: the
        groups are counted first (`count_groups`, one call, unless every chunk is a single day anyway) and a
        chunk gets at most ``max_chunk_rows // (groups x buckets a day)`` days (at least one). The buckets are
        those of ``granularity``; one a day for a granularity outside the pipeline's (the client takes any). A
        large org then takes shorter queries, so what a caller holds of an answer does not grow with the org.

        ``mode`` (default: the ``fetch_mode`` setting; ``auto`` plans) forces synchronous queries or jobs.
        When jobs could be cheaper than synchronous queries even at one result page each, the groups a job
        would page through are counted first, with one synchronous query of the range's last days in a
        single bucket (`count_groups`), so a large org is not sent through dozens of result pages per job
        when one synchronous query per week would do. Synchronous chunks are as long as the org accepted so
        far: a count refused as too large shortens every chunk of the plan, not only its own query.
        """
        zone(timezone)
        forced = mode or (None if self.settings.fetch_mode == "auto" else self.settings.fetch_mode)

        def planned(groups: int | None, cap: int | None) -> FetchPlan:
            # what the org accepted so far (the group count may have been refused as too large), and at most
            # `cap` days a chunk when the chunks are sized by rows
            def capped(days: int) -> int:
                return days if cap is None else min(cap, days)

            return plan_fetch(
                first_day,
                last_day,
                timezone,
                max_sync_query_days=capped(self._query_days(self.settings.max_sync_query_days)),
                max_job_days=capped(self.settings.max_job_days),
                job_page_size=self.settings.job_page_size,
                expected_groups=groups,
                mode=forced,  # type: ignore[arg-type]
            )

        probe_first = max(first_day, last_day - timedelta(days=self.settings.max_sync_query_days - 1))
        cheapest = planned(None, None)
        # Only chunks of several days can be shortened: one-day chunks need no count.
        sized = max_chunk_rows is not None and max(chunk.days for chunk in cheapest.chunks) > 1
        if not sized and (forced is not None or cheapest.mode == "sync"):
            return cheapest
        groups = self.count_groups(probe_first, last_day, timezone=timezone, queue_ids=queue_ids)
        cap: int | None = None  # the longest chunk that holds at most max_chunk_rows
        if sized and max_chunk_rows is not None:
            buckets_per_day = MINUTES_PER_DAY // GRANULARITY_MINUTES.get(granularity, MINUTES_PER_DAY)
            cap = max(1, max_chunk_rows // max(1, groups * buckets_per_day))
        chosen = planned(groups, cap)
        bounded = f", chunks of at most {cap} day(s) to hold {max_chunk_rows} rows" if cap is not None else ""
        self.log.info(
            f"{groups} queue x media type x direction groups with traffic in {probe_first}..{last_day}: "
            f"{chosen.async_calls} calls as jobs of {self.settings.job_page_size} groups per result page, "
            f"{chosen.sync_calls} as synchronous queries; using {chosen.mode}{bounded}."
        )
        return chosen

    def count_groups(
        self,
        first_day: date,
        last_day: date,
        *,
        timezone: str = "UTC",
        queue_ids: Sequence[str] | None = None,
    ) -> int:
        """Queue x media type x direction groups with traffic in local days first..last, from synchronous
        queries without buckets: one call per queue batch, split like every query when Genesys refuses one
        as too large. A partial group (one that leaves a key out) counts as a group of its own."""
        (span,) = chunk_days(first_day, last_day, (last_day - first_day).days + 1, timezone)
        query = _Query(timezone, None, _GROUP_PROBE_METRICS, None)
        groups: set[tuple[str | None, ...]] = set()
        for batch in queue_batches(queue_ids or (), self.settings.max_queue_predicates):
            for answer in self._sync_answers(span, query, batch):
                for result in answer.get("results") or []:
                    group = result.get("group") if isinstance(result, Mapping) else None
                    # A partial group (a key left out) holds data no other group has: it counts as a
                    # group of its own, as the raw table keeps it.
                    keys = group if isinstance(group, Mapping) else {}
                    groups.add(tuple(str(keys.get(k)) if k in keys else None for k in GROUP_BY))
        return len(groups)

    def iter_aggregates(
        self,
        first_day: date,
        last_day: date,
        *,
        timezone: str = "UTC",
        granularity: str = "PT30M",
        queue_ids: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
        on_progress: ProgressCallback | None = None,
        mode: FetchMode | None = None,
        read_answer: AnswerReader | None = None,
        combine: Callable[[Sequence[Any]], Any] = merge_answers,
        in_flight: int = 0,
        max_rows_held: int | None = None,
    ) -> Iterator[AggregatesChunk]:
        """Chunks of `fetch_aggregates` one at a time, in order, so a caller can process and drop each in turn.

        With ``in_flight`` > 0, that many chunks are fetched (and read with ``read_answer``) ahead by
        background threads while the caller processes the current one, so the org computes the next answers
        while this process reads and stores the last; the calls still share the client's rate limit. With 0
        every chunk is fetched when asked for. An error reaches the caller at the chunk that failed.

        ``max_rows_held`` bounds the group x bucket rows of the chunks held at once (the caller's and those in
        flight): each chunk is planned to hold at most its share (`plan`'s ``max_chunk_rows``).
        """
        plan = self.plan(
            first_day,
            last_day,
            timezone=timezone,
            queue_ids=queue_ids,
            mode=mode,
            max_chunk_rows=None if max_rows_held is None else max(1, max_rows_held // (in_flight + 1)),
            granularity=granularity,
        )
        return self._iter_plan(
            plan, timezone, granularity, queue_ids, metrics, on_progress, read_answer, combine, in_flight
        )

    def fetch_aggregates(
        self,
        first_day: date,
        last_day: date,
        *,
        timezone: str = "UTC",
        granularity: str = "PT30M",
        queue_ids: Sequence[str] | None = None,
        metrics: Sequence[str] | None = None,
        on_progress: ProgressCallback | None = None,
        mode: FetchMode | None = None,
        read_answer: AnswerReader | None = None,
        combine: Callable[[Sequence[Any]], Any] = merge_answers,
    ) -> AggregatesFetch:
        """Aggregates per queue x media type x direction for local days first_day..last_day with the fewest
        calls.

        Synchronous chunks of ``max_sync_query_days`` or async jobs of ``max_job_days``, whichever needs
        fewer calls (``mode`` forces one). Each chunk is bounded by local midnights in ``timezone`` and
        queried with that ``timeZone``, so buckets follow local time across DST changes. ``metrics``
        defaults to `schema.AGGREGATE_METRICS`. ``on_progress`` gets a `FetchProgress` after each chunk.

        A chunk may take several queries: one per batch of at most ``max_queue_predicates`` queue ids, and,
        when Genesys refuses a query as too large (HTTP 400), one per part of the chunk's days, halved until
        accepted (down to one day; the shorter length is kept for the rest of the fetch). A job whose
        submission may have been processed but got no answer is not submitted again: its days are fetched
        with synchronous queries instead.

        ``read_answer(piece, body)`` turns each answer's JSON bytes into an answer (default: the parsed
        object); for a synchronous query it runs inside the retry loop, so it must raise
        `orjson.JSONDecodeError` for a body that is not JSON. ``combine`` turns the answers of one chunk into
        `AggregatesChunk.answer` (default: their results in one answer). ``calls`` counts every HTTP call
        made, token calls included.
        """
        start = self.stats
        plan = self.plan(first_day, last_day, timezone=timezone, queue_ids=queue_ids, mode=mode)
        chunks = list(
            self._iter_plan(
                plan, timezone, granularity, queue_ids, metrics, on_progress, read_answer, combine, 0
            )
        )
        return AggregatesFetch(
            chunks=chunks, calls=self.stats.total_calls - start.total_calls, mode=plan.mode
        )

    def _iter_plan(
        self,
        plan: FetchPlan,
        timezone: str,
        granularity: str,
        queue_ids: Sequence[str] | None,
        metrics: Sequence[str] | None,
        on_progress: ProgressCallback | None,
        read_answer: AnswerReader | None,
        combine: Callable[[Sequence[Any]], Any],
        in_flight: int,
    ) -> Iterator[AggregatesChunk]:
        if metrics is None:
            from genesys_assets.schema import AGGREGATE_METRICS  # polars is imported only when needed

            metrics = AGGREGATE_METRICS
        queue_list = list(dict.fromkeys(queue_ids or ()))
        first, last = plan.chunks[0].first_day, plan.chunks[-1].last_day
        self.log.info(
            f"Genesys aggregates {first}..{last} ({timezone}, {granularity}): {len(plan.chunks)} "
            f"{plan.mode} chunk(s), about {plan.estimated_calls} calls (sync {plan.sync_calls}, "
            f"async {plan.async_calls})."
        )
        start = self.stats

        query = _Query(timezone, granularity, tuple(metrics), read_answer)

        def fetch(chunk: ChunkPlan) -> AggregatesChunk:
            answers = [
                answer
                for batch in queue_batches(queue_list, self.settings.max_queue_predicates)
                for answer in (
                    self._job_answers(chunk, query, batch)
                    if plan.mode == "async"
                    else self._sync_answers(chunk, query, batch)
                )
            ]
            return AggregatesChunk(
                first_day=chunk.first_day,
                last_day=chunk.last_day,
                window_start=chunk.window_start,
                window_end=chunk.window_end,
                answer=combine(answers),
            )

        for done, fetched in enumerate(_fetched_in_order(plan.chunks, fetch, in_flight), start=1):
            yield fetched
            if on_progress is not None:
                now = self.stats
                on_progress(
                    FetchProgress(
                        mode=plan.mode,
                        chunks_done=done,
                        chunks_total=len(plan.chunks),
                        calls=now.total_calls - start.total_calls,
                        http_429=now.http_429 - start.http_429,
                        first_day=fetched.first_day,
                        last_day=fetched.last_day,
                    )
                )

    def _query_days(self, days: int) -> int:
        """The longest query to send for ``days`` days: after a refusal, the longest length accepted below the
        shortest refused one (half the refused one until a shorter query was accepted)."""
        limit = min(days, self.settings.max_sync_query_days)
        with self._lock:
            if self._refused_days is None:
                return limit
            below = self._accepted_days or math.ceil(self._refused_days / 2)
            return max(1, min(limit, below, self._refused_days - 1))

    def _sync_answers(self, chunk: ChunkPlan, query: _Query, batch: Sequence[str]) -> list[Any]:
        """The answers of the chunk's days for one queue batch, in as many synchronous queries as Genesys
        takes: parts no longer than `_query_days`, halved again when refused."""
        limit = self._query_days(chunk.days)
        answers: list[Any] = []
        for part in chunk_days(chunk.first_day, chunk.last_day, limit, query.timezone):
            answers.extend(self._query_part(part, query, batch))
        return answers

    def _query_part(self, part: ChunkPlan, query: _Query, batch: Sequence[str]) -> list[Any]:
        body = query.body(part, batch)
        decode = functools.partial(query.read_answer, part) if query.read_answer is not None else None
        try:
            answer = self.query_aggregates(body, decode=decode)
        except BadRequest as exc:
            if not is_too_large(exc):
                raise
            with self._lock:
                self._refused_days = min(self._refused_days or part.days, part.days)
                if self._accepted_days >= self._refused_days:
                    self._accepted_days = 0
            if part.days == 1:
                raise BadRequest(
                    f"Genesys refused the aggregates query for the single day {part.first_day} as too large: "
                    f"{exc.genesys_message}. Query fewer queues at once (GENESYS_MAX_QUEUE_PREDICATES, "
                    "GENESYS_QUEUE_IDS) or a coarser GENESYS_GRANULARITY.",
                    genesys_message=exc.genesys_message,
                    code=exc.code,
                    status=exc.status,
                    correlation_id=exc.correlation_id,
                ) from None
            halves = chunk_days(part.first_day, part.last_day, math.ceil(part.days / 2), query.timezone)
            self.log.warning(
                f"Genesys refused the aggregates query for {part.first_day}..{part.last_day} ({part.days} "
                f"days) as too large ({exc.genesys_message}); querying "
                + " and ".join(f"{h.first_day}..{h.last_day}" for h in halves)
                + f" instead, and fewer than {part.days} days per query from now on."
            )
            return [answer for half in halves for answer in self._query_part(half, query, batch)]
        with self._lock:
            if self._refused_days is not None and self._accepted_days < part.days < self._refused_days:
                self._accepted_days = part.days
        return [answer]

    def _job_answers(self, chunk: ChunkPlan, query: _Query, batch: Sequence[str]) -> list[Any]:
        """The answer of the chunk's days for one queue batch from an aggregates job, or from synchronous
        queries when Genesys refused a job as too large (this one or an earlier one) or the job may have been
        created without an answer saying so."""
        if self._jobs_refused:
            return self._sync_answers(chunk, query, batch)
        try:
            results = self.run_job(query.body(chunk, batch))
        except BadRequest as exc:
            if not is_too_large(exc):
                raise
            self._jobs_refused = True
            self.log.warning(
                f"Genesys refused the aggregates job for {chunk.first_day}..{chunk.last_day} as too large "
                f"({exc.genesys_message}); fetching these days and the rest of the range with synchronous "
                "queries instead (set GENESYS_MAX_JOB_DAYS lower to keep using jobs)."
            )
            return self._sync_answers(chunk, query, batch)
        except AmbiguousSubmission as exc:
            self.log.warning(
                f"Submitting the aggregates job for {chunk.first_day}..{chunk.last_day} failed after it may "
                f"have reached Genesys ({exc.cause}); it is not submitted again, so no job is created twice: "
                "fetching these days with synchronous queries instead."
            )
            return self._sync_answers(chunk, query, batch)
        if query.read_answer is None:
            return [{"results": results}]
        # Job pages are parsed for their cursors; their results are read as one answer.
        return [query.read_answer(chunk, orjson.dumps({"results": results}))]
