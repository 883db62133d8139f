"""`SandboxServer`: a threaded HTTP server on 127.0.0.1 that speaks the Genesys Cloud API the pipeline uses.

Routes (API and login on one origin):

* ``POST /oauth/token``: client credentials (Basic auth, form body ``grant_type=client_credentials``);
* ``GET /api/v2/routing/queues``: `QueueEntityListing` pages sorted by name;
* ``POST /api/v2/analytics/conversations/aggregates/query``: synchronous aggregates;
* ``POST /api/v2/analytics/conversations/aggregates/jobs``, ``GET|DELETE .../jobs/{jobId}``,
  ``GET .../jobs/{jobId}/results?cursor=``: asynchronous aggregates jobs;
* ``GET|POST /sandbox/config``, ``GET|DELETE /sandbox/stats``, ``GET /sandbox/health``: admin (no auth).

Every answer carries ``ININ-Correlation-Id``; API errors are `ErrorBody` JSON. The order of checks for an
API request is: server rate limit (429) -> injected fault -> bearer token (401) -> permission (403) ->
request validation (400) -> outage days (503) -> answer. Bodies are serialised with orjson.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import math
import random
import secrets
import socket
import struct
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson

from genesys_assets.sandbox.aggregate import (
    AggregateTables,
    aggregate,
    apply_mutation,
    compute,
    local_days_touched,
    response_body,
)
from genesys_assets.sandbox.config import (
    PERMISSION_AGGREGATES,
    PERMISSION_QUEUES,
    ConfigError,
    SandboxConfig,
    parse_fault,
)
from genesys_assets.sandbox.errors import (
    ApiError,
    bad_request,
    missing_permission,
    not_found,
    oauth_error,
    too_many_requests,
)
from genesys_assets.sandbox.generator import SandboxOrg
from genesys_assets.sandbox.query import AggregateQuery, parse_query
from genesys_assets.sandbox.truth import Truth

log = logging.getLogger(__name__)

JSON = "application/json"
_QUERY_PATH = "/api/v2/analytics/conversations/aggregates/query"
_JOBS_PATH = "/api/v2/analytics/conversations/aggregates/jobs"
_QUEUES_PATH = "/api/v2/routing/queues"
_HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Service maintenance</title></head>"
    b"<body><h1>We'll be right back</h1><p>The service is undergoing maintenance.</p></body></html>"
)
_PROXY_PAGE = b"<html><head><title>%d</title></head><body><center><h1>%d</h1></center><hr><center>nginx</center></body></html>"


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, orjson.dumps(obj), JSON, headers or {})


@dataclass
class _Job:
    """An aggregates job; its summaries are computed once, when first fetched, from the org it was submitted
    to, and each results page renders only its own groups."""

    id: str
    query: AggregateQuery
    org: SandboxOrg
    submitted: datetime
    expires: datetime
    fail: bool
    polls: int = 0
    completed: datetime | None = None
    tables: AggregateTables | None = None
    group_ids: list[int] | None = None


class _TokenBucket:
    """Server-side token bucket: `rate` requests per second on average, bursts up to `capacity`."""

    def __init__(self, rate: float, capacity: int) -> None:
        self.rate, self.capacity = rate, capacity
        self.tokens = float(capacity)
        self.stamp = time.monotonic()
        self.window_start = self.stamp
        self.window_count = 0

    def take(self) -> tuple[bool, float, dict[str, str]]:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if now - self.window_start >= 60:
            self.window_start, self.window_count = now, 0
        self.window_count += 1
        headers = {
            "inin-ratelimit-allowed": str(max(1, round(self.rate * 60))),
            "inin-ratelimit-count": str(self.window_count),
            "inin-ratelimit-reset": str(max(1, math.ceil(60 - (now - self.window_start)))),
        }
        if self.tokens >= 1:
            self.tokens -= 1
            return True, 0.0, headers
        return False, (1 - self.tokens) / self.rate, headers


class SandboxServer:
    """The sandbox Genesys org on 127.0.0.1; a context manager (start on enter, stop on exit).

    ``SandboxServer(config, port=0)`` picks a free port. ``url`` serves both the API and the login host.
    ``update(**knobs)`` changes knobs at run time (also the actions ``revoke_tokens=True``,
    ``expire_tokens=True`` and ``reset_stats=True``); ``truth`` gives exact daily totals.
    """

    def __init__(
        self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._lock = threading.RLock()
        self._config = config or SandboxConfig()
        self._org = SandboxOrg(self._config)
        self._faults: deque[tuple[str, str]] = deque(parse_fault(f) for f in self._config.fault_script)
        self._fault_rng = random.Random(self._fault_seed(self._config))
        self._bucket = self._make_bucket(self._config)
        self._tokens: dict[str, float] = {}
        self._jobs: dict[str, _Job] = {}
        self._counters: Counter[str] = Counter()
        self._faults_served: Counter[str] = Counter()
        self._routes: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self.truth = Truth(lambda: self.org)
        self._host, self._requested_port = host, port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        handler = type("SandboxHandler", (_Handler,), {"sandbox": self})
        httpd = ThreadingHTTPServer((self._host, self._requested_port), handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="genesys-sandbox", daemon=True
        )
        self._thread.start()
        log.info("sandbox Genesys org listening on %s", self.url)
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        # Keep-alive connections live in their own threads; close them so a stopped sandbox is unreachable.
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Start (if needed) and block until interrupted (CLI use)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    # --- public state -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(
                "The sandbox server is not running; call start() or use it as a context manager."
            )
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def config(self) -> SandboxConfig:
        return self._config

    @property
    def org(self) -> SandboxOrg:
        return self._org

    @property
    def client_id(self) -> str:
        return self._config.client_id

    @property
    def client_secret(self) -> str:
        return self._config.client_secret

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "stopped"
        return (
            f"SandboxServer({where}, queues={self._config.queue_count}, timezone={self._config.timezone!r})"
        )

    def update(self, **knobs: Any) -> SandboxConfig:
        """Change knobs (see SandboxConfig) and run actions; returns the new config. Raises ConfigError."""
        actions = {
            name: bool(knobs.pop(name, False)) for name in ("revoke_tokens", "expire_tokens", "reset_stats")
        }
        with self._lock:
            new = self._config.replace(**knobs)
            if new.data_key() != self._config.data_key():
                self._org = SandboxOrg(new)
            else:  # the same conversations; the org's analytics settings and cache size follow the knobs
                self._org.config = new
            if "fault_script" in knobs:
                self._faults = deque(parse_fault(f) for f in new.fault_script)
            if self._fault_seed(new) != self._fault_seed(self._config):
                self._fault_rng = random.Random(self._fault_seed(new))
            if (new.requests_per_second, new.burst) != (self._config.requests_per_second, self._config.burst):
                self._bucket = self._make_bucket(new)
            self._config = new
            if actions["revoke_tokens"]:
                self._tokens.clear()
            if actions["expire_tokens"]:
                self._tokens = dict.fromkeys(self._tokens, 0.0)
            if actions["reset_stats"]:
                self.reset_stats()
        return new

    def stats(self) -> dict[str, Any]:
        """Counters: requests per route, status codes, 429s, 5xx, tokens issued, faults injected, jobs."""
        with self._lock:
            return {
                "requests": dict(self._routes),
                "requests_total": sum(n for r, n in self._routes.items() if r not in ("admin", "unknown")),
                "status": dict(self._statuses),
                "http_429": self._counters["http_429"],
                "http_5xx": self._counters["http_5xx"],
                "http_4xx": self._counters["http_4xx"],
                "rate_limited": self._counters["rate_limited"],
                "tokens_issued": self._counters["tokens_issued"],
                "jobs_created": self._counters["jobs_created"],
                "faults_injected": dict(self._faults_served),
                "faults_total": sum(self._faults_served.values()),
                "faults_pending": [f"{t}:{k}" for t, k in self._faults],
                "cached_days": self._org.cached_days(),
            }

    def reset_stats(self) -> None:
        with self._lock:
            for counter in (self._counters, self._faults_served, self._routes, self._statuses):
                counter.clear()

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer an aggregates query in-process (same code as the HTTP route, without transport or auth)."""
        return self._aggregates_answer(parse_query(body))

    # --- internals ----------------------------------------------------------------------------------

    @staticmethod
    def _fault_seed(config: SandboxConfig) -> int:
        return config.fault_seed if config.fault_seed is not None else config.seed * 7919 + 17

    @staticmethod
    def _make_bucket(config: SandboxConfig) -> _TokenBucket | None:
        if config.requests_per_second is None:
            return None
        return _TokenBucket(config.requests_per_second, config.burst)

    def _count(self, route: str) -> None:
        with self._lock:
            self._routes[route] += 1

    def _count_status(self, status: int, rate_limited: bool = False) -> None:
        with self._lock:
            self._statuses[str(status)] += 1
            if status == 429:
                self._counters["http_429"] += 1
            elif status >= 500:
                self._counters["http_5xx"] += 1
            elif status >= 400:
                self._counters["http_4xx"] += 1
            if rate_limited:
                self._counters["rate_limited"] += 1

    def _rate_limit(self) -> tuple[ApiError | None, dict[str, str]]:
        with self._lock:
            bucket = self._bucket
            if bucket is None:
                return None, {}
            ok, wait_s, headers = bucket.take()
        if ok:
            return None, headers
        error = too_many_requests(max(1, round(bucket.rate * 60)), 60, max(1, math.ceil(wait_s)))
        error.headers.update(headers)
        return error, headers

    def _next_fault(self, target: str) -> str | None:
        with self._lock:
            for i, (where, kind) in enumerate(self._faults):
                if where in (target, "any"):
                    del self._faults[i]
                    self._faults_served[kind] += 1
                    return kind
            rates = self._config.fault_rates
            if target != "api" or not rates:
                return None
            draw = self._fault_rng.random()
            acc = 0.0
            for kind in sorted(rates):
                acc += rates[kind]
                if draw < acc:
                    self._faults_served[kind] += 1
                    return kind
        return None

    def _authorize(self, header: str | None, permission: str) -> None:
        if not header or not header.lower().startswith("bearer ") or not header[7:].strip():
            raise ApiError(401, "authentication.required")
        token = header[7:].strip()
        with self._lock:
            expires = self._tokens.get(token)
        if expires is None:
            raise ApiError(401, "bad.credentials")
        if time.monotonic() >= expires:
            raise ApiError(401, "credentials.expired")
        if permission not in self._config.permissions:
            raise missing_permission(permission)

    def _check_outage(self, query: AggregateQuery) -> None:
        outage = self._config.outage_days
        if not outage:
            return
        first, last = local_days_touched(query.start_ms, query.end_ms, self._config.timezone)
        hit = sorted(d for d in outage if first <= d <= last)
        if hit:
            raise ApiError(503, "service.unavailable")

    def _aggregates_answer(self, query: AggregateQuery, org: SandboxOrg | None = None) -> dict[str, Any]:
        cfg = self._config
        results = aggregate(org or self._org, query, float_stats=cfg.float_stats)
        return apply_mutation(response_body(results), cfg.mutation, query)

    def _aggregates_bytes(self, tables: AggregateTables, groups: list[int] | None = None) -> bytes:
        """The answer as JSON bytes: streamed group by group, or through the dict path for a mutation."""
        mutation = self._config.mutation
        if mutation is None:
            return tables.render_json(groups)
        return orjson.dumps(apply_mutation(response_body(tables.render(groups)), mutation, tables.query))

    # --- routes -------------------------------------------------------------------------------------

    def handle_token(self, headers: Any, body: bytes) -> _Reply:
        cfg = self._config
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _json(
                400,
                oauth_error(
                    "invalid_request",
                    "The token request must be form-encoded (Content-Type: application/x-www-form-urlencoded) "
                    "with grant_type=client_credentials.",
                ),
            )
        form = {k: v[0] for k, v in parse_qs(body.decode("latin-1")).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("Authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                client_id = client_secret = None
        if client_id != cfg.client_id or not secrets.compare_digest(
            (client_secret or "").encode(), cfg.client_secret.encode()
        ):
            return _json(
                cfg.auth_error_status, oauth_error("invalid_client", "client not found or invalid secret")
            )
        if form.get("grant_type") != "client_credentials":
            return _json(
                400,
                oauth_error(
                    "unsupported_grant_type", "grant_type must be client_credentials for this client."
                ),
            )
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.monotonic() + cfg.token_lifetime_s
            self._counters["tokens_issued"] += 1
        return _json(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": max(1, round(cfg.token_lifetime_s)),
            },
        )

    def handle_queues(self, params: dict[str, list[str]]) -> _Reply:
        cfg = self._config
        page_number = _int_param(params, "pageNumber", 1)
        page_size = _int_param(params, "pageSize", 25)
        if page_number < 1:
            raise bad_request("pageNumber must be 1 or more.", field_name="pageNumber")
        if not 1 <= page_size <= cfg.max_queue_page_size:
            raise bad_request(
                f"pageSize must be between 1 and {cfg.max_queue_page_size}.", field_name="pageSize"
            )
        org = self._org
        queues = list(org.queues)
        if params.get("id"):
            wanted = {i for v in params["id"] for i in v.split(",")}
            queues = [q for q in queues if q.id in wanted]
        if params.get("divisionId"):
            wanted = {i for v in params["divisionId"] for i in v.split(",")}
            queues = [q for q in queues if q.division_id in wanted]
        if params.get("name"):
            queues = [q for q in queues if _name_matches(q.name, params["name"][0])]
        descending = (params.get("sortOrder") or ["asc"])[0].lower() == "desc"
        queues.sort(key=lambda q: (q.name.lower(), q.id), reverse=descending)
        total = len(queues)
        page_count = math.ceil(total / page_size)
        page = queues[(page_number - 1) * page_size : page_number * page_size]
        keep = {k: v for k, v in params.items() if k not in ("pageNumber", "pageSize")}

        def uri(n: int) -> str:
            return f"{_QUEUES_PATH}?" + urlencode(
                {"pageNumber": n, "pageSize": page_size, **keep}, doseq=True
            )

        listing: dict[str, Any] = {
            "entities": [org.queue_settings_json(q) for q in page],
            "pageSize": page_size,
            "pageNumber": page_number,
            "total": total,
            "pageCount": page_count,
            "firstUri": uri(1),
            "selfUri": uri(page_number),
        }
        if page_count:
            listing["lastUri"] = uri(page_count)
        if page_number < page_count:
            listing["nextUri"] = uri(page_number + 1)
        if page_number > 1:
            listing["previousUri"] = uri(page_number - 1)
        return _json(200, listing)

    def _check_predicates(self, query: AggregateQuery) -> None:
        limit = self._config.max_predicates
        if query.predicate_count > limit:
            raise bad_request(
                f"The filter has {query.predicate_count} predicates, more than the maximum of {limit}. "
                "Use fewer predicates per query.",
                field_name="filter",
            )

    def handle_query(self, body: bytes) -> _Reply:
        cfg = self._config
        query = parse_query(_parse_json(body))
        if query.days_long > cfg.max_query_days + 1 / 24:
            raise bad_request(
                f"The interval is longer than the maximum of {cfg.max_query_days} days for a synchronous "
                "aggregates query. Split it into shorter intervals or submit an aggregates job.",
                field_name="interval",
            )
        self._check_predicates(query)
        self._check_outage(query)
        tables = compute(self._org, query, float_stats=cfg.float_stats)
        entries = sum(rows.cell.size for _, _, rows in tables.tables)
        if cfg.max_answer_entries is not None and entries > cfg.max_answer_entries:
            raise bad_request(
                f"The query would return {entries} metric results, more than the maximum of "
                f"{cfg.max_answer_entries}. Use a shorter interval, a coarser granularity or fewer queues.",
                field_name="interval",
            )
        return _Reply(200, self._aggregates_bytes(tables))

    def handle_job_create(self, body: bytes) -> _Reply:
        cfg = self._config
        query = parse_query(_parse_json(body), is_job=True)
        if query.days_long > cfg.max_job_days + 1 / 24:
            raise bad_request(
                f"The interval is longer than the maximum of {cfg.max_job_days} days for an aggregates job. "
                "Split it into shorter jobs.",
                field_name="interval",
            )
        self._check_predicates(query)
        self._check_outage(query)
        now = datetime.now(UTC)
        job = _Job(
            id=str(uuid.uuid4()),
            query=query,
            org=self._org,
            submitted=now,
            expires=now + timedelta(seconds=cfg.job_ttl_s),
            fail=cfg.job_fail,
        )
        with self._lock:
            self._jobs[job.id] = job
            self._counters["jobs_created"] += 1
        return _json(202, {"jobId": job.id})

    def _job(self, job_id: str) -> _Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise not_found(f"Aggregates job {job_id} was not found.")
        return job

    def _job_state(self, job: _Job, *, poll: bool) -> str:
        now = datetime.now(UTC)
        with self._lock:
            if now >= job.expires:
                return "EXPIRED"
            if poll and job.completed is None:
                job.polls += 1
                if job.polls > self._config.job_polls:
                    job.completed = now
            if job.completed is None:
                return "QUEUED" if job.polls <= 1 else "PENDING"
            return "FAILED" if job.fail else "FULFILLED"

    def handle_job_status(self, job_id: str) -> _Reply:
        job = self._job(job_id)
        self._check_outage(job.query)
        state = self._job_state(job, poll=True)
        status: dict[str, Any] = {
            "state": state,
            "submissionDate": _iso(job.submitted),
            "expirationDate": _iso(job.expires),
        }
        if job.completed is not None:
            status["completionDate"] = _iso(job.completed)
        if state == "FAILED":
            status["errorMessage"] = "The aggregates job failed while processing the query; submit it again."
        return _json(200, status)

    def handle_job_results(self, job_id: str, params: dict[str, list[str]]) -> _Reply:
        job = self._job(job_id)
        self._check_outage(job.query)
        state = self._job_state(job, poll=False)
        if state == "EXPIRED":
            raise not_found(f"Aggregates job {job_id} has expired; its results are gone. Submit it again.")
        if state != "FULFILLED":
            raise bad_request(
                f"Results of aggregates job {job_id} are not available: its state is {state}. "
                "Poll the job until its state is FULFILLED."
            )
        if job.tables is None or job.group_ids is None:
            tables = compute(job.org, job.query, float_stats=self._config.float_stats)
            job.group_ids = tables.group_ids()
            job.tables = tables
        page_size = min(job.query.page_size or self._config.job_page_size, self._config.job_page_size)
        offset = 0
        cursor = (params.get("cursor") or [None])[0]
        if cursor:
            offset = _decode_cursor(cursor, job_id)
        body = self._aggregates_bytes(job.tables, job.group_ids[offset : offset + page_size])
        if offset + page_size < len(job.group_ids):
            cursor_field = b'"cursor":' + orjson.dumps(_encode_cursor(job_id, offset + page_size))
            body = body[:-1] + (b"," if body != b"{}" else b"") + cursor_field + b"}"
        return _Reply(200, body)

    def handle_job_delete(self, job_id: str) -> _Reply:
        with self._lock:
            job = self._jobs.pop(job_id, None)
        if job is None:
            raise not_found(f"Aggregates job {job_id} was not found.")
        return _Reply(204, b"", JSON)

    # --- admin --------------------------------------------------------------------------------------

    def handle_admin(self, method: str, path: str, body: bytes) -> _Reply:
        if path == "/sandbox/health" and method == "GET":
            return _json(
                200,
                {
                    "status": "ok",
                    "queues": self._config.queue_count,
                    "timezone": self._config.timezone,
                    "startDate": self._config.start_date.isoformat(),
                    "endDate": self._config.end_date.isoformat(),
                },
            )
        if path == "/sandbox/stats":
            if method == "DELETE":
                self.reset_stats()
            return _json(200, self.stats())
        if path == "/sandbox/config":
            if method == "POST":
                try:
                    knobs = orjson.loads(body or b"{}")
                    if not isinstance(knobs, dict):
                        raise ConfigError("The body must be a JSON object of knobs.")
                    self.update(**knobs)
                except (ConfigError, orjson.JSONDecodeError) as exc:
                    return _json(400, {"status": 400, "code": "bad.request", "message": str(exc)})
            config = self._config.to_json()
            config["fault_script"] = self.stats()["faults_pending"]
            return _json(200, config)
        return _json(404, ApiError(404, "not.found").body(str(uuid.uuid4())))


def _route(method: str, path: str) -> tuple[str, str | None] | None:
    """(route name, job id) of an API or login path, or None."""
    if path == "/oauth/token":
        return ("token", None) if method == "POST" else None
    if path == _QUEUES_PATH:
        return ("queues", None) if method == "GET" else None
    if path == _QUERY_PATH:
        return ("aggregates_query", None) if method == "POST" else None
    if path == _JOBS_PATH:
        return ("jobs_create", None) if method == "POST" else None
    if path.startswith(_JOBS_PATH + "/"):
        rest = path[len(_JOBS_PATH) + 1 :].split("/")
        if len(rest) == 1 and rest[0]:
            if method == "GET":
                return "job_status", rest[0]
            if method == "DELETE":
                return "job_delete", rest[0]
        if len(rest) == 2 and rest[0] and rest[1] == "results" and method == "GET":
            return "job_results", rest[0]
    return None


_PERMISSION = {
    "queues": PERMISSION_QUEUES,
    "aggregates_query": PERMISSION_AGGREGATES,
    "jobs_create": PERMISSION_AGGREGATES,
    "job_status": PERMISSION_AGGREGATES,
    "job_results": PERMISSION_AGGREGATES,
    "job_delete": PERMISSION_AGGREGATES,
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GenesysSandbox/1.0"
    sandbox: SandboxServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK delay every keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.sandbox._lock:
            self.sandbox._connections.add(self.connection)

    def finish(self) -> None:
        with self.sandbox._lock:
            self.sandbox._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox %s - %s", self.address_string(), format % args)

    def _dispatch(self, method: str) -> None:
        sandbox = self.sandbox
        correlation_id = str(uuid.uuid4())
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        params = parse_qs(split.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""

        if path.startswith("/sandbox/"):
            sandbox._count("admin")
            self._send(sandbox.handle_admin(method, path, body), correlation_id)
            return
        route = _route(method, path)
        if route is None:
            sandbox._count("unknown")
            self._send(self._error(ApiError(404, "not.found"), correlation_id), correlation_id)
            return
        name, job_id = route
        sandbox._count(name)
        target = "token" if name == "token" else "api"

        limited, limit_headers = sandbox._rate_limit()
        if limited is not None:
            self._send(self._error(limited, correlation_id), correlation_id, rate_limited=True)
            return
        fault = sandbox._next_fault(target)
        early = self._fault_reply(fault, correlation_id) if fault else None
        if early is not None:
            early.headers.update(limit_headers)
            self._send(early, correlation_id)
            return
        if fault == "slow":
            time.sleep(sandbox.config.slow_seconds * random.uniform(0.8, 1.2))
        try:
            if name == "token":
                reply = sandbox.handle_token(self.headers, body)
            else:
                sandbox._authorize(self.headers.get("Authorization"), _PERMISSION[name])
                if name in ("aggregates_query", "jobs_create"):
                    content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                    if content_type != JSON:
                        raise ApiError(415, "unsupported.media.type")
                if name == "queues":
                    reply = sandbox.handle_queues(params)
                elif name == "aggregates_query":
                    reply = sandbox.handle_query(body)
                elif name == "jobs_create":
                    reply = sandbox.handle_job_create(body)
                elif name == "job_status":
                    reply = sandbox.handle_job_status(job_id or "")
                elif name == "job_results":
                    reply = sandbox.handle_job_results(job_id or "", params)
                else:
                    reply = sandbox.handle_job_delete(job_id or "")
        except ApiError as error:
            reply = self._error(error, correlation_id)
        except Exception:  # a sandbox bug must still answer like the platform does
            log.exception("sandbox route %s failed", name)
            reply = self._error(ApiError(500, "internal.server.error"), correlation_id)
        reply.headers.update(limit_headers)
        self._send(reply, correlation_id, fault=fault)

    def _error(self, error: ApiError, correlation_id: str) -> _Reply:
        return _Reply(error.status, orjson.dumps(error.body(correlation_id)), JSON, dict(error.headers))

    def _fault_reply(self, fault: str, correlation_id: str) -> _Reply | None:
        """The answer of a fault that replaces the real answer, or None for faults applied around it."""
        cfg = self.sandbox.config
        if fault == "429":
            error = too_many_requests(300, 60, cfg.retry_after_s)
            return self._error(error, correlation_id)
        if fault in ("500", "503"):
            code = "internal.server.error" if fault == "500" else "service.unavailable"
            return self._error(ApiError(int(fault), code), correlation_id)
        if fault in ("502", "504"):
            status = int(fault)
            return _Reply(status, _PROXY_PAGE % (status, status), "text/html")
        if fault == "expired_token":
            return self._error(ApiError(401, "credentials.expired"), correlation_id)
        if fault == "html200":
            return _Reply(200, _HTML_PAGE, "text/html; charset=utf-8")
        if fault == "malformed":
            return _Reply(200, b'{"results": [{"group": {"queueId": "', JSON)
        return None

    def _send(
        self, reply: _Reply, correlation_id: str, *, fault: str | None = None, rate_limited: bool = False
    ) -> None:
        self.sandbox._count_status(reply.status, rate_limited)
        payload = reply.body
        if fault == "truncated" and payload:
            payload = payload[: max(1, len(payload) // 2)]
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("ININ-Correlation-Id", correlation_id)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if fault == "reset":
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            # SO_LINGER 0: closing sends a TCP reset instead of a clean end of stream.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if payload:
            self.wfile.write(payload)


def _parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise bad_request("The request body is not valid JSON.") from None


def _int_param(params: dict[str, list[str]], name: str, default: int) -> int:
    values = params.get(name)
    if not values:
        return default
    try:
        return int(values[0])
    except ValueError:
        raise bad_request(f"{name} must be an integer, got [{values[0]}].", field_name=name) from None


def _name_matches(name: str, pattern: str) -> bool:
    name, pattern = name.lower(), pattern.lower()
    starts, ends = pattern.endswith("*"), pattern.startswith("*")
    core = pattern.strip("*")
    if starts and ends:
        return core in name
    if starts:
        return name.startswith(core)
    if ends:
        return name.endswith(core)
    return name == core


def _encode_cursor(job_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{job_id}:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, job_id: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        owner, _, offset = text.rpartition(":")
        if owner == job_id and int(offset) >= 0:
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise bad_request(f"Invalid cursor [{cursor}] for aggregates job {job_id}.", field_name="cursor")


def _iso(instant: datetime) -> str:
    instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"
