"""`GenesysResource`: the Dagster resource that hands assets a configured `GenesysClient`.

Fields are plain strings and numbers so ``definitions.py`` can fill them from ``EnvVar`` (credentials never
appear in the UI). The resource itself holds no connection: each ``get_client`` call builds a client (its
own connection pool and token) on the shared, cross-process rate-limit bucket of the OAuth client, so
every run and step of a backfill draws from one budget.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from genesys_assets.genesys.client import GenesysClient
from genesys_assets.genesys.http import LogLike
from genesys_assets.genesys.settings import GenesysSettings


class GenesysResource(dg.ConfigurableResource):
    """Genesys Cloud credentials, region, rate limit, timeouts and query budgets."""

    client_id: str = Field(description="OAuth client id (client credentials grant). GENESYS_CLIENT_ID.")
    client_secret: str = Field(description="OAuth client secret. GENESYS_CLIENT_SECRET.", repr=False)
    region: str = Field(
        default="mypurecloud.com",
        description="Region name (us_east_1) or domain (mypurecloud.com). GENESYS_REGION.",
    )
    api_url: str | None = Field(default=None, description="Override of the API base URL. GENESYS_API_URL.")
    login_url: str | None = Field(
        default=None, description="Override of the login base URL. GENESYS_LOGIN_URL."
    )
    requests_per_second: float = Field(
        default=5.0, description="Sustained requests per second shared by every process of this OAuth client."
    )
    burst: int = Field(default=10, description="Requests allowed at once when the bucket is full.")
    rate_limit_dir: str | None = Field(
        default=None,
        description="Directory of the shared rate-limit file; default $GENESYS_RATE_LIMIT_DIR or the temp dir.",
    )
    timeout_s: float = Field(default=30.0, description="Per-request timeout in seconds.")
    max_attempts: int = Field(default=6, description="Attempts per request for 429, 5xx and network faults.")
    max_retry_seconds: float = Field(default=120.0, description="Longest time spent retrying one request.")
    max_sync_query_days: int = Field(
        default=7, description="Longest synchronous aggregates query, in days. GENESYS_MAX_QUERY_DAYS."
    )
    max_job_days: int = Field(
        default=31, description="Longest asynchronous aggregates job, in days. GENESYS_MAX_JOB_DAYS."
    )
    queries_in_flight: int = Field(
        default=2, description="Aggregates queries of a range in flight at once. GENESYS_QUERIES_IN_FLIGHT."
    )
    fetch_mode: str = Field(
        default="auto", description="auto, sync or jobs: how ranges are fetched. GENESYS_FETCH_MODE."
    )
    max_queue_predicates: int = Field(
        default=100, description="Most queue ids in one query's filter. GENESYS_MAX_QUEUE_PREDICATES."
    )

    def settings(self) -> GenesysSettings:
        """The client settings these fields describe."""
        return GenesysSettings(
            client_id=self.client_id,
            client_secret=self.client_secret,
            region=self.region,
            api_url=self.api_url or None,
            login_url=self.login_url or None,
            requests_per_second=self.requests_per_second,
            burst=self.burst,
            rate_limit_dir=self.rate_limit_dir or None,
            timeout_s=self.timeout_s,
            max_attempts=self.max_attempts,
            max_retry_seconds=self.max_retry_seconds,
            max_sync_query_days=self.max_sync_query_days,
            max_job_days=self.max_job_days,
            queries_in_flight=self.queries_in_flight,
            fetch_mode=self.fetch_mode,  # type: ignore[arg-type]
            max_queue_predicates=self.max_queue_predicates,
        )

    def get_client(self, log: LogLike | Any | None = None) -> GenesysClient:
        """A new client; use it as a context manager. ``log`` is usually ``context.log``."""
        return GenesysClient(self.settings(), log=log)

    def __repr__(self) -> str:
        return (
            f"GenesysResource(client_id={self.client_id!r}, client_secret='***', region={self.region!r}, "
            f"api_url={self.api_url!r}, login_url={self.login_url!r}, "
            f"requests_per_second={self.requests_per_second}, burst={self.burst})"
        )

    __str__ = __repr__
