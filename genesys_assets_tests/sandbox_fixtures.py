"""Sandbox Genesys org fixtures: a running `SandboxServer` on 127.0.0.1 and a factory for custom ones.

The suite's conftest loads them as a pytest plugin; name them as test arguments:

* ``sandbox`` (module scope): a small org (`DEFAULT_SANDBOX_CONFIG`: 4 queues, America/New_York, 2026).
  Tests that change its knobs with ``sandbox.update(...)`` must put them back.
* ``make_sandbox``: ``make_sandbox(**knobs)`` starts another server whose config is
  `DEFAULT_SANDBOX_CONFIG` with the knobs changed; every server it started stops after the test.

Helpers: :func:`org_burst` (the org's bucket for a test that asserts no 429 under a client's budget),
:func:`client_settings` (Genesys client settings for a sandbox org), :func:`sandbox_token` (a bearer token over HTTP), :func:`sandbox_http` (an httpx client with the
token set), :func:`aggregates_body` (a pipeline-style aggregates query over local days),
:func:`daily_measures` (an answer's buckets summed per queue x media type x direction x local date in KPI
names, maxima taken, to compare with ``sandbox.truth.daily_totals``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from genesys_assets.genesys.settings import GenesysSettings
from genesys_assets.localtime import days_bounds, iso_interval
from genesys_assets.sandbox import SandboxConfig, SandboxServer
from genesys_assets.schema import AGGREGATE_METRICS
from genesys_assets.transforms.kpis import MAXIMUM_SOURCES, MEASURE_SOURCES

__all__ = [
    "AGGREGATES_PATH",
    "DEFAULT_SANDBOX_CONFIG",
    "JOBS_PATH",
    "QUEUES_PATH",
    "aggregates_body",
    "client_settings",
    "daily_measures",
    "make_sandbox",
    "org_burst",
    "sandbox",
    "sandbox_http",
    "sandbox_token",
]

AGGREGATES_PATH = "/api/v2/analytics/conversations/aggregates/query"
JOBS_PATH = "/api/v2/analytics/conversations/aggregates/jobs"
QUEUES_PATH = "/api/v2/routing/queues"

DEFAULT_SANDBOX_CONFIG = SandboxConfig(
    seed=11,
    queue_count=4,
    timezone="America/New_York",
    start_date=date(2026, 1, 1),
    end_date=date(2026, 12, 31),
    conversations_per_queue_day=40,
)


def org_burst(rate: float, client_burst: int) -> int:
    """The burst of an org that must not refuse a client keeping to `rate` requests/s with `client_burst`.

    The client takes a token before it sends; the org counts a request when its handler thread runs. On a
    loaded 2-core machine the two can be a second or more apart, and requests delayed unevenly arrive
    closer together than their tokens were taken. The org's bucket holds the client's burst plus 2 s of
    tokens at `rate` for that. Tests still bound the requests over their whole window by the client's budget.
    """
    return client_burst + math.ceil(2 * rate)


def client_settings(server: SandboxServer, rate_limit_dir: Path, **overrides: Any) -> GenesysSettings:
    """Settings of a Genesys client of the sandbox org `server`: its credentials and URL, a rate-limit bucket
    in `rate_limit_dir` that never holds a test back, quick retries and job polls; then `overrides`."""
    options: dict[str, Any] = {
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "api_url": server.url,
        "login_url": server.url,
        "rate_limit_dir": str(rate_limit_dir),
        "requests_per_second": 1000.0,
        "burst": 1000,
        "retry_backoff_s": 0.05,
        "job_poll_initial_s": 0.02,
        "job_poll_max_s": 0.1,
    }
    return GenesysSettings(**{**options, **overrides})


def sandbox_token(server: SandboxServer, client: httpx.Client | None = None) -> str:
    """A fresh bearer token from the server's /oauth/token (client credentials, as the real login host)."""
    http = client or httpx.Client(timeout=10)
    try:
        response = http.post(
            f"{server.url}/oauth/token",
            auth=(server.client_id, server.client_secret),
            data={"grant_type": "client_credentials"},
        )
        response.raise_for_status()
        return str(response.json()["access_token"])
    finally:
        if client is None:
            http.close()


