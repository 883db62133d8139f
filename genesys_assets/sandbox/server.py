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

This module holds the server's state (knobs, tokens, counters, injected faults, the server rate limit), its
lifecycle, and the token, queue and admin routes; the aggregates query and jobs routes are its base class
`aggregates_api.AggregatesApi`, and the HTTP request handler that dispatches to them is
`http_handler.Handler`.
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
import threading
import time
import uuid
from collections import Counter, deque
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson

from genesys_assets.sandbox.aggregates_api import AggregatesApi, Job
from genesys_assets.sandbox.config import ConfigError, SandboxConfig, parse_fault
from genesys_assets.sandbox.errors import (
    ApiError,
    bad_request,
    missing_permission,
    oauth_error,
    too_many_requests,
)
from genesys_assets.sandbox.generator import SandboxOrg
from genesys_assets.sandbox.http_handler import QUEUES_PATH, Handler, Reply, json_reply
from genesys_assets.sandbox.truth import Truth

log = logging.getLogger(__name__)


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


class SandboxServer(AggregatesApi):
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
        self._jobs: dict[str, Job] = {}
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
        handler = type("SandboxHandler", (Handler,), {"sandbox": self})
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

    # --- routes -------------------------------------------------------------------------------------

    def handle_token(self, headers: Any, body: bytes) -> Reply:
        cfg = self._config
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return json_reply(
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
            return json_reply(
                cfg.auth_error_status, oauth_error("invalid_client", "client not found or invalid secret")
            )
        if form.get("grant_type") != "client_credentials":
            return json_reply(
                400,
                oauth_error(
                    "unsupported_grant_type", "grant_type must be client_credentials for this client."
                ),
            )
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.monotonic() + cfg.token_lifetime_s
            self._counters["tokens_issued"] += 1
        return json_reply(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": max(1, round(cfg.token_lifetime_s)),
            },
        )

    def handle_queues(self, params: dict[str, list[str]]) -> Reply:
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
            return f"{QUEUES_PATH}?" + urlencode({"pageNumber": n, "pageSize": page_size, **keep}, doseq=True)

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
        return json_reply(200, listing)

    # --- admin --------------------------------------------------------------------------------------

    def handle_admin(self, method: str, path: str, body: bytes) -> Reply:
        if path == "/sandbox/health" and method == "GET":
            return json_reply(
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
            return json_reply(200, self.stats())
        if path == "/sandbox/config":
            if method == "POST":
                try:
                    knobs = orjson.loads(body or b"{}")
                    if not isinstance(knobs, dict):
                        raise ConfigError("The body must be a JSON object of knobs.")
                    self.update(**knobs)
                except (ConfigError, orjson.JSONDecodeError) as exc:
                    return json_reply(400, {"status": 400, "code": "bad.request", "message": str(exc)})
            config = self._config.to_json()
            config["fault_script"] = self.stats()["faults_pending"]
            return json_reply(200, config)
        return json_reply(404, ApiError(404, "not.found").body(str(uuid.uuid4())))


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
