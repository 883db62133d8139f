"""Settings of the Genesys Cloud client: credentials, hosts, rate limit, timeouts, retry and chunk budgets.

Built by ``GenesysResource`` from the environment variables `genesys_assets.config` reads, or directly in
tests and scripts. Each field's default and its rule (`GenesysSettings.problem`) are the only ones. The
repr masks the client secret, so settings can be logged safely.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Final, Literal, get_args

from genesys_assets.genesys.ratelimit import masked_url, url_problem
from genesys_assets.genesys.records import FetchMode
from genesys_assets.genesys.regions import DEFAULT_REGION, Hosts, resolve_hosts

FetchModeSetting = Literal["auto", FetchMode]
FETCH_MODES: Final = get_args(FetchModeSetting)
_POSITIVE: Final = frozenset(
    {"requests_per_second", "timeout_s", "max_retry_seconds", "retry_backoff_s", "job_poll_initial_s"}
    | {"job_poll_max_s", "job_timeout_s"}
)
_AT_LEAST_ONE: Final = frozenset(
    {"burst", "max_attempts", "max_sync_query_days", "max_job_days", "job_page_size", "queries_in_flight"}
    | {"max_queue_predicates"}
)


@dataclass(frozen=True, repr=False)
class GenesysSettings:
    """Everything the client needs; defaults suit a production org.

    * ``requests_per_second`` / ``burst``: the token bucket shared by every process using this OAuth
      client (Genesys allows 300 requests per minute per client-credentials token).
    * ``rate_limit_dir``: directory of the shared bucket's SQLite file; default the system temp
      directory. Every process that shares the OAuth client must see the same file.
    * ``rate_limit_url``: a ``postgresql://`` URL; when set, the bucket lives in that database and is shared
      by every machine (pod) that reaches it, instead of the file. Shown with its password masked.
    * ``timeout_s``: per-request read/write/pool timeout (connect is capped at 10 s).
    * ``max_attempts`` / ``max_retry_seconds``: retry budget per request for 429, 5xx and network faults;
      ``retry_backoff_s`` is the first exponential backoff step (doubling, jittered, capped at 30 s).
    * ``max_sync_query_days`` / ``max_job_days``: longest interval of one synchronous aggregates query and
      of one asynchronous aggregates job; ``job_page_size`` groups per job result page.
    * ``queries_in_flight``: aggregates chunks of a range fetched ahead, at once, while the last is stored
      (Genesys suggests at most 2-3 analytics queries in flight per client).
    * ``fetch_mode``: ``auto`` (synchronous queries or async jobs, whichever takes fewer calls), ``sync``
      or ``async`` (the client's `FetchMode` names).
    * ``max_queue_predicates``: most queueId predicates in one query's filter (Genesys caps similar filters
      at 100); a longer queue list takes one query per batch.
    * ``job_poll_initial_s`` / ``job_poll_max_s`` / ``job_timeout_s``: job polling backoff and deadline.
    * ``token_refresh_margin_s``: renew the token this long before it expires (at most 10 % of its life).
    """

    client_id: str
    client_secret: str
    region: str = DEFAULT_REGION
    api_url: str | None = None
    login_url: str | None = None
    requests_per_second: float = 5.0
    burst: int = 10
    rate_limit_dir: str | None = None
    rate_limit_url: str | None = None
    timeout_s: float = 30.0
    max_attempts: int = 6
    max_retry_seconds: float = 120.0
    retry_backoff_s: float = 0.5
    max_sync_query_days: int = 7
    max_job_days: int = 31
    job_page_size: int = 25
    queries_in_flight: int = 2
    fetch_mode: FetchModeSetting = "auto"
    max_queue_predicates: int = 100
    job_poll_initial_s: float = 2.0
    job_poll_max_s: float = 30.0
    job_timeout_s: float = 1800.0
    token_refresh_margin_s: float = 300.0

    def __post_init__(self) -> None:
        if not (self.client_id or "").strip():
            raise ValueError("client_id is empty; set GENESYS_CLIENT_ID to the OAuth client's id.")
        if not (self.client_secret or "").strip():
            raise ValueError(
                "client_secret is empty; set GENESYS_CLIENT_SECRET to the OAuth client's secret."
            )
        for item in fields(self):
            problem = self.problem(item.name, getattr(self, item.name))
            if problem:
                shown = getattr(self, item.name)
                shown = masked_url(shown) if item.name == "rate_limit_url" else shown
                raise ValueError(f"{item.name}={shown!r} {problem}.")
        self.hosts()  # fail early on an unknown region or a malformed URL

    @staticmethod
    def problem(name: str, value: object) -> str | None:
        """What is wrong with a value of the field `name`, or None."""
        if name in _POSITIVE and not (isinstance(value, int | float) and value > 0):
            return "must be greater than 0"
        if name in _AT_LEAST_ONE and not (type(value) is int and value >= 1):
            return "must be a whole number of at least 1"
        if name == "fetch_mode" and value not in FETCH_MODES:
            return f"is not one of {', '.join(FETCH_MODES)}"
        if name == "rate_limit_url" and value:
            return url_problem(str(value))
        if name == "token_refresh_margin_s" and not (isinstance(value, int | float) and value >= 0):
            return "must not be negative"
        return None

    def hosts(self) -> Hosts:
        """The API and login base URLs (region, or the overrides)."""
        return resolve_hosts(self.region, self.api_url, self.login_url)

    def rate_limit_directory(self) -> Path:
        """Where the shared rate-limit bucket lives."""
        return (
            Path(self.rate_limit_dir)
            if self.rate_limit_dir
            else Path(tempfile.gettempdir()) / "genesys_assets"
        )

    def __repr__(self) -> str:
        parts = []
        for field in fields(self):
            value = getattr(self, field.name)
            shown = "'***'" if field.name == "client_secret" else repr(value)
            if field.name == "rate_limit_url" and value:
                shown = repr(masked_url(value))
            parts.append(f"{field.name}={shown}")
        return f"GenesysSettings({', '.join(parts)})"

    __str__ = __repr__
