"""`GenesysClient`: typed calls to the Genesys Cloud Platform API that the pipeline uses.

* `list_queues` reads the routing queue directory (all pages, de-duplicated by id);
* `query_aggregates` runs one synchronous conversation-aggregates query;
* `submit_job` / `wait_for_job` / `job_results` / `delete_job` drive an asynchronous aggregates job;
* `fetch_aggregates` (and its lazy form `iter_aggregates`) fetches a range of local days with the fewest
  calls the API limits allow, chunk by chunk, reporting progress.

The client owns one ``httpx.Client`` (a connection pool), one token and one handle on the shared rate-limit
bucket; use it as a context manager or call `close`. Responses are parsed with orjson into plain dicts,
except where a caller passes its own answer reader for aggregates (the pipeline reads them straight into
columns); no SDK is imported at run time. Assets get a client from `resource.GenesysResource.get_client`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime
from types import TracebackType
from typing import Any, Final

import orjson
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

from genesys_assets.genesys.auth import TokenManager
from genesys_assets.genesys.errors import CredentialsRejected, JobFailed, NotFound, UnexpectedResponse
from genesys_assets.genesys.http import LogLike, Transport, Unauthorized
from genesys_assets.genesys.planner import plan_fetch
from genesys_assets.genesys.ratelimit import SharedRateLimiter, bucket_key
from genesys_assets.genesys.records import (
    AggregatesChunk,
    AggregatesFetch,
    CallStats,
    ChunkPlan,
    FetchMode,
    FetchPlan,
    FetchProgress,
    Queue,
)
from genesys_assets.genesys.settings import GenesysSettings
from genesys_assets.localtime import iso_interval, parse_iso_instant, zone

QUEUES_PATH: Final = "/api/v2/routing/queues"
AGGREGATES_QUERY_PATH: Final = "/api/v2/analytics/conversations/aggregates/query"
AGGREGATES_JOBS_PATH: Final = "/api/v2/analytics/conversations/aggregates/jobs"
PERMISSION_QUEUES: Final = "routing:queue:view"
PERMISSION_AGGREGATES: Final = "analytics:conversationAggregate:view"

QUEUE_PAGE_SIZE: Final = 100
_QUEUE_IDS_PER_REQUEST: Final = 50
_MAX_PAGES: Final = 10_000
JOB_FINAL_STATES: Final = frozenset({"FULFILLED", "FAILED", "CANCELLED", "EXPIRED"})
GROUP_BY: Final = ("queueId", "mediaType")

# Queue media settings say "call" where analytics says "voice"; the rest share names.
MEDIA_SETTINGS_TO_ANALYTICS: Final[dict[str, str]] = {"call": "voice"}
MEDIA_ORDER: Final[tuple[str, ...]] = ("voice", "callback", "chat", "email", "message")

ProgressCallback = Callable[[FetchProgress], None]
# Reads one aggregates answer's JSON bytes for a chunk (see `GenesysClient.fetch_aggregates`).
AnswerReader = Callable[[ChunkPlan, bytes], Any]
_SHRINK_HINT = (
    " A 504 or timeout on an aggregates query often means the query is too big: lower "
    "max_sync_query_days / max_job_days or use a coarser granularity."
)


def normalise_percentage(value: Any) -> float | None:
    """A service-level percentage as a fraction 0..1, whether Genesys sent 0.8 or 80; None if unusable."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    if number < 0 or number > 100 or number != number:
        return None
    return number / 100.0 if number > 1 else number


def parse_queue(entity: Mapping[str, Any]) -> Queue:
    """A `Queue` record from one ``QueueEntityListing`` entity."""
    division = entity.get("division") or {}
    settings = entity.get("mediaSettings") or {}
    by_media: dict[str, Mapping[str, Any]] = {}
    for name, value in settings.items():
        media = MEDIA_SETTINGS_TO_ANALYTICS.get(name, name)
        by_media[media] = value if isinstance(value, Mapping) else {}
    media_types = tuple(sorted(by_media, key=lambda m: (MEDIA_ORDER.index(m) if m in MEDIA_ORDER else 99, m)))
    target: float | None = None
    duration: int | None = None
    for media in media_types:
        level = by_media[media].get("serviceLevel") or {}
        candidate = normalise_percentage(level.get("percentage"))
        if candidate is not None:
            target = candidate
            raw_duration = level.get("durationMs")
            duration = int(raw_duration) if isinstance(raw_duration, int | float) else None
            break
    created_text = entity.get("dateCreated")
    created: datetime | None = None
    if isinstance(created_text, str) and created_text:
        try:
            created = parse_iso_instant(created_text)
        except ValueError:
            created = None
    return Queue(
        id=str(entity["id"]),
        name=str(entity.get("name") or ""),
        division_id=division.get("id"),
        division_name=division.get("name"),
        media_types=media_types,
        service_level_target=target,
        service_level_duration_ms=duration,
        date_created=created,
    )


