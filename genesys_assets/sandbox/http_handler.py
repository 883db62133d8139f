"""The sandbox's HTTP layer: replies, the API paths and their routes, and the order of checks per request.

`Handler` answers one connection for a `SandboxServer` (``Handler.sandbox``): admin paths go to
`SandboxServer.handle_admin`; an API or login request passes the server rate limit (429), then an injected
fault, then the bearer token (401) and permission (403), then its route (`SandboxServer.handle_*`). Faults
that corrupt the transport (a truncated body, a connection reset) are applied while the reply is sent.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import struct
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import orjson

from genesys_assets.sandbox.config import PERMISSION_AGGREGATES, PERMISSION_QUEUES
from genesys_assets.sandbox.errors import ApiError, bad_request, too_many_requests

if TYPE_CHECKING:
    from genesys_assets.sandbox.server import SandboxServer

log = logging.getLogger(__name__)

JSON = "application/json"
QUERY_PATH = "/api/v2/analytics/conversations/aggregates/query"
JOBS_PATH = "/api/v2/analytics/conversations/aggregates/jobs"
QUEUES_PATH = "/api/v2/routing/queues"
_HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Service maintenance</title></head>"
    b"<body><h1>We'll be right back</h1><p>The service is undergoing maintenance.</p></body></html>"
)
_PROXY_PAGE = b"<html><head><title>%d</title></head><body><center><h1>%d</h1></center><hr><center>nginx</center></body></html>"


@dataclass
class Reply:
    """One HTTP answer: status, body, content type and extra headers."""

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, obj: Any, headers: dict[str, str] | None = None) -> Reply:
    """A JSON answer of ``obj``."""
    return Reply(status, orjson.dumps(obj), JSON, headers or {})


def parse_json(body: bytes) -> Any:
    """A request body as JSON; a 400 answer when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise bad_request("The request body is not valid JSON.") from None


def _route(method: str, path: str) -> tuple[str, str | None] | None:
    """(route name, job id) of an API or login path, or None."""
    if path == "/oauth/token":
        return ("token", None) if method == "POST" else None
    if path == QUEUES_PATH:
        return ("queues", None) if method == "GET" else None
    if path == QUERY_PATH:
        return ("aggregates_query", None) if method == "POST" else None
    if path == JOBS_PATH:
        return ("jobs_create", None) if method == "POST" else None
    if path.startswith(JOBS_PATH + "/"):
        rest = path[len(JOBS_PATH) + 1 :].split("/")
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


class Handler(BaseHTTPRequestHandler):
    """Answers the requests of one connection; `SandboxServer.start` binds ``sandbox`` in a subclass."""

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

    def _error(self, error: ApiError, correlation_id: str) -> Reply:
        return Reply(error.status, orjson.dumps(error.body(correlation_id)), JSON, dict(error.headers))

    def _fault_reply(self, fault: str, correlation_id: str) -> Reply | None:
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
            return Reply(status, _PROXY_PAGE % (status, status), "text/html")
        if fault == "expired_token":
            return self._error(ApiError(401, "credentials.expired"), correlation_id)
        if fault == "html200":
            return Reply(200, _HTML_PAGE, "text/html; charset=utf-8")
        if fault == "malformed":
            return Reply(200, b'{"results": [{"group": {"queueId": "', JSON)
        return None

    def _send(
        self, reply: Reply, correlation_id: str, *, fault: str | None = None, rate_limited: bool = False
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
