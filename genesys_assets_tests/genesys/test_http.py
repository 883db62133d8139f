"""The Genesys client against the sandbox org over real HTTP: retries, tokens, every error class, secrets.

Each test starts its own sandbox (``make_sandbox``) with scripted faults and gives the client its own
rate-limit directory, so counters and buckets never leak between tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from genesys_assets.genesys import (
    BadRequest,
    CredentialsRejected,
    GenesysClient,
    GenesysError,
    GenesysSettings,
    JobFailed,
    MissingPermission,
    NotFound,
    RateLimitExhausted,
    ServerUnavailable,
    UnexpectedResponse,
    UnknownRegion,
)
from genesys_assets.genesys.client import QUEUES_PATH
from genesys_assets.sandbox import PERMISSION_AGGREGATES, PERMISSION_QUEUES, SandboxServer
from genesys_assets_tests.sandbox_fixtures import client_settings

NY = "America/New_York"
SECRET = "Sandbox-S3cret-7f3a9c"
MakeSandbox = Callable[..., SandboxServer]


def requests(server: SandboxServer, route: str) -> int:
    return int(server.stats()["requests"].get(route, 0))


def ping(client: GenesysClient) -> Any:
    return client.request("GET", QUEUES_PATH, params={"pageSize": 1})


# --- retries -----------------------------------------------------------------------------------------


def test_429_waits_for_retry_after(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    server = make_sandbox(retry_after_s=1)
    with GenesysClient(client_settings(server, tmp_path / "ratelimit")) as client:
        ping(client)  # token and connection ready
        server.update(fault_script=["429"])
        started = time.monotonic()
        ping(client)
        waited = time.monotonic() - started
        stats = client.stats
    print(f"\nRetry-After 1 s -> waited {waited:.3f} s before the successful retry")
    assert 1.0 <= waited < 1.8
    assert (stats.http_429, stats.retries, stats.faults_retried) == (1, 1, 0)
    assert requests(server, "queues") == 3


def test_server_errors_back_off_exponentially_then_succeed(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    server = make_sandbox(fault_script=["503", "500", "502", "504"])
    with GenesysClient(client_settings(server, tmp_path / "ratelimit")) as client:
        started = time.monotonic()
        answer = ping(client)
        elapsed = time.monotonic() - started
        stats = client.stats
    assert answer["entities"]
    # Backoff 0.05, 0.1, 0.2, 0.4 s (plus jitter): at least 0.75 s in all.
    assert 0.75 <= elapsed < 3.0
    assert (stats.retries, stats.faults_retried, stats.api_calls, stats.http_429) == (4, 4, 5, 0)


def test_reset_truncated_and_malformed_bodies_are_retried(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    server = make_sandbox(fault_script=["reset", "truncated", "malformed"])
    with GenesysClient(client_settings(server, tmp_path / "ratelimit")) as client:
        answer = ping(client)
        stats = client.stats
    assert answer["pageNumber"] == 1
    assert (stats.retries, stats.faults_retried, stats.api_calls) == (3, 3, 4)


def test_token_429_and_5xx_are_retried(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    server = make_sandbox(fault_script=["token:503", "token:429"], retry_after_s=0)
    with GenesysClient(client_settings(server, tmp_path / "ratelimit")) as client:
        ping(client)
        stats = client.stats
    assert (stats.token_calls, stats.http_429, stats.retries) == (3, 1, 2)
    assert server.stats()["tokens_issued"] == 1


@pytest.mark.parametrize("kind", ["400", "403", "404"])
def test_client_errors_are_not_retried(make_sandbox: MakeSandbox, tmp_path: Path, kind: str) -> None:
    permissions = (PERMISSION_QUEUES,) if kind == "403" else (PERMISSION_QUEUES, PERMISSION_AGGREGATES)
    server = make_sandbox(permissions=permissions)
    # A metric Genesys does not know is a 400 that no retry or split can fix.
    with GenesysClient(client_settings(server, tmp_path / "ratelimit")) as client:
        errors = {"400": BadRequest, "403": MissingPermission, "404": NotFound}
        with pytest.raises(errors[kind]):
            if kind == "404":
                client.job_status("00000000-0000-0000-0000-000000000000")
            else:
                client.fetch_aggregates(date(2026, 3, 1), date(2026, 3, 7), timezone=NY, metrics=["nOfferd"])
        stats = client.stats
    route = "job_status" if kind == "404" else "aggregates_query"
    assert requests(server, route) == 1
    assert (stats.retries, stats.api_calls) == (0, 1)


# --- tokens ------------------------------------------------------------------------------------------


def test_token_is_cached_and_renewed_before_expiry(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    server = make_sandbox(token_lifetime_s=1.0)  # expires_in 1 s -> renewed 0.1 s before it runs out
    with GenesysClient(client_settings(server, tmp_path / "ratelimit")) as client:
        for _ in range(3):
            ping(client)
        assert client.stats.token_calls == 1
        time.sleep(0.95)
        ping(client)
        stats = client.stats
    assert stats.token_calls == 2
    assert server.stats()["status"].get("401", 0) == 0  # renewed proactively, never refused


def test_one_401_fetches_a_new_token_once(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    server = make_sandbox(fault_script=["expired_token"])
    with GenesysClient(client_settings(server, tmp_path / "ratelimit")) as client:
        assert ping(client)["entities"]
        stats = client.stats
    assert (stats.token_calls, stats.api_calls, stats.retries) == (2, 2, 0)
    assert server.stats()["tokens_issued"] == 2


def test_a_second_401_is_credentials_rejected(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    server = make_sandbox(fault_script=["expired_token", "expired_token", "expired_token"])
    with GenesysClient(client_settings(server, tmp_path / "ratelimit")) as client:
        with pytest.raises(CredentialsRejected) as caught:
            ping(client)
        stats = client.stats
    assert (stats.token_calls, stats.api_calls) == (2, 2)
    message = str(caught.value)
    assert "HTTP 401" in message and "credentials.expired" in message
    assert "GENESYS_REGION" in message and "ININ-Correlation-Id" in message


@pytest.mark.parametrize("status", [400, 401])
def test_rejected_credentials_fail_at_once(make_sandbox: MakeSandbox, tmp_path: Path, status: int) -> None:
    server = make_sandbox(auth_error_status=status)
    with GenesysClient(client_settings(server, tmp_path / "ratelimit", client_secret=SECRET)) as client:
        with pytest.raises(CredentialsRejected) as caught:
            ping(client)
        stats = client.stats
    assert (stats.token_calls, stats.api_calls, stats.retries) == (1, 0, 0)
    message = str(caught.value)
    assert f"HTTP {status}" in message and "invalid_client" in message
    assert "GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET" in message
    assert caught.value.correlation_id and caught.value.correlation_id in message
    assert SECRET not in message


# --- every error class -------------------------------------------------------------------------------


def test_error_messages_say_what_to_fix(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    server = make_sandbox(permissions=(PERMISSION_QUEUES,), retry_after_s=2)
    fast = client_settings(server, tmp_path / "ratelimit", max_attempts=2, max_retry_seconds=1.0)
    with GenesysClient(fast) as client:
        with pytest.raises(MissingPermission) as missing:
            client.query_aggregates({"interval": "2026-03-01T00:00:00.000Z/2026-03-02T00:00:00.000Z"})
        assert missing.value.permission == PERMISSION_AGGREGATES
        assert f"lacks permission '{PERMISSION_AGGREGATES}'" in str(missing.value)
        assert "role" in str(missing.value) and "division" in str(missing.value)

        server.update(permissions=[PERMISSION_QUEUES, PERMISSION_AGGREGATES])
        with pytest.raises(BadRequest) as bad:
            client.query_aggregates(
                {"interval": "2026-03-01T00:00:00.000Z/2026-03-20T00:00:00.000Z", "metrics": ["nOffered"]}
            )
        assert bad.value.genesys_message and "maximum of 7 days" in bad.value.genesys_message
        assert "maximum of 7 days" in str(bad.value) and "fieldName=interval" in str(bad.value)
        assert bad.value.code == "bad.request"

        with pytest.raises(NotFound, match="submit it again"):
            client.job_results("11111111-1111-1111-1111-111111111111")

        server.update(fault_script=["429", "429"])
        with pytest.raises(RateLimitExhausted) as limited:
            ping(client)  # Retry-After 2 s does not fit in max_retry_seconds=1: give up without sleeping
        assert "HTTP 429" in str(limited.value) and "requests_per_second" in str(limited.value)
        assert "Gave up after 1 attempt(s)" in str(limited.value)
        server.update(fault_script=[])

        server.update(fault_script=["503", "503"])
        with pytest.raises(ServerUnavailable) as down:
            ping(client)
        assert "HTTP 503" in str(down.value) and "Gave up after 2 attempt(s)" in str(down.value)
        assert down.value.correlation_id and down.value.correlation_id in str(down.value)

        server.update(fault_script=["html200"])
        with pytest.raises(UnexpectedResponse, match="HTML page") as html:
            ping(client)
        assert "GENESYS_API_URL" in str(html.value)

        server.update(fault_script=["malformed", "malformed"])
        with pytest.raises(UnexpectedResponse, match="not valid JSON"):
            ping(client)

        server.update(fault_script=["504", "504"])
        with pytest.raises(ServerUnavailable, match="HTML error page from a proxy") as proxy:
            client.query_aggregates({"interval": "2026-03-01T00:00:00.000Z/2026-03-02T00:00:00.000Z"})
        assert "GENESYS_MAX_QUERY_DAYS" in str(proxy.value)

        server.update(job_fail=True)
        with pytest.raises(JobFailed) as failed:
            client.fetch_aggregates(date(2026, 3, 1), date(2026, 3, 2), timezone=NY, mode="async")
        assert failed.value.state == "FAILED" and "submit it again" in str(failed.value)
        assert requests(server, "job_delete") == 1  # the failed job is cleaned up

        server.update(job_fail=False, job_polls=1000)
        slow = client_settings(server, tmp_path / "ratelimit", job_timeout_s=0.3)
        with GenesysClient(slow) as impatient, pytest.raises(JobFailed, match="job_timeout_s"):
            impatient.fetch_aggregates(date(2026, 3, 1), date(2026, 3, 2), timezone=NY, mode="async")

    with pytest.raises(UnknownRegion, match="valid regions"):
        GenesysSettings(client_id="id", client_secret="secret", region="mars_north_1")
    for error in (missing, bad, limited, down, html, failed):
        assert isinstance(error.value, GenesysError)


def test_connection_refused_is_server_unavailable(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = GenesysSettings(
        client_id="id",
        client_secret=SECRET,
        api_url=f"http://127.0.0.1:{port}",
        rate_limit_dir=str(tmp_path),
        max_attempts=3,
        retry_backoff_s=0.01,
    )
    with GenesysClient(settings) as client, pytest.raises(ServerUnavailable) as caught:
        ping(client)
    assert "ConnectError" in str(caught.value) and "is reachable" in str(caught.value)
    assert client.stats.token_calls == 3 and client.stats.faults_retried == 2


# --- secrets -----------------------------------------------------------------------------------------


def test_secret_and_token_never_leak(
    make_sandbox: MakeSandbox,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = make_sandbox(
        client_secret=SECRET, retry_after_s=0, fault_script=["503", "429", "expired_token", "reset"]
    )
    caplog.set_level(logging.DEBUG)
    settings = client_settings(server, tmp_path / "ratelimit", max_attempts=3)
    texts: list[str] = [repr(settings), str(settings)]
    with GenesysClient(settings, log=logging.getLogger("test.genesys")) as client:
        texts.append(repr(client))
        ping(client)
        ping(client)
        tokens = [client._tokens.current]
        server.update(fault_script=["500", "500", "500", "expired_token", "expired_token", "html200"])
        for _ in range(3):
            with pytest.raises(GenesysError) as caught:
                ping(client)
            texts += [str(caught.value), repr(caught.value)]
        tokens.append(client._tokens.current)
    wrong = client_settings(server, tmp_path / "ratelimit", client_secret=SECRET + "-wrong")
    with GenesysClient(wrong) as client, pytest.raises(CredentialsRejected) as rejected:
        ping(client)
    texts += [str(rejected.value), repr(rejected.value)]
    out, err = capsys.readouterr()
    texts += [caplog.text, out, err, repr(client.stats)]
    assert "retrying in" in caplog.text  # the retries were logged
    everything = "\n".join(texts)
    for secret in [SECRET, SECRET + "-wrong", *[t for t in tokens if t]]:
        assert secret not in everything
