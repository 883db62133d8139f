"""`GenesysClient`: typed calls to the Genesys Cloud Platform API that the pipeline uses.

* `list_queues` reads the routing queue directory (all pages, de-duplicated by id);
* `query_aggregates` runs one synchronous conversation-aggregates query;
* `submit_job` / `wait_for_job` / `job_results` / `delete_job` drive an asynchronous aggregates job, and
  `run_job` does all four;
* `fetch_aggregates` (and its lazy form `iter_aggregates`), `plan` and `count_groups` come from the base class
  `ranges.RangeFetching`: they fetch a range of local days with the fewest calls the API limits allow.

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
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Final

import orjson
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

from genesys_assets.genesys.auth import TokenManager
from genesys_assets.genesys.errors import (
    AmbiguousSubmission,
    CredentialsRejected,
    JobFailed,
    NotFound,
    ServerUnavailable,
    UnexpectedResponse,
)
from genesys_assets.genesys.http import LogLike, Transport, Unauthorized
from genesys_assets.genesys.ranges import RangeFetching
from genesys_assets.genesys.ratelimit import SharedRateLimiter, bucket_key
from genesys_assets.genesys.records import MEDIA_TYPES, CallStats, Queue, normalise_percentage
from genesys_assets.genesys.settings import GenesysSettings
from genesys_assets.localtime import parse_iso_instant

QUEUES_PATH: Final = "/api/v2/routing/queues"
AGGREGATES_QUERY_PATH: Final = "/api/v2/analytics/conversations/aggregates/query"
AGGREGATES_JOBS_PATH: Final = "/api/v2/analytics/conversations/aggregates/jobs"
PERMISSION_QUEUES: Final = "routing:queue:view"
PERMISSION_AGGREGATES: Final = "analytics:conversationAggregate:view"

QUEUE_PAGE_SIZE: Final = 100
_QUEUE_IDS_PER_REQUEST: Final = 50
_MAX_PAGES: Final = 10_000
JOB_FINAL_STATES: Final = frozenset({"FULFILLED", "FAILED", "CANCELLED", "EXPIRED"})

# Queue media settings say "call" where analytics says "voice"; the rest share names.
MEDIA_SETTINGS_TO_ANALYTICS: Final[dict[str, str]] = {"call": "voice"}

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


class GenesysClient(RangeFetching):
    """A client of one Genesys Cloud org for one OAuth client. Not shared between processes.

    ``log`` receives retry warnings and progress (a `logging.Logger` or Dagster's ``context.log``).
    """

    def __init__(self, settings: GenesysSettings, log: LogLike | None = None) -> None:
        super().__init__()
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

        A submission that failed after it may have reached Genesys raises `AmbiguousSubmission`.
        """
        try:
            job_id = self.submit_job(body)
        except (ServerUnavailable, UnexpectedResponse) as exc:
            raise AmbiguousSubmission(exc) from exc
        try:
            self.wait_for_job(job_id)
            return self.job_results(job_id)
        except BaseException:
            try:
                self.delete_job(job_id)
            except Exception as cleanup:  # the original error matters more
                self.log.warning(f"Could not delete aggregates job {job_id}: {cleanup}")
            raise
