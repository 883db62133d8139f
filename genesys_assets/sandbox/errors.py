"""Genesys-shaped error answers of the sandbox: `ErrorBody` for the API, the small OAuth body for login.

Messages follow the platform's wording (e.g. "Unable to perform the requested action. You are missing the
following permission(s): ...") so clients are tested against what they will meet in production.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MESSAGES: dict[str, str] = {
    "bad.request": "The request could not be understood by the server due to malformed syntax.",
    "invalid.date": "Dates must be specified as ISO-8601 strings. For example: yyyy-MM-ddTHH:mm:ss.SSSZ",
    "authentication.required": "No authentication bearer token specified in authorization header.",
    "bad.credentials": "Invalid login credentials.",
    "credentials.expired": "The supplied credentials are expired and cannot be used.",
    "not.found": "The requested resource was not found.",
    "unsupported.media.type": (
        "Unsupported Media Type - Unsupported or incorrect media type, such as an incorrect Content-Type "
        "value in the header."
    ),
    "internal.server.error": (
        "The server encountered an unexpected condition which prevented it from fulfilling the request."
    ),
    "service.unavailable": (
        "Service Unavailable - The server is currently unavailable (because it is overloaded or down for "
        "maintenance)."
    ),
}


@dataclass
class ApiError(Exception):
    """An error answer of an /api/v2 route, rendered as `ErrorBody`.

    ``text`` is a plain message (default: the code's standard message). ``template`` holds ``{name}``
    placeholders filled from ``params`` (``messageWithParams`` keeps the template, ``message`` the filled
    text), as the platform does.
    """

    status: int
    code: str
    text: str | None = None
    template: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    details: list[dict[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    limit: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self.template is not None:
            return self.template.format(**self.params)
        return self.text or MESSAGES.get(self.code, self.code)

    def body(self, correlation_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message": self.message,
            "code": self.code,
            "status": self.status,
            "messageWithParams": self.template or self.message,
            "messageParams": dict(self.params),
            "contextId": correlation_id,
            "details": list(self.details),
            "errors": [],
        }
        if self.limit is not None:
            body["limit"] = self.limit
        return body


def bad_request(message: str, code: str = "bad.request", field_name: str | None = None) -> ApiError:
    """400 with a message that says what is wrong and what is allowed."""
    details = [{"errorCode": code, "fieldName": field_name}] if field_name else []
    return ApiError(400, code, message, details=details)


def invalid_value(value: str, field_type: str, allowed: str) -> ApiError:
    return ApiError(
        400,
        "invalid.value",
        template="Value [{value}] is not valid for field type [{fieldType}]. Allowable values are: {allowed}",
        params={"value": value, "fieldType": field_type, "allowed": allowed},
    )


def missing_permission(permission: str) -> ApiError:
    return ApiError(
        403,
        "missing.permissions",
        template="Unable to perform the requested action. You are missing the following permission(s): {permissions}",
        params={"permissions": f"[{permission}]"},
    )


def too_many_requests(limit: int, window_s: int, retry_after: int) -> ApiError:
    return ApiError(
        429,
        "too.many.requests",
        template="Rate limit exceeded the maximum [{limit}] requests within [{duration}] seconds",
        params={"limit": str(limit), "duration": str(window_s)},
        headers={"Retry-After": str(retry_after)},
        limit={
            "key": "client.credentials.token.rate.per.minute",
            "namespace": "platform.api",
            "value": limit,
        },
    )


def not_found(message: str | None = None) -> ApiError:
    return ApiError(404, "not.found", message)


def oauth_error(error: str, description: str) -> dict[str, str]:
    """The login host's error body."""
    return {"error": error, "description": description}
