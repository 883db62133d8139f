"""OAuth client-credentials tokens for the Genesys client, cached in memory and renewed before expiry.

The grant has no refresh token: renewing means posting to ``/oauth/token`` again. The token is renewed
``token_refresh_margin_s`` before ``expires_in`` runs out (at most a tenth of its lifetime, so short-lived
tokens are not renewed on every call), and once more whenever the API answers 401 to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from genesys_assets.genesys.errors import UnexpectedResponse
from genesys_assets.genesys.http import Transport
from genesys_assets.genesys.settings import GenesysSettings

TOKEN_PATH = "/oauth/token"


class TokenManager:
    """Holds the current bearer token of one client; thread-safe."""

    def __init__(
        self,
        transport: Transport,
        settings: GenesysSettings,
        login_url: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._settings = settings
        self._url = f"{login_url}{TOKEN_PATH}"
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        self._expires_at = 0.0

    @property
    def current(self) -> str | None:
        """The cached token, if any (for redaction only; never log it)."""
        return self._token

    def token(self) -> str:
        """A token valid for at least the refresh margin; fetched when missing or about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (the API answered 401 to it) so the next call fetches a new one."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> None:
        issued_at = self._clock()
        answer = self._transport.request(
            "POST",
            self._url,
            kind="token",
            form={"grant_type": "client_credentials"},
            auth=(self._settings.client_id, self._settings.client_secret),
        )
        data = answer.data if isinstance(answer.data, dict) else {}
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise UnexpectedResponse(
                f"The Genesys login host answered {self._url} without an access_token (fields: "
                f"{sorted(data)}). Check that GENESYS_LOGIN_URL points at the login host (login.<region>).",
                status=answer.status,
                correlation_id=answer.correlation_id,
            )
        try:
            lifetime = float(data.get("expires_in") or 86400)
        except (TypeError, ValueError):
            lifetime = 86400.0
        margin = min(self._settings.token_refresh_margin_s, lifetime / 10)
        self._token = token
        self._expires_at = issued_at + lifetime
        self._renew_at = self._expires_at - margin
