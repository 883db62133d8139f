"""The shared token bucket: burst then steady rate in one process, and one budget across two processes.

Run with ``-s`` to see the measured figures (allowed vs achieved requests per second, 429s).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from genesys_assets.genesys import GenesysClient
from genesys_assets.genesys.client import QUEUES_PATH
from genesys_assets.sandbox import SandboxServer
from genesys_assets_tests.sandbox_fixtures import client_settings

MakeSandbox = Callable[..., SandboxServer]
TOLERANCE = 0.10

WORKER = """
import json, sys, time
from genesys_assets.genesys import GenesysClient, GenesysSettings
url, directory, count, rate, burst = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
settings = GenesysSettings(client_id="sandbox-client", client_secret="sandbox-secret", api_url=url,
                           rate_limit_dir=directory, requests_per_second=rate, burst=burst)
go = float(sys.argv[6])
with GenesysClient(settings) as client:
    time.sleep(max(0.0, go - time.time()))  # both workers start together
    stamps = []
    for _ in range(count):
        client.request("GET", "/api/v2/routing/queues", params={"pageSize": 1})
        stamps.append(time.time())
    stats = client.stats
print(json.dumps({"stamps": stamps, "api_calls": stats.api_calls, "token_calls": stats.token_calls,
                  "http_429": stats.http_429, "wait_s": stats.rate_limit_wait_s}))
"""


def test_burst_then_configured_rate_in_one_process(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    server = make_sandbox()
    rate, burst, count = 20.0, 5, 30
    with GenesysClient(client_settings(server, tmp_path, requests_per_second=rate, burst=burst)) as client:
        started = time.monotonic()
        stamps = []
        for _ in range(count):
            client.request("GET", QUEUES_PATH, params={"pageSize": 1})
            stamps.append(time.monotonic() - started)
        stats = client.stats
    total = count + stats.token_calls  # the token call spends from the same bucket
    assert stamps[burst - 2] < 0.15  # the burst goes out at once (token call + 4 API calls)
    minimum = (total - burst) / rate
    assert stamps[-1] >= minimum * 0.97
    achieved = (total - burst) / stamps[-1]
    print(f"\none process: allowed {rate:g}/s burst {burst}; achieved {achieved:.2f}/s after the burst")
    assert achieved <= rate * (1 + TOLERANCE)
    assert stats.rate_limit_wait_s > 0.5 * minimum


def test_two_processes_share_one_bucket(make_sandbox: MakeSandbox, tmp_path: Path) -> None:
    rate, burst, per_process = 5.0, 10, 14  # the production defaults
    # The server enforces Genesys-style limits a little above ours: the shared bucket must keep both
    # processes under it together, so no 429 comes back.
    server = make_sandbox(requests_per_second=rate * 1.25, burst=burst * 2)
    go = time.time() + 4.0  # after both interpreters have imported the client, even on a busy machine
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                server.url,
                str(tmp_path),
                str(per_process),
                str(rate),
                str(burst),
                str(go),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    reports = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))

    stamps = sorted(t for report in reports for t in report["stamps"])
    total = sum(r["api_calls"] + r["token_calls"] for r in reports)
    span = stamps[-1] - go
    achieved = (total - burst) / span
    first, second = (r["stamps"] for r in reports)
    overlap = min(first[-1], second[-1]) - max(first[0], second[0])
    server_429 = server.stats()["http_429"]
    client_429 = sum(r["http_429"] for r in reports)
    print(
        f"\ntwo processes: allowed {rate:g}/s burst {burst}; {total} requests ({per_process} API + 1 token each) "
        f"in {span:.2f} s -> achieved {achieved:.2f}/s after the burst; per-process waits "
        f"{[r['wait_s'] for r in reports]} s; HTTP 429: server sent {server_429}, clients saw {client_429}"
    )
    assert overlap > 0.5 * span  # the processes really ran side by side
    assert achieved <= rate * (1 + TOLERANCE)
    assert achieved >= rate * 0.7  # and the shared budget was used, not wasted
    assert server_429 == client_429 == 0

    # The bucket file holds a hash key and a number, never the credentials.
    with sqlite3.connect(tmp_path / "genesys_rate_limit.sqlite3") as db:
        rows = db.execute("SELECT key, state FROM token_bucket").fetchall()
    assert len(rows) == 1 and "sandbox" not in rows[0][0]
    assert b"sandbox-secret" not in (tmp_path / "genesys_rate_limit.sqlite3").read_bytes()