def aggregates_body(
    window_start: datetime,
    window_end: datetime,
    *,
    timezone: str,
    granularity: str,
    metrics: Sequence[str],
    queue_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A ``ConversationAggregationQuery`` over [window_start, window_end) grouped by queue and media type."""
    body: dict[str, Any] = {
        "interval": iso_interval(window_start, window_end),
        "granularity": granularity,
        "timeZone": timezone,
        "groupBy": list(GROUP_BY),
        "metrics": list(metrics),
    }
    if queue_ids:
        body["filter"] = {
            "type": "or",
            "predicates": [
                {"type": "dimension", "dimension": "queueId", "operator": "matches", "value": queue_id}
                for queue_id in dict.fromkeys(queue_ids)
            ],
        }
    return body


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


class GenesysClient:
    """A client of one Genesys Cloud org for one OAuth client. Not shared between processes.

    ``log`` receives retry warnings and progress (a `logging.Logger` or Dagster's ``context.log``).
    """

    def __init__(self, settings: GenesysSettings, log: LogLike | None = None) -> None:
        self.settings = settings
        self.log: LogLike = log or logging.getLogger("genesys_assets.genesys")
        self.hosts = settings.hosts()
        self._limiter = SharedRateLimiter(
            bucket_key(self.hosts.login_host, settings.client_id),
            settings.requests_per_second,
            settings.burst,
            settings.rate_limit_directory(),
        )
        self._transport = Transport(settings, self._limiter, self.log, self._secrets)
        self._tokens = TokenManager(self._transport, settings, self.hosts.login_url)
        self._closed = False

    # --- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> GenesysClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool and the rate-limit store. Safe to call twice."""
        if not self._closed:
            self._closed = True
            self._transport.close()
            self._limiter.close()

    def __repr__(self) -> str:
        return (
            f"GenesysClient(api_url={self.hosts.api_url!r}, login_url={self.hosts.login_url!r}, "
            f"client_id={self.settings.client_id!r}, client_secret='***', "
            f"requests_per_second={self.settings.requests_per_second}, burst={self.settings.burst})"
        )

    @property
    def stats(self) -> CallStats:
        """A snapshot of the call counters (API calls, token calls, 429s, retries)."""
        return self._transport.stats()

    @property
    def rate_limit_path(self) -> str:
        """The SQLite file holding the shared token bucket."""
        return str(self._limiter.path)

    def _secrets(self) -> list[str]:
        current = self._tokens.current if hasattr(self, "_tokens") else None
        return [s for s in (self.settings.client_secret, current) if s]

    # --- raw calls -----------------------------------------------------------------------------------

    def _bearer(self, sent: list[str]) -> dict[str, str]:
        """The Authorization header with a token valid for at least the refresh margin; records the token."""
        token = self._tokens.token()
        sent.append(token)
        return {"Authorization": f"Bearer {token}"}

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        permission: str | None = None,
        hint: str = "",
        decode: Callable[[bytes], Any] = orjson.loads,
    ) -> Any:
        """One authenticated API call (retried per the transport rules); the parsed JSON answer.

        ``decode`` replaces JSON parsing of a successful body (see `Transport.request`).

        The bearer token is read before every attempt, so retries after long backoffs renew a token that
        is about to expire instead of sending it again. A 401 triggers one token refresh and one more
        attempt; a second 401 is `CredentialsRejected`.
        """
        url = f"{self.hosts.api_url}{path}"
        for refreshed in (False, True):
            sent: list[str] = []
            try:
                answer = self._transport.request(
                    method,
                    url,
                    headers_factory=functools.partial(self._bearer, sent),
                    params=params,
                    json_body=json_body,
                    permission=permission,
                    hint=hint,
                    decode=decode,
                )
            except Unauthorized as exc:
                if sent:
                    self._tokens.invalidate(sent[-1])
                if refreshed:
                    raise CredentialsRejected(
                        f"{exc} A freshly issued token was refused too: check that the OAuth client is "
                        "active and that GENESYS_REGION / GENESYS_API_URL is the org's region (a token from "
                        "one region is not valid in another).",
                        status=401,
                        correlation_id=exc.correlation_id,
                    ) from None
                self.log.info(
                    f"Genesys API refused the token ({exc.code or 'HTTP 401'}); fetching a new one."
                )
                continue
            return answer.data
        raise AssertionError("unreachable")

    # --- queues --------------------------------------------------------------------------------------

    def list_queues(self, queue_ids: Sequence[str] | None = None) -> list[Queue]:
        """Every routing queue the OAuth client can see (or only ``queue_ids``), sorted by id.

        Pages of 100 are read until ``pageCount`` or until ``nextUri`` is missing, and entries are
        de-duplicated by id (a rename during the crawl can move a queue between pages). Requested ids that
        Genesys does not return are logged: deleted queues, or divisions the role does not cover.
        """
        wanted = list(dict.fromkeys(q.strip() for q in queue_ids or () if q and q.strip()))
        batches: list[list[str] | None] = (
            [wanted[i : i + _QUEUE_IDS_PER_REQUEST] for i in range(0, len(wanted), _QUEUE_IDS_PER_REQUEST)]
            if wanted
            else [None]
        )
        found: dict[str, Queue] = {}
        for batch in batches:
            for page_number in range(1, _MAX_PAGES + 1):
                params: dict[str, Any] = {"pageSize": QUEUE_PAGE_SIZE, "pageNumber": page_number}
                if batch:
                    params["id"] = batch
                listing = self.request("GET", QUEUES_PATH, params=params, permission=PERMISSION_QUEUES)
                if not isinstance(listing, dict):
                    raise UnexpectedResponse(
                        f"GET {QUEUES_PATH} answered {type(listing).__name__} instead of a QueueEntityListing "
                        "object. Check GENESYS_API_URL."
                    )
                entities = listing.get("entities") or []
                for entity in entities:
                    if isinstance(entity, dict) and entity.get("id"):
                        queue = parse_queue(entity)
                        found.setdefault(queue.id, queue)
                page_count = listing.get("pageCount")
                last_page = isinstance(page_count, int) and page_number >= page_count
                if not entities or last_page or not listing.get("nextUri"):
                    break
        if wanted:
            missing = [q for q in wanted if q not in found]
            if missing:
                self.log.warning(
                    f"Genesys did not return {len(missing)} requested queue(s): {', '.join(missing[:10])}"
                    f"{' ...' if len(missing) > 10 else ''}. They were deleted, or the OAuth client's role "
                    "lacks routing:queue:view in their division."
                )
        return sorted(found.values(), key=lambda q: q.id)

    # --- aggregates: synchronous ---------------------------------------------------------------------

    def query_aggregates(self, body: Mapping[str, Any], decode: Callable[[bytes], Any] | None = None) -> Any:
        """One synchronous ``conversations/aggregates/query``; the answer (``results`` may be absent).

        ``decode`` reads the answer body instead of JSON parsing (an empty body is read as ``{}``).
        """
        answer = self.request(
            "POST",
            AGGREGATES_QUERY_PATH,
            json_body=dict(body),
            permission=PERMISSION_AGGREGATES,
            hint=_SHRINK_HINT,
            decode=decode or orjson.loads,
        )
        if decode is not None:
            return decode(b"{}") if answer is None else answer
        if answer is None:
            return {}
        if not isinstance(answer, dict):
            raise UnexpectedResponse(
                f"POST {AGGREGATES_QUERY_PATH} answered {type(answer).__name__} instead of an object."
            )
        return answer

    # --- aggregates: asynchronous jobs ---------------------------------------------------------------

    def submit_job(self, body: Mapping[str, Any], page_size: int | None = None) -> str:
        """Submit an aggregates job; its job id."""
        job_body = dict(body)
        job_body["pageSize"] = page_size or self.settings.job_page_size
        answer = self.request(
            "POST",
            AGGREGATES_JOBS_PATH,
            json_body=job_body,
            permission=PERMISSION_AGGREGATES,
            hint=_SHRINK_HINT,
        )
        job_id = answer.get("jobId") if isinstance(answer, dict) else None
        if not isinstance(job_id, str) or not job_id:
            raise UnexpectedResponse(f"POST {AGGREGATES_JOBS_PATH} answered without a jobId.")
        return job_id

    def job_status(self, job_id: str) -> dict[str, Any]:
        """The job's ``AsyncQueryStatus`` (``state``, ``errorMessage``, dates)."""
        answer = self.request("GET", f"{AGGREGATES_JOBS_PATH}/{job_id}", permission=PERMISSION_AGGREGATES)
        if not isinstance(answer, dict) or "state" not in answer:
            raise UnexpectedResponse(f"GET {AGGREGATES_JOBS_PATH}/{job_id} answered without a state.")
        return answer

    def wait_for_job(self, job_id: str) -> dict[str, Any]:
        """Poll the job with exponential backoff until a final state; its status if FULFILLED.

        The first poll comes after ``job_poll_initial_s``; waits double up to ``job_poll_max_s``. Raises
        `JobFailed` on FAILED, CANCELLED or EXPIRED, or when ``job_timeout_s`` passes.
        """
        settings = self.settings
        poller = Retrying(
            retry=retry_if_result(lambda status: status.get("state") not in JOB_FINAL_STATES),
            wait=wait_exponential(
                multiplier=settings.job_poll_initial_s,
                min=settings.job_poll_initial_s,
                max=settings.job_poll_max_s,
            ),
            stop=stop_after_delay(settings.job_timeout_s),
        )
        time.sleep(settings.job_poll_initial_s)
        try:
            status = poller(self.job_status, job_id)
        except RetryError as exc:
            last = exc.last_attempt.result() if not exc.last_attempt.failed else {}
            raise JobFailed(
                f"Aggregates job {job_id} was still {last.get('state', 'unfinished')} after "
                f"{settings.job_timeout_s:g} s. Raise job_timeout_s, or use smaller jobs (max_job_days).",
                job_id=job_id,
                state=last.get("state"),
            ) from None
        state = status.get("state")
        if state != "FULFILLED":
            reason = status.get("errorMessage") or "no error message"
            raise JobFailed(
                f"Aggregates job {job_id} ended {state}: {reason}. Submit it again later; if it keeps failing, "
                "use smaller jobs (max_job_days) or synchronous queries.",
                job_id=job_id,
                state=state,
            )
        return status

    def job_results(self, job_id: str) -> list[dict[str, Any]]:
        """Every ``results`` entry of a FULFILLED job, following ``cursor`` until a page has none."""
        results: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            params = {"cursor": cursor} if cursor else None
            page = self.request(
                "GET",
                f"{AGGREGATES_JOBS_PATH}/{job_id}/results",
                params=params,
                permission=PERMISSION_AGGREGATES,
            )
            page = page if isinstance(page, dict) else {}
            results.extend(page.get("results") or [])
            next_cursor = page.get("cursor")
            if not next_cursor or next_cursor == cursor:
                return results
            cursor = str(next_cursor)
        raise UnexpectedResponse(f"Aggregates job {job_id} returned more than {_MAX_PAGES} result pages.")

    def delete_job(self, job_id: str) -> None:
        """Cancel or delete a job (a job that no longer exists is fine)."""
        with contextlib.suppress(NotFound):
            self.request("DELETE", f"{AGGREGATES_JOBS_PATH}/{job_id}", permission=PERMISSION_AGGREGATES)

    def run_job(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Submit, wait for and read one aggregates job; the job is deleted if anything fails."""
        job_id = self.submit_job(body)
        try:
            self.wait_for_job(job_id)
            return self.job_results(job_id)
        except BaseException:
            try:
                self.delete_job(job_id)
            except Exception as cleanup:  # the original error matters more
                self.log.warning(f"Could not delete aggregates job {job_id}: {cleanup}")
            raise

    # --- aggregates: ranges --------------------------------------------------------------------------

    def plan(
        self,
        first_day: date,
        last_day: date,
        *,
        timezone: str = "UTC",
        queue_ids: Sequence[str] | None = None,
        mode: FetchMode | None = None,
    ) -> FetchPlan:
        """The chunks and mode `fetch_aggregates` would use for local days first_day..last_day.

        When jobs could be cheaper than synchronous queries even at one result page each, the groups a
        job would page through are counted first (every queue x media type in the queue directory: one
        listing call per 100 queues), so a large org is not sent through dozens of result pages per job
        when one synchronous query per week would do.
        """
        zone(timezone)

        def planned(groups: int | None) -> FetchPlan:
            return plan_fetch(
                first_day,
                last_day,
                timezone,
                max_sync_query_days=self.settings.max_sync_query_days,
                max_job_days=self.settings.max_job_days,
                job_page_size=self.settings.job_page_size,
                expected_groups=groups,
                mode=mode,
            )

        cheapest = planned(None)
        if mode is not None:
            return cheapest
        if cheapest.mode == "sync":
            return cheapest
        queues = self.list_queues(queue_ids=queue_ids)
        groups = sum(len(queue.media_types) for queue in queues)
        chosen = planned(groups)
        self.log.info(
            f"{len(queues)} queues with {groups} queue x media type groups: {chosen.async_calls} calls as "
            f"jobs of {self.settings.job_page_size} groups per result page, {chosen.sync_calls} as "
            f"synchronous queries; using {chosen.mode}."
        )
        return chosen

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
        in_flight: int = 0,
    ) -> Iterator[AggregatesChunk]:
        """Chunks of `fetch_aggregates` one at a time, in order, so a caller can process and drop each in turn.

        With ``in_flight`` > 0, that many chunks are fetched (and read with ``read_answer``) ahead by
        background threads while the caller processes the current one, so the org computes the next answers
        while this process reads and stores the last; the calls still share the client's rate limit. With 0
        every chunk is fetched when asked for. An error reaches the caller at the chunk that failed.
        """
        plan = self.plan(first_day, last_day, timezone=timezone, queue_ids=queue_ids, mode=mode)
        return self._iter_plan(
            plan, timezone, granularity, queue_ids, metrics, on_progress, read_answer, in_flight
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
    ) -> AggregatesFetch:
        """Aggregates per queue x media type for local days first_day..last_day with the fewest calls.

        Synchronous chunks of ``max_sync_query_days`` or async jobs of ``max_job_days``, whichever needs
        fewer calls (``mode`` forces one). Each chunk is bounded by local midnights in ``timezone`` and
        queried with that ``timeZone``, so buckets follow local time across DST changes. ``metrics``
        defaults to `schema.AGGREGATE_METRICS`. ``on_progress`` gets a `FetchProgress` after each chunk.
        ``read_answer(chunk, body)`` turns each answer's JSON bytes into `AggregatesChunk.answer` (default: the parsed object); for a synchronous query it runs inside the retry loop, so it
        must raise `orjson.JSONDecodeError` for a body that is not JSON. ``calls`` counts every HTTP call
        made, token calls included.
        """
        start = self.stats
        plan = self.plan(first_day, last_day, timezone=timezone, queue_ids=queue_ids, mode=mode)
        chunks = list(
            self._iter_plan(plan, timezone, granularity, queue_ids, metrics, on_progress, read_answer, 0)
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

        def fetch(chunk: ChunkPlan) -> AggregatesChunk:
            return self._fetch_chunk(
                chunk, plan.mode, timezone, granularity, metrics, queue_list, read_answer
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

    def _fetch_chunk(
        self,
        chunk: ChunkPlan,
        mode: FetchMode,
        timezone: str,
        granularity: str,
        metrics: Sequence[str],
        queue_ids: Sequence[str],
        read_answer: AnswerReader | None,
    ) -> AggregatesChunk:
        body = aggregates_body(
            chunk.window_start,
            chunk.window_end,
            timezone=timezone,
            granularity=granularity,
            metrics=metrics,
            queue_ids=queue_ids or None,
        )
        decode = functools.partial(read_answer, chunk) if read_answer is not None else None
        if mode == "sync":
            answer = self.query_aggregates(body, decode=decode)
        else:
            # Job pages are parsed for their cursors; their results are read as one answer.
            results = self.run_job(body)
            answer = {"results": results} if decode is None else decode(orjson.dumps({"results": results}))
        return AggregatesChunk(
            first_day=chunk.first_day,
            last_day=chunk.last_day,
            window_start=chunk.window_start,
            window_end=chunk.window_end,
            answer=answer,
        )
