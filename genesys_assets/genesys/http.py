"""HTTP transport of the Genesys client: one pooled httpx client, the shared rate limit, retries, errors.

Every request, token requests included, first spends a token from the shared bucket
(`ratelimit.SharedRateLimiter`), then goes out on the client's single ``httpx.Client``. Answers are sorted:

* 429: retried after ``Retry-After`` (else ``inin-ratelimit-reset``, else exponential backoff);
* 5xx, timeouts, connection errors, reset connections and JSON bodies cut short: retried with
  exponential backoff and jitter;
* every retry stops at ``max_attempts`` attempts or before ``max_retry_seconds`` would pass, and the last
  fault becomes `RateLimitExhausted`, `ServerUnavailable` or `UnexpectedResponse`;
* 400/403/404 (and other 4xx) are never retried and become `BadRequest`, `MissingPermission`, `NotFound`;
  a rejected token request (400/401) becomes `CredentialsRejected`; a 401 from the API is returned to
  the caller as `Unauthorized` so it can refresh the token once.

Messages are built from status codes and Genesys error bodies, carry the ``ININ-Correlation-Id`` and pass
through ``redact`` so neither the client secret nor a bearer token can leak into an exception or a log.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Final, Literal, Protocol

import httpx
import orjson
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from genesys_assets.genesys.errors import (
    BadRequest,
    CredentialsRejected,
    GenesysError,
    MissingPermission,
    NotFound,
    RateLimitExhausted,
    ServerUnavailable,
    UnexpectedResponse,
)
from genesys_assets.genesys.ratelimit import SharedRateLimiter
from genesys_assets.genesys.records import CallStats
from genesys_assets.genesys.settings import GenesysSettings

Kind = Literal["api", "token"]
USER_AGENT = "genesys-assets/0.1 (+httpx)"
_MAX_BACKOFF_S = 30.0
_PERMISSION = re.compile(r"\b[A-Za-z]+:[A-Za-z*]+:[A-Za-z*]+\b")

# An HTML page, whatever whitespace comes first (matched in place, without copying the body).
_HTML_START: Final = re.compile(rb"\s*<")


class LogLike(Protocol):
    """The logging methods the client uses: a `logging.Logger` or Dagster's ``context.log``."""

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def info(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...
    def warning(self, msg: str, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class ApiResponse:
    """A successful answer: status, parsed JSON (None for an empty body) and the correlation id."""

    status: int
    data: Any
    correlation_id: str | None


class Unauthorized(GenesysError):
    """The API answered 401 to a bearer token; the caller refreshes the token and retries once."""

    def __init__(self, message: str, *, code: str | None, correlation_id: str | None) -> None:
        self.code = code
        super().__init__(message, status=401, correlation_id=correlation_id)


# Faults after which a request was certainly not processed, so even a non-idempotent one may be sent again.
_UNPROCESSED: Final = frozenset({"429", "connect"})


class _Retryable(Exception):
    """A transient fault: retry after ``wait_hint`` seconds (None = backoff), else raise ``final``."""

    def __init__(self, kind: str, final: GenesysError, wait_hint: float | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.final = final
        self.wait_hint = wait_hint


class _Counters:
    """Mutable, thread-safe counters behind `CallStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, int] = dict.fromkeys(
            ("api_calls", "token_calls", "http_429", "retries", "faults_retried"), 0
        )

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.values[name] += amount

    def snapshot(self, wait_s: float) -> CallStats:
        with self._lock:
            return CallStats(**self.values, rate_limit_wait_s=round(wait_s, 3))


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date), else ``inin-ratelimit-reset``."""
    for name in ("Retry-After", "inin-ratelimit-reset"):
        raw = (headers.get(name) or "").strip()
        if not raw:
            continue
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        if name == "Retry-After":
            try:
                when = parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                continue
            return max(0.0, when.timestamp() - time.time())
    return None


def _json_or_none(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def _is_html(response: httpx.Response) -> bool:
    content_type = response.headers.get("Content-Type", "").lower()
    return "html" in content_type or _HTML_START.match(response.content) is not None


class Transport:
    """Rate-limited, retrying HTTP for one `GenesysClient`; owns the ``httpx.Client`` connection pool."""

    def __init__(
        self,
        settings: GenesysSettings,
        limiter: SharedRateLimiter,
        log: LogLike,
        secrets: Callable[[], Iterable[str]],
    ) -> None:
        self.settings = settings
        self.limiter = limiter
        self.log = log
        self._secrets = secrets
        self.counters = _Counters()
        timeout = httpx.Timeout(settings.timeout_s, connect=min(10.0, settings.timeout_s))
        self.http = httpx.Client(
            timeout=timeout,
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    # --- public --------------------------------------------------------------------------------------

    def stats(self) -> CallStats:
        return self.counters.snapshot(self.limiter.waited_s)

    def redact(self, text: str) -> str:
        """The text with the client secret and any live token replaced by ``***``."""
        for secret in self._secrets():
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def request(
        self,
        method: str,
        url: str,
        *,
        kind: Kind = "api",
        headers: Mapping[str, str] | None = None,
        headers_factory: Callable[[], Mapping[str, str]] | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        permission: str | None = None,
        hint: str = "",
        decode: Callable[[bytes], Any] = orjson.loads,
        idempotent: bool = True,
    ) -> ApiResponse:
        """Send one logical request with retries; return its parsed answer or raise a `GenesysError`.

        A request that must not be processed twice (``idempotent=False``, e.g. creating an aggregates job) is
        retried only after answers that prove it was not processed: 429, or no connection at all. A timeout,
        a 5xx or a broken answer ends it at once.

        ``permission`` names the permission the route needs (used when a 403 body does not name it);
        ``hint`` is appended to server-error messages (e.g. how to shrink an aggregates query).
        ``headers_factory`` is called before every attempt and its headers are added to ``headers``: the
        client passes its bearer token this way, so a retry that comes after a long backoff sends a token
        that is still valid instead of the one the first attempt used.
        ``decode`` turns a successful non-empty body into the answer (default: parsed JSON). It runs inside
        the retry loop and must raise `orjson.JSONDecodeError` for a body that is not JSON, so a truncated
        or garbled answer is fetched again; any other error it raises ends the request as it is.
        """
        content: bytes | None = None
        all_headers = dict(headers or {})
        if json_body is not None:
            content = orjson.dumps(json_body)
            all_headers["Content-Type"] = "application/json"
        what = f"{method} {httpx.URL(url).path}"

        def attempt() -> ApiResponse:
            self.limiter.acquire()
            # After the wait for the bucket, so a token read here is not left to expire during that wait.
            attempt_headers = {**all_headers, **headers_factory()} if headers_factory else all_headers
            self.counters.add("token_calls" if kind == "token" else "api_calls")
            try:
                response = self.http.request(
                    method,
                    url,
                    headers=attempt_headers,
                    params=params,
                    content=content,
                    data=form,
                    auth=auth,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise _Retryable(
                    "connect",
                    ServerUnavailable(
                        self.redact(
                            f"{what} could not be sent: {type(exc).__name__}: {exc}. Check that "
                            f"{httpx.URL(url).host} is reachable (GENESYS_REGION / GENESYS_API_URL / "
                            "GENESYS_LOGIN_URL, proxy, firewall) or retry later."
                        )
                    ),
                ) from None
            except httpx.TimeoutException as exc:
                raise _Retryable(
                    "timeout",
                    ServerUnavailable(
                        self.redact(
                            f"{what} timed out ({type(exc).__name__}) after {self.settings.timeout_s:g} s. "
                            f"Raise timeout_s if Genesys is slow, or retry later.{hint}"
                        )
                    ),
                ) from None
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise _Retryable(
                    "network",
                    ServerUnavailable(
                        self.redact(
                            f"{what} failed: {type(exc).__name__}: {exc}. Check that {httpx.URL(url).host} "
                            "is reachable (GENESYS_REGION / GENESYS_API_URL / GENESYS_LOGIN_URL, proxy, "
                            "firewall) or retry later."
                        )
                    ),
                ) from None
            return self._interpret(
                response, kind=kind, what=what, permission=permission, hint=hint, decode=decode
            )

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, _Retryable) and (idempotent or exc.kind in _UNPROCESSED)

        retrying = Retrying(
            retry=retry_if_exception(retryable),
            stop=stop_after_attempt(self.settings.max_attempts)
            | stop_before_delay(self.settings.max_retry_seconds),
            wait=self._wait,
            before_sleep=lambda state: self._before_sleep(state, what),
            reraise=True,
            sleep=time.sleep,
        )
        started = time.monotonic()
        try:
            return retrying(attempt)
        except _Retryable as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            elapsed = time.monotonic() - started
            final = exc.final
            budget = (
                f" Gave up after {attempts} attempt(s) in {elapsed:.1f} s (max_attempts="
                f"{self.settings.max_attempts}, max_retry_seconds={self.settings.max_retry_seconds:g})."
                if retryable(exc)
                else " Not retried: the request may have been processed, and sending it again could repeat it."
            )
            raise type(final)(
                self.redact(
                    str(final).replace(f" (ININ-Correlation-Id: {final.correlation_id})", "") + budget
                ),
                status=final.status,
                correlation_id=final.correlation_id,
            ) from None

    def close(self) -> None:
        self.http.close()

    # --- retries -------------------------------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.wait_hint is not None:
            # Honour the server's wait; a little jitter keeps parallel processes from returning in lockstep.
            return exc.wait_hint + random.uniform(0.0, min(0.25, 0.1 * exc.wait_hint + 0.05))
        backoff = wait_exponential_jitter(
            multiplier=self.settings.retry_backoff_s, max=_MAX_BACKOFF_S, jitter=self.settings.retry_backoff_s
        )
        return float(backoff(state))

    def _before_sleep(self, state: RetryCallState, what: str) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self.counters.add("retries")
        kind = exc.kind if isinstance(exc, _Retryable) else "error"
        if kind != "429":
            self.counters.add("faults_retried")
        reason = str(exc.final) if isinstance(exc, _Retryable) else repr(exc)
        self.log.warning(
            self.redact(
                f"Genesys {what}: {kind} on attempt {state.attempt_number}/{self.settings.max_attempts}; "
                f"retrying in {state.upcoming_sleep:.2f} s. {reason}"
            )
        )

    # --- answers -------------------------------------------------------------------------------------

    def _interpret(
        self,
        response: httpx.Response,
        *,
        kind: Kind,
        what: str,
        permission: str | None,
        hint: str,
        decode: Callable[[bytes], Any],
    ) -> ApiResponse:
        status = response.status_code
        correlation_id = response.headers.get("ININ-Correlation-Id")
        if 200 <= status < 300:
            return self._success(response, kind=kind, what=what, correlation_id=correlation_id, decode=decode)

        body = _json_or_none(response.content) if not _is_html(response) else None
        body = body if isinstance(body, dict) else {}
        genesys_message = str(
            body.get("message") or body.get("description") or body.get("error_description") or ""
        )
        code = str(body.get("code") or body.get("error") or "") or None
        said = f" Genesys said: {genesys_message}" if genesys_message else ""
        said += f" [{code}]" if code else ""

        def build(cls: type[GenesysError], message: str, **extra: Any) -> GenesysError:
            return cls(self.redact(message), status=status, correlation_id=correlation_id, **extra)

        if status == 429:
            self.counters.add("http_429")
            wait = parse_retry_after(response.headers)
            final = build(
                RateLimitExhausted,
                f"Genesys rate limit hit on {what} (HTTP 429).{said} Lower requests_per_second/burst "
                "(GENESYS_REQUESTS_PER_SECOND, GENESYS_BURST), check for other jobs using the same OAuth "
                "client, or raise max_retry_seconds.",
            )
            raise _Retryable("429", final, wait)
        if status >= 500:
            page = " (an HTML error page from a proxy)" if _is_html(response) else ""
            final = build(
                ServerUnavailable,
                f"Genesys answered HTTP {status}{page} to {what}.{said} The service is failing or overloaded; "
                f"retry later.{hint}",
            )
            raise _Retryable(f"{status}", final)
        if kind == "token" and status in (400, 401):
            raise build(
                CredentialsRejected,
                f"The Genesys login host rejected the client credentials (HTTP {status}).{said} Check "
                "GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET, that the OAuth client uses the Client "
                "Credentials grant and is active, and that GENESYS_REGION is the org's region.",
            )
        if status == 401:
            raise Unauthorized(
                self.redact(f"Genesys rejected the bearer token on {what} (HTTP 401).{said}"),
                code=code,
                correlation_id=correlation_id,
            )
        if status == 403:
            named = self._permission_from(body) or permission
            which = f"permission '{named}'" if named else "a permission"
            raise build(
                MissingPermission,
                f"The Genesys OAuth client lacks {which} for {what} (HTTP 403).{said} Add it to the "
                "client's role (Admin > Roles / Permissions), granted in every division that holds the "
                "queues, then retry.",
                permission=named,
            )
        if status == 404:
            raise build(
                NotFound,
                f"Genesys has no resource at {what} (HTTP 404).{said} If this is an aggregates job, it "
                "expired or was deleted: submit it again. Otherwise check GENESYS_API_URL.",
            )
        details = body.get("details") or []
        detail_text = "; ".join(
            ", ".join(f"{k}={v}" for k, v in item.items() if v) for item in details if isinstance(item, dict)
        )
        extra = f" Details: {detail_text}." if detail_text else ""
        raise build(
            BadRequest,
            f"Genesys refused {what} (HTTP {status}).{said}{extra} Fix the request parameters "
            "(interval, granularity, metrics, filter, page size) or the client settings.",
            genesys_message=genesys_message or None,
            code=code,
        )

    def _success(
        self,
        response: httpx.Response,
        *,
        kind: Kind,
        what: str,
        correlation_id: str | None,
        decode: Callable[[bytes], Any],
    ) -> ApiResponse:
        content = response.content
        if not content or content.isspace():  # neither test copies a body of many megabytes
            return ApiResponse(response.status_code, None, correlation_id)
        content_type = response.headers.get("Content-Type", "") or "no content type"
        if _is_html(response):
            raise UnexpectedResponse(
                self.redact(
                    f"Genesys answered {what} with an HTML page ({content_type}, HTTP {response.status_code}, "
                    f"{len(content)} bytes) instead of JSON. A proxy or login page is in the way, or "
                    "GENESYS_API_URL / GENESYS_LOGIN_URL points at the wrong host."
                ),
                status=response.status_code,
                correlation_id=correlation_id,
            )
        try:
            data = decode(content)
        except orjson.JSONDecodeError as exc:
            declared = response.headers.get("Content-Length")
            final = UnexpectedResponse(
                self.redact(
                    f"Genesys answered {what} with a body that is not valid JSON ({content_type}, "
                    f"{len(content)} bytes, Content-Length {declared or 'unset'}; {exc.msg} at byte "
                    f"{exc.pos}): the body was truncated or is not JSON. Retry later; if it persists, "
                    "check proxies between this machine and Genesys."
                ),
                status=response.status_code,
                correlation_id=correlation_id,
            )
            raise _Retryable("body", final) from None
        return ApiResponse(response.status_code, data, correlation_id)

    @staticmethod
    def _permission_from(body: Mapping[str, Any]) -> str | None:
        params = body.get("messageParams")
        texts: list[str] = []
        if isinstance(params, Mapping):
            texts.extend(str(v) for v in params.values())
        texts.extend(str(body.get(k) or "") for k in ("message", "messageWithParams"))
        for text in texts:
            found = _PERMISSION.findall(text)
            if found:
                return ", ".join(dict.fromkeys(found))
        return None
