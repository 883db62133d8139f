"""One Genesys rate budget across machines: two worker hosts running the daily job against one org.

Three hosts on this machine (`multihost.py`: Linux network namespaces joined by veth pairs): a services host
with PostgreSQL, the sandbox org and S3, and worker hosts A and B, each with its own /tmp, rate-limit folder,
Dagster instance and lake. The org enforces R requests/s (its own token bucket, 429 + Retry-After beyond it).
Both hosts run one real run of `genesys_daily_job` over the same days at the same time, first sharing the
OAuth client's bucket in PostgreSQL (`GENESYS_RATE_LIMIT_URL`), then each with its own file bucket (the
single-machine default). Measured at the org, over the time both runs were fetching:

* shared bucket: requests <= R x window + burst, >= 0.9 R used, no 429 sent, none in the runs' metadata;
* per-host buckets: the same load overshoots R + burst and meets 429s.

`bench/ratelimit.py --hosts` prints the same comparison as a ratio. Run as root (CI is); needs iproute2
(`scripts/system-packages.sh`).
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from genesys_assets_tests import multihost
from genesys_assets_tests.sandbox_fixtures import org_burst

pytestmark = pytest.mark.e2e

RATE = 3.0  # R: requests per second the org allows (and the OAuth client's configured rate)
BURST = 2  # the client's bucket; the org allows 2 s more at R, so delays on the way are not refused
DAYS = (
    "2026-10-01",
    "2026-10-18",
)  # one request per day and host: 36 requests, ~12 s at R (6 s per host alone)


def _describe(result: multihost.LoadResult) -> str:
    mode = "shared PostgreSQL bucket" if result.shared else "per-host file buckets"
    runs = ", ".join(
        f"host {r.role}: {r.status}, {r.api_calls} calls, {r.http_429} x 429" for r in result.runs
    )
    return (
        f"{mode}: {result.requests_in_window:.1f} requests in {result.window_s:.2f} s = {result.rate:.2f}/s "
        f"= {result.rate / RATE:.2f} R; org sent {result.server_429_total} x 429 ({runs})"
    )


def test_two_hosts_share_one_rate_budget_through_postgresql() -> None:
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (CI runs the suite as root)")
    if shutil.which("ip") is None:
        pytest.fail("iproute2 is missing; run `bash scripts/system-packages.sh`.")
    started = time.monotonic()
    # three_hosts() removes the namespaces, and kills what runs in them, however the block ends.
    with (
        multihost.three_hosts() as hosts,
        multihost.services_on(
            hosts, rate=RATE, burst=org_burst(RATE, BURST), days=("2026-09-01", "2026-10-31")
        ) as services,
    ):
        shared, per_host = multihost.compare_buckets(hosts, services, rate=RATE, burst=BURST, days=DAYS)
        # The bucket table holds one hashed key: the OAuth client's, shared by both hosts.
        keys = services.postgres.query("SELECT key FROM genesys_rate_limit")
    assert multihost.namespaces_left(hosts) == []  # every namespace (and its veth pairs) removed
    assert not hosts.root.exists()
    print(f"\nmulti-host, R = {RATE:g}/s, burst {BURST}, {time.monotonic() - started:.1f} s in all")
    print(_describe(shared))
    print(_describe(per_host))
    if shared.rate:
        print(f"ratio per-host / shared combined rate: {per_host.rate / shared.rate:.2f}x")

    for result in (shared, per_host):
        assert [run.status for run in result.runs] == ["SUCCESS", "SUCCESS"], [r.log for r in result.runs]
        assert result.window_s >= 2.0, "the two runs barely fetched at the same time"
    assert len(keys) == 1 and keys[0][0].startswith("genesys-") and multihost.CLIENT_ID not in keys[0][0]

    # Shared: within the budget, the budget used, no 429 anywhere.
    assert shared.requests_in_window <= RATE * shared.window_s + BURST + 1  # +1: sampled every 0.1 s
    assert shared.rate >= 0.9 * RATE
    assert shared.server_429_total == 0
    assert all(run.http_429 == 0 for run in shared.runs)

    # Per host: each host spends its own R, together they overshoot and meet the org's 429s.
    assert per_host.requests_in_window > RATE * per_host.window_s + BURST + 1
    assert per_host.server_429_total > 0
    assert sum(run.http_429 for run in per_host.runs) > 0
