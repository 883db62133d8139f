"""Errors raised by the Genesys Cloud client, one class per thing a user can fix.

Every message says what went wrong and what to change, and carries the ``ININ-Correlation-Id`` of the
failing response when Genesys sent one (Genesys support asks for it). Messages never contain the client
secret or a bearer token: the client builds them from status codes and error bodies and redacts both
secrets before raising. Assets let these errors fail the run, so the message is what an analyst sees in
the Dagster UI.
"""

from __future__ import annotations


class GenesysError(Exception):
    """Base class of every error the Genesys client raises.

    ``status`` is the HTTP status of the failing response (None for connection errors) and
    ``correlation_id`` its ``ININ-Correlation-Id`` header, if any.
    """

    def __init__(self, message: str, *, status: int | None = None, correlation_id: str | None = None) -> None:
        self.status = status
        self.correlation_id = correlation_id
        if correlation_id and correlation_id not in message:
            message = f"{message} (ININ-Correlation-Id: {correlation_id})"
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self)


class CredentialsRejected(GenesysError):
    """The login host refused the client id/secret, or the API refused a fresh token."""


class MissingPermission(GenesysError):
    """The OAuth client's role lacks a permission (HTTP 403); ``permission`` names it when Genesys did."""

    def __init__(
        self,
        message: str,
        *,
        permission: str | None = None,
        status: int | None = 403,
        correlation_id: str | None = None,
    ) -> None:
        self.permission = permission
        super().__init__(message, status=status, correlation_id=correlation_id)


class BadRequest(GenesysError):
    """Genesys rejected the request body or parameters (HTTP 400 and other client errors)."""

    def __init__(
        self,
        message: str,
        *,
        genesys_message: str | None = None,
        code: str | None = None,
        status: int | None = 400,
        correlation_id: str | None = None,
    ) -> None:
        self.genesys_message = genesys_message
        self.code = code
        super().__init__(message, status=status, correlation_id=correlation_id)


class UnknownRegion(GenesysError, ValueError):
    """The configured region is neither a known region name nor a domain."""


class RateLimitExhausted(GenesysError):
    """Genesys kept answering 429 until the retry budget (attempts or seconds) ran out."""


class UnexpectedResponse(GenesysError):
    """A response the client cannot use: not JSON, an HTML page, or a truncated body."""


class ServerUnavailable(GenesysError):
    """Server errors (5xx), timeouts or connection failures outlasted the retry budget."""


class JobFailed(GenesysError):
    """An asynchronous aggregates job ended FAILED, CANCELLED or EXPIRED, or did not finish in time."""

    def __init__(
        self,
        message: str,
        *,
        job_id: str | None = None,
        state: str | None = None,
        status: int | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self.job_id = job_id
        self.state = state
        super().__init__(message, status=status, correlation_id=correlation_id)


class NotFound(GenesysError):
    """The resource does not exist (HTTP 404): an unknown or expired job id, a deleted queue."""


class RateLimitStoreError(GenesysError):
    """The shared rate-limit state file cannot be opened or written."""


__all__ = [
    "BadRequest",
    "CredentialsRejected",
    "GenesysError",
    "JobFailed",
    "MissingPermission",
    "NotFound",
    "RateLimitExhausted",
    "RateLimitStoreError",
    "ServerUnavailable",
    "UnexpectedResponse",
    "UnknownRegion",
]


class AmbiguousSubmission(Exception):
    """An aggregates job submission failed in a way that does not tell whether Genesys created the job.

    Not a `GenesysError`: `GenesysClient.run_job` raises it so that range fetching fetches the job's days
    with synchronous queries instead of submitting the job again.
    """

    def __init__(self, cause: GenesysError) -> None:
        super().__init__(str(cause))
        self.cause = cause