def sandbox_http(server: SandboxServer, *, timeout: float = 30.0) -> httpx.Client:
    """An httpx client on the server's URL with a bearer token already set (close it after use)."""
    token = sandbox_token(server)
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)


def aggregates_body(
    first: date,
    last: date,
    timezone: str,
    *,
    granularity: str | None = "PT30M",
    queue_ids: Sequence[str] | None = None,
    media_type: str | None = None,
    metrics: Sequence[str] = AGGREGATE_METRICS,
    group_by: Sequence[str] = ("queueId", "mediaType", "direction"),
) -> dict[str, Any]:
    """An aggregates query over local days first..last with local-midnight bounds, as the pipeline sends."""
    start, end = days_bounds(first, last, timezone)
    body: dict[str, Any] = {
        "interval": iso_interval(start, end),
        "timeZone": timezone,
        "groupBy": list(group_by),
        "metrics": list(metrics),
    }
    if granularity is not None:
        body["granularity"] = granularity
    predicates_filter: dict[str, Any] = {}
    if queue_ids:
        predicates_filter = {
            "type": "and",
            "clauses": [
                {
                    "type": "or",
                    "predicates": [
                        {"type": "dimension", "dimension": "queueId", "value": q} for q in queue_ids
                    ],
                }
            ],
        }
    if media_type:
        predicates_filter.setdefault("type", "and")
        predicates_filter["predicates"] = [
            {"type": "dimension", "dimension": "mediaType", "value": media_type}
        ]
    if predicates_filter:
        body["filter"] = predicates_filter
    return body


def daily_measures(
    results: Sequence[dict[str, Any]],
    timezone: str,
    *,
    group_keys: Sequence[str] = ("queueId", "mediaType", "direction"),
) -> dict[tuple[Any, ...], dict[str, int | None]]:
    """Sum an aggregates answer's buckets per (group keys..., local date of the bucket start), in KPI measure
    names, and take the maxima of `MAXIMUM_SOURCES` (None when no bucket has one). Every group must carry
    ``group_keys`` (by default queueId, mediaType and direction)."""
    tz = ZoneInfo(timezone)

    def empty() -> dict[str, int | None]:
        return {**dict.fromkeys(MEASURE_SOURCES, 0), **dict.fromkeys(MAXIMUM_SOURCES)}

    totals: dict[tuple[Any, ...], dict[str, int | None]] = defaultdict(empty)
    for result in results:
        group = result["group"]
        for bucket in result["data"]:
            start = datetime.fromisoformat(bucket["interval"].split("/")[0].replace("Z", "+00:00"))
            key = (*(group[k] for k in group_keys), start.astimezone(tz).date())
            row = totals[key]
            stats = {m["metric"]: m["stats"] for m in bucket["metrics"]}
            for measure, (metric, stat) in MEASURE_SOURCES.items():
                if metric in stats:
                    row[measure] = int(row[measure] or 0) + int(stats[metric][stat])
            for measure, (metric, stat) in MAXIMUM_SOURCES.items():
                if metric in stats:
                    value, known = int(stats[metric][stat]), row[measure]
                    row[measure] = value if known is None else max(known, value)
    return dict(totals)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    """A running sandbox org with `DEFAULT_SANDBOX_CONFIG`, shared by the tests of one module."""
    with SandboxServer(DEFAULT_SANDBOX_CONFIG) as server:
        yield server


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Factory: ``make_sandbox(**knobs)`` starts a sandbox with `DEFAULT_SANDBOX_CONFIG` plus the knobs."""
    servers: list[SandboxServer] = []

    def factory(**knobs: Any) -> SandboxServer:
        server = SandboxServer(DEFAULT_SANDBOX_CONFIG.replace(**knobs)).start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()
