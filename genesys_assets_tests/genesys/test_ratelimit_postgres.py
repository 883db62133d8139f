"""The token bucket kept in PostgreSQL (``GENESYS_RATE_LIMIT_URL``): one budget for processes that share no
files, nothing leaked by a holder that dies or hangs, a clear error when the database cannot be reached.

The database is a real PostgreSQL server on 127.0.0.1 (``postgres`` fixture); requests go to a sandbox org.
The same bucket across separate hosts (network namespaces) is `genesys_assets_tests/test_multihost.py`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from genesys_assets.genesys import GenesysClient, GenesysSettings
from genesys_assets.genesys.errors import RateLimitStoreError
from genesys_assets.genesys.ratelimit import PG_TABLE, SharedRateLimiter, bucket_key, masked_url
from genesys_assets.sandbox import SandboxServer
from genesys_assets_tests.postgres_fixtures import PostgresServer
from genesys_assets_tests.s3_fixtures import unused_port

pytestmark = pytest.mark.e2e

MakeSandbox = Callable[..., SandboxServer]
ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import json, sys, time
from genesys_assets.genesys import GenesysClient, GenesysSettings
url, db_url, directory, count, rate, burst, go = sys.argv[1:8]
settings = GenesysSettings(client_id="sandbox-client", client_secret="sandbox-secret", api_url=url,
                           rate_limit_dir=directory, rate_limit_url=db_url, requests_per_second=float(rate),
                           burst=int(burst))
with GenesysClient(settings) as client:
    time.sleep(max(0.0, float(go) - time.time()))
    stamps = []
    for _ in range(int(count)):
        client.request("GET", "/api/v2/routing/queues", params={"pageSize": 1})
        stamps.append(time.time())
    stats = client.stats
print(json.dumps({"stamps": stamps, "calls": stats.api_calls + stats.token_calls, "http_429": stats.http_429}))
"""

HOLDER = """
import sys, time
from genesys_assets.genesys.ratelimit import SharedRateLimiter
limiter = SharedRateLimiter(sys.argv[2], 100000.0, 100000, None, sys.argv[1])
print("ready", flush=True)
while True:
    limiter.acquire()
"""


def db_url(server: PostgresServer, password: str | None = None) -> str:
    return f"postgresql://{server.user}:{password or server.password}@{server.host}:{server.port}/{server.db_name}"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_processes_with_their_own_folders_share_one_budget(
    make_sandbox: MakeSandbox, postgres: PostgresServer, tmp_path: Path
) -> None:
    rate, burst, per_process = 5.0, 5, 10
    server = make_sandbox(requests_per_second=rate * 1.2, burst=burst * 2)
    go = time.time() + 3.0
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                server.url,
                db_url(postgres),
                str(tmp_path / f"host{i}"),
                str(per_process),
                str(rate),
                str(burst),
                str(go),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for i in range(2)
    ]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=90)
        assert worker.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    stamps = sorted(t for report in reports for t in report["stamps"])
    total = sum(report["calls"] for report in reports)
    achieved = (total - burst) / (stamps[-1] - go)
    print(f"\nPostgreSQL bucket, two processes: allowed {rate:g}/s burst {burst}; achieved {achieved:.2f}/s")
    assert rate * 0.8 <= achieved <= rate * 1.1
    assert server.stats()["http_429"] == 0 and all(report["http_429"] == 0 for report in reports)
    # Each process kept its own folder: no bucket file was shared (or even written).
    assert not list(tmp_path.rglob("*.sqlite3"))
    # The table holds a hash of the client id and two numbers, never the credentials.
    rows = postgres.query(f"SELECT key, state FROM {PG_TABLE}")
    hosts = GenesysSettings(client_id="x", client_secret="y", api_url=server.url).hosts()
    assert [row[0] for row in rows] == [bucket_key(hosts.login_host, "sandbox-client")]
    assert "sandbox" not in json.dumps(rows)


def test_unreachable_database_names_the_setting_and_sends_nothing(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    server = make_sandbox()
    password = "pw-never-shown-7731"
    url = f"postgresql://dagster:{password}@127.0.0.1:{unused_port()}/dagster"
    settings = GenesysSettings(
        client_id=server.client_id,
        client_secret=server.client_secret,
        api_url=server.url,
        rate_limit_dir=str(tmp_path),
        rate_limit_url=url,
    )
    started = time.monotonic()
    with pytest.raises(RateLimitStoreError) as excinfo:
        GenesysClient(settings)
    message = str(excinfo.value)
    assert "GENESYS_RATE_LIMIT_URL" in message and "postgresql://dagster:***@127.0.0.1:" in message
    assert password not in message and password not in repr(settings)
    assert time.monotonic() - started < 15
    assert server.stats()["requests_total"] == 0  # never unthrottled: nothing was sent


def test_rejected_password_is_not_shown(postgres: PostgresServer) -> None:
    password = "wrong-password-5521"
    with pytest.raises(RateLimitStoreError) as excinfo:
        SharedRateLimiter("k", 5.0, 5, Path("/nonexistent"), db_url(postgres, password))
    assert password not in str(excinfo.value)
    assert "GENESYS_RATE_LIMIT_URL" in str(excinfo.value)
    assert "password authentication failed" in str(excinfo.value)
    assert masked_url(db_url(postgres, password)).count("***") == 1


def _holds_the_row(postgres: PostgresServer) -> bool:
    """Whether a rate-limit session sits inside a step after locking its row (its last statement was the
    ``FOR UPDATE`` or the clock read that follows it)."""
    rows = postgres.query(
        "SELECT state, query FROM pg_stat_activity WHERE application_name = %s",
        ("genesys_assets rate limit",),
    )
    return any(
        state == "idle in transaction" and ("FOR UPDATE" in query or "clock_timestamp" in query)
        for state, query in rows
    )


@pytest.mark.parametrize("fault", ["killed", "frozen"])
def test_a_holder_that_dies_or_hangs_mid_step_leaks_nothing(postgres: PostgresServer, fault: str) -> None:
    """A process stopped between locking the bucket's row and committing (SIGKILL: a crashed pod; SIGSTOP:
    a frozen pod or a lost network) must not block the others for longer than the hold timeout (5 s)."""
    key = f"leak-{fault}"
    url = db_url(postgres)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, key],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        # Stop it until it is caught inside a step (its session idle in a transaction holding the row).
        for _ in range(200):
            holder.send_signal(signal.SIGSTOP)
            time.sleep(0.02)
            if _holds_the_row(postgres):
                break
            holder.send_signal(signal.SIGCONT)
        else:
            pytest.fail("the holder was never caught inside a step")
        if fault == "killed":
            holder.kill()
            holder.wait(timeout=10)
        limiter = SharedRateLimiter(key, 100.0, 10, Path("/nonexistent"), url)
        try:
            started = time.monotonic()
            for _ in range(3):
                limiter.acquire()
            took = time.monotonic() - started
        finally:
            limiter.close()
        print(f"\nholder {fault} mid-step: the next process got 3 tokens after {took:.2f} s")
        assert took < (1.0 if fault == "killed" else 7.0)
        if fault == "frozen":
            assert took > 3.0  # it really waited for the frozen holder's lock, until the timeout ended it
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.kill()
        holder.wait(timeout=10)
