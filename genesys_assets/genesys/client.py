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
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any, Final

import orjson
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

from genesys_assets.genesys.auth import TokenManager
from genesys_assets.genesys.errors import (
    BadRequest,
    CredentialsRejected,
    GenesysError,
    JobFailed,
    NotFound,
    ServerUnavailable,
    UnexpectedResponse,
)
from genesys_assets.genesys.http import LogLike, Transport, Unauthorized
from genesys_assets.genesys.planner import chunk_days, plan_fetch
from genesys_assets.genesys.ratelimit import SharedRateLimiter, bucket_key
from genesys_assets.genesys.records import (
    MEDIA_TYPES,
    AggregatesChunk,
    AggregatesFetch,
    CallStats,
    ChunkPlan,
    FetchMode,
    FetchPlan,
    FetchProgress,
    Queue,
    normalise_percentage,
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
# `direction` is the session's direction, so the inbound and outbound work of one queue (a call into the
# queue and its completed callback) land on separate rows; `originatingDirection` would file all of a
# conversation under the direction it started with.
GROUP_BY: Final = ("queueId", "mediaType", "direction")
# Metrics that show a group's traffic when counting groups: inbound work is offered, outbound work handled.
_GROUP_PROBE_METRICS: Final = ("nOffered", "tHandle")
# A 400 whose message says the query is too big (the wording is not documented; these words cover
# "longer than the maximum", "too many groups", "exceeds the limit").
_TOO_LARGE: Final = re.compile(r"too (large|long|big|many)|exceed|maximum|limit", re.IGNORECASE)

# Queue media settings say "call" where analytics says "voice"; the rest share names.
MEDIA_SETTINGS_TO_ANALYTICS: Final[dict[str, str]] = {"call": "voice"}

ProgressCallback = Callable[[FetchProgress], None]
# Reads one aggregates answer's JSON bytes for a chunk (see `GenesysClient.fetch_aggregates`).
AnswerReader = Callable[[ChunkPlan, bytes], Any]
_SHRINK_HINT = (
    " A 504 or timeout on an aggregates query often means the query is too big: lower "
    "GENESYS_MAX_QUERY_DAYS / GENESYS_MAX_JOB_DAYS or use a coarser GENESYS_GRANULARITY."
)


def parse_queue(entity: Mapping[str, Any]) -> Queue:
    """A `Queue` record from one ``QueueEntityListing`` entity."""
    division = entity.get("division") or {}
    settings = entity.get("mediaSettings") or {}
    service_levels: dict[str, tuple[float | None, int | None]] = {}
    for name, value in settings.items():
        level = (value.get("serviceLevel") if isinstance(value, Mapping) else None) or {}
        duration = level.get("durationMs")
        service_levels[MEDIA_SETTINGS_TO_ANALYTICS.get(name, name)] = (
            normalise_percentage(level.get("percentage")),
            int(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else None,
        )
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
        service_levels=dict(sorted(service_levels.items(), key=lambda item: _media_rank(item[0]))),
        date_created=created,
    )


def _media_rank(media: str) -> tuple[int, str]:
    return (MEDIA_TYPES.index(media) if media in MEDIA_TYPES else len(MEDIA_TYPES), media)


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


class _AmbiguousSubmission(Exception):
    """An aggregates job submission failed in a way that does not tell whether Genesys created the job."""

    def __init__(self, cause: GenesysError) -> None:
        super().__init__(str(cause))
        self.cause = cause


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
            settings.rate_limit_url,
        )
        self._transport = Transport(settings, self._limiter, self.log, self._secrets)
        self._tokens = TokenManager(self._transport, settings, self.hosts.login_url)
        self._closed = False
        # What Genesys said about query lengths: the shortest it refused as too large (None: none refused) and
        # the longest it accepted below that; and whether it refused an aggregates job as too large.
        self._refused_days: int | None = None
        self._accepted_days = 0
        self._jobs_refused = False
        self._lock = threading.Lock()

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
        idempotent: bool = True,
    ) -> Any:
        """One authenticated API call (retried per the transport rules); the parsed JSON answer.

        ``decode`` replaces JSON parsing of a successful body (see `Transport.request`). A request that must
        not be sent twice (``idempotent=False``) is retried only when it was certainly not processed.

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
                    idempotent=idempotent,
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
        # A submission that may have reached Genesys (a timeout, a 5xx, a dropped answer) is not sent again:
        # it could create a second job. Only a refusal before processing (429, no connection) is retried.
        answer = self.request(
            "POST",
            AGGREGATES_JOBS_PATH,
            json_body=job_body,
            permission=PERMISSION_AGGREGATES,
            hint=_SHRINK_HINT,
            idempotent=False,
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
                "use smaller jobs (GENESYS_MAX_JOB_DAYS) or synchronous queries (GENESYS_FETCH_MODE=sync).",
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
        """Submit, wait for and read one aggregates job; the job is deleted if anything fails.

        A submission that failed after it may have reached Genesys raises `_AmbiguousSubmission`.
        """
        try:
            job_id = self.submit_job(body)
        except (ServerUnavailable, UnexpectedResponse) as exc:
            raise _AmbiguousSubmission(exc) from exc
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

        ``mode`` (default: the ``fetch_mode`` setting; ``auto`` plans) forces synchronous queries or jobs.
        When jobs could be cheaper than synchronous queries even at one result page each, the groups a job
        would page through are counted first, with one synchronous query of the range's last days in a
        single bucket (`count_groups`), so a large org is not sent through dozens of result pages per job
        when one synchronous query per week would do. Synchronous chunks are as long as the org accepted so
        far: a count refused as too large shortens every chunk of the plan, not only its own query.
        """
        zone(timezone)
        forced = mode or (None if self.settings.fetch_mode == "auto" else self.settings.fetch_mode)

        def planned(groups: int | None) -> FetchPlan:
            return plan_fetch(
                first_day,
                last_day,
                timezone,
                # what the org accepted so far (the group count may have been refused as too large)
                max_sync_query_days=self._query_days(self.settings.max_sync_query_days),
                max_job_days=self.settings.max_job_days,
                job_page_size=self.settings.job_page_size,
                expected_groups=groups,
                mode=forced,  # type: ignore[arg-type]
            )

        cheapest = planned(None)
        if forced is not None or cheapest.mode == "sync":
            return cheapest
        probe_first = max(first_day, last_day - timedelta(days=self.settings.max_sync_query_days - 1))
        groups = self.count_groups(probe_first, last_day, timezone=timezone, queue_ids=queue_ids)
        chosen = planned(groups)
        self.log.info(
            f"{groups} queue x media type x direction groups with traffic in {probe_first}..{last_day}: "
            f"{chosen.async_calls} calls as jobs of {self.settings.job_page_size} groups per result page, "
            f"{chosen.sync_calls} as synchronous queries; using {chosen.mode}."
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
    ) -> Iterator[AggregatesChunk]:
        """Chunks of `fetch_aggregates` one at a time, in order, so a caller can process and drop each in turn.

        With ``in_flight`` > 0, that many chunks are fetched (and read with ``read_answer``) ahead by
        background threads while the caller processes the current one, so the org computes the next answers
        while this process reads and stores the last; the calls still share the client's rate limit. With 0
        every chunk is fetched when asked for. An error reaches the caller at the chunk that failed.
        """
        plan = self.plan(first_day, last_day, timezone=timezone, queue_ids=queue_ids, mode=mode)
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
        except _AmbiguousSubmission as exc:
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
