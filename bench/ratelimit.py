"""The shared token bucket: achieved request rate and 429s with 1, 2 and 4 processes on one OAuth client.

    .venv/bin/python bench/ratelimit.py            # R = 20 requests/s, 15 s per setting
    .venv/bin/python bench/ratelimit.py --quick    # 3 s, 4 processes only
    .venv/bin/python bench/ratelimit.py --hosts    # two hosts (network namespaces; root): shared vs per-host

The sandbox Genesys org runs in its own process with a server-side token bucket of R requests/s (burst 10):
a request over the limit gets 429 with Retry-After, as Genesys answers. Each worker process builds our
`GenesysClient` configured at the same R (burst 5) with the rate-limit file in one shared temporary
GENESYS_RATE_LIMIT_DIR, waits for a common start instant (given once every worker is ready), then calls `GET /api/v2/routing/queues?pageSize=1`
in a loop bounded by time and count (the parent gives the start once every worker is ready). The first seconds (the full buckets' burst) are the warm-up; the rest
is the steady state. Printed per setting: achieved rate / R, and the 429s seen by the clients and counted
by the server, in warm-up and in steady state.

`--hosts` measures across machines instead: a services host (PostgreSQL, the sandbox org enforcing R, S3) and
two worker hosts built from Linux network namespaces (`genesys_assets_tests/multihost.py`), each running one
Dagster run of `genesys_daily_job` over the same days at once (one request per day), first with the OAuth
client's bucket shared in PostgreSQL (`GENESYS_RATE_LIMIT_URL`), then with each host's own file bucket. It
prints the combined rate the org saw while both runs fetched, side by side, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    PYTHON,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SandboxProcess,
    child_env,
    ratio_line,
    sandbox_process,
    stop_on_sigterm,
)

SCRIPT = str(Path(__file__).resolve())
SERVER_BURST = 10
CLIENT_BURST = 5
QUEUES_PATH = "/api/v2/routing/queues"


READY_TIMEOUT_S = 120.0


def _await_start(folder: Path) -> float:
    """Announce this worker is ready (a file in `folder`), then wait for the parent's common start instant."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + READY_TIMEOUT_S
    start_file = folder / "start"
    while time.monotonic() < deadline:
        if start_file.exists() and start_file.read_text().strip():
            return float(start_file.read_text())
        time.sleep(0.01)
    raise SystemExit("the parent never gave the start instant")


def worker(args: argparse.Namespace) -> int:
    """Calls in a loop from `start_at` for `seconds` (wall clock); prints call instants and client stats."""
    from genesys_assets.genesys import GenesysClient, GenesysSettings

    settings = GenesysSettings(
        client_id=SANDBOX_CLIENT_ID,
        client_secret=SANDBOX_CLIENT_SECRET,
        api_url=args.url,
        login_url=args.url,
        requests_per_second=args.rate,
        burst=CLIENT_BURST,
        rate_limit_dir=args.dir,
        max_attempts=10,
    )
    with GenesysClient(settings) as client:
        client.request("GET", QUEUES_PATH, params={"pageSize": 1})  # token and connection before the start
        before = client.stats
        start_at = _await_start(Path(args.dir))
        time.sleep(max(0.0, start_at - time.time()))
        stop_at = start_at + args.seconds
        done: list[float] = []
        http_429: list[float] = []
        for _ in range(args.max_calls):
            if time.time() >= stop_at:
                break
            seen = client.stats.http_429
            client.request("GET", QUEUES_PATH, params={"pageSize": 1})
            now = time.time()
            done.append(now)
            http_429.extend([now] * (client.stats.http_429 - seen))
        after = client.stats
    print(
        json.dumps(
            {
                "done": done,
                "http_429": http_429,
                "api_calls": after.api_calls - before.api_calls,
                "retries": after.retries - before.retries,
                "waited_s": round(after.rate_limit_wait_s - before.rate_limit_wait_s, 3),
            }
        ),
        flush=True,
    )
    return 0


def measure(
    sandbox: SandboxProcess, processes: int, rate: float, seconds: float, warmup: float, folder: Path
) -> dict[str, float]:
    """One setting: `processes` workers sharing one bucket file; figures for warm-up and steady state."""
    import subprocess

    bucket_dir = folder / f"bucket-{processes}"
    bucket_dir.mkdir(parents=True)
    commands = [
        [
            PYTHON,
            SCRIPT,
            "worker",
            "--url",
            sandbox.url,
            "--rate",
            str(rate),
            "--dir",
            str(bucket_dir),
            "--seconds",
            str(seconds),
            "--max-calls",
            str(int(rate * seconds * 2) + 10),
        ]
        for _ in range(processes)
    ]
    workers = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
        for c in commands
    ]
    # Start together once every worker has imported, fetched its token and made one call.
    deadline = time.monotonic() + READY_TIMEOUT_S
    while len(list(bucket_dir.glob("ready-*"))) < processes:
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            raise SystemExit("a rate-limit worker did not get ready")
        time.sleep(0.05)
    start_at = time.time() + 0.5
    (bucket_dir / "start.tmp").write_text(repr(start_at))
    (bucket_dir / "start.tmp").rename(bucket_dir / "start")
    time.sleep(max(0.0, start_at - time.time()))
    server_start = sandbox.stats()
    time.sleep(max(0.0, start_at + warmup - time.time()))
    server_warm = sandbox.stats()
    outputs = []
    for process in workers:
        out, err = process.communicate(timeout=seconds + 120)
        if process.returncode != 0:
            raise SystemExit(f"a rate-limit worker failed:\n{err[-3000:]}")
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    server_end = sandbox.stats()
    done = sorted(t for o in outputs for t in o["done"])
    client_429 = [t for o in outputs for t in o["http_429"]]
    end = start_at + seconds
    steady = [t for t in done if start_at + warmup <= t < end]
    steady_rate = len(steady) / (min(end, done[-1]) - (start_at + warmup)) if steady else 0.0
    return {
        "processes": processes,
        "calls": len(done),
        "warmup_calls": sum(1 for t in done if t < start_at + warmup),
        "steady_rate": steady_rate,
        "client_429_warmup": sum(1 for t in client_429 if t < start_at + warmup),
        "client_429_steady": sum(1 for t in client_429 if t >= start_at + warmup),
        "server_429_warmup": server_warm["http_429"] - server_start["http_429"],
        "server_429_steady": server_end["http_429"] - server_warm["http_429"],
        "retries": sum(o["retries"] for o in outputs),
        "per_process": sorted(len(o["done"]) for o in outputs),
        "waited_s": sum(o["waited_s"] for o in outputs),
    }


def parent(args: argparse.Namespace) -> int:
    rate = args.rate
    print(
        f"rate-limit bench: sandbox limit R = {rate:g} requests/s (server token bucket, burst {SERVER_BURST}, "
        f"429 + Retry-After); clients at R with burst {CLIENT_BURST}, one shared bucket file; "
        f"{args.seconds:g} s per setting, first {args.warmup:g} s = warm-up; sandbox in its own process",
        flush=True,
    )
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="genesys-bench-rate-") as tmp,
        sandbox_process(
            queues=5,
            timezone="UTC",
            start=date.today() - timedelta(days=30),
            end=date.today(),
            rps=rate,
            burst=SERVER_BURST,
        ) as sandbox,
    ):
        for processes in args.processes:
            rows.append(measure(sandbox, processes, rate, args.seconds, args.warmup, Path(tmp)))
    print()
    print(
        "processes  calls  warm-up calls  steady rate  rate/R  429 client (warm-up/steady)  "
        "429 server (warm-up/steady)  waited in bucket  calls per process"
    )
    for r in rows:
        print(
            f"{r['processes']:>9}  {r['calls']:>5}  {r['warmup_calls']:>13}  {r['steady_rate']:>8.3f}/s  "
            f"{r['steady_rate'] / rate:>6.3f}  {r['client_429_warmup']:>15} / {r['client_429_steady']:<10}  "
            f"{r['server_429_warmup']:>15} / {r['server_429_steady']:<10}  {r['waited_s']:>10.1f} s  "
            f"{'/'.join(str(n) for n in r['per_process'])}"
        )
    print()
    for r in rows:
        met = r["steady_rate"] / rate >= 0.9 and r["server_429_steady"] == 0 and r["client_429_steady"] == 0
        print(
            ratio_line(
                f"achieved steady rate / R with {r['processes']} process(es)",
                r["steady_rate"] / rate,
                detail=f"[{r['steady_rate']:.2f}/s of {rate:g}/s; steady-state 429s: client "
                f"{r['client_429_steady']}, server {r['server_429_steady']}"
                + (
                    f"; target >= 0.9 and no 429: {'met' if met else 'NOT met'}]"
                    if r["processes"] == 4
                    else "]"
                ),
            )
        )
    return 0


def hosts(args: argparse.Namespace) -> int:
    """Shared PostgreSQL bucket vs per-host file buckets, two worker hosts, real daily-job runs."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from genesys_assets_tests import multihost
    from genesys_assets_tests.sandbox_fixtures import org_burst

    rate, burst = args.rate, CLIENT_BURST
    server_burst = org_burst(rate, burst)
    first = date(2026, 10, 1)
    days = (first.isoformat(), (first + timedelta(days=args.days - 1)).isoformat())
    print(
        f"rate-limit bench, two hosts: org limit R = {rate:g} requests/s (burst {server_burst}); clients at R, "
        f"burst {burst}; each host one run of genesys_daily_job over {args.days} days (one request a day)",
        flush=True,
    )
    started = time.monotonic()
    with (
        multihost.three_hosts() as machine,
        multihost.services_on(
            machine, rate=rate, burst=server_burst, days=("2026-09-01", "2026-12-31")
        ) as services,
    ):
        shared, per_host = multihost.compare_buckets(machine, services, rate=rate, burst=burst, days=days)
    print()
    print(
        "bucket                 runs       window  requests  combined rate  rate/R  429 at org  429 in runs"
    )
    for name, result in (("shared (PostgreSQL)", shared), ("per-host (files)", per_host)):
        statuses = "/".join(run.status[:4] for run in result.runs)
        print(
            f"{name:<21}  {statuses:<9}  {result.window_s:>5.1f} s  {result.requests_in_window:>8.1f}  "
            f"{result.rate:>9.2f}/s  {result.rate / rate:>6.2f}  {result.server_429_total:>10}  "
            f"{sum(run.http_429 for run in result.runs):>11}"
        )
    print(f"\n{time.monotonic() - started:.1f} s in all")
    print(
        ratio_line(
            "combined rate at the org, per-host file buckets vs shared PostgreSQL bucket",
            per_host.rate / shared.rate if shared.rate else 0.0,
            detail=f"[shared {shared.rate / rate:.2f} R with {shared.server_429_total} x 429; per-host "
            f"{per_host.rate / rate:.2f} R with {per_host.server_429_total} x 429]",
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode")
    w = sub.add_parser("worker", help="internal: one client process")
    w.add_argument("--url", required=True)
    w.add_argument("--rate", type=float, required=True)
    w.add_argument("--dir", required=True)
    w.add_argument("--seconds", type=float, required=True)
    w.add_argument("--max-calls", type=int, required=True)
    parser.add_argument("--quick", action="store_true", help="3 s, 4 processes only")
    parser.add_argument("--hosts", action="store_true", help="two hosts in network namespaces (root)")
    parser.add_argument("--days", type=int, default=16, help="--hosts: days per run (default 16)")
    parser.add_argument(
        "--rate", type=float, default=None, help="R, requests per second (default 20; 4 with --hosts)"
    )
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--warmup", type=float, default=None)
    args = parser.parse_args(argv)
    if args.mode == "worker":
        return worker(args)
    if args.hosts:
        args.rate = args.rate or 4.0
        return hosts(args)
    args.rate = args.rate or 20.0
    args.seconds = args.seconds or (3.0 if args.quick else 15.0)
    args.warmup = args.warmup or (1.0 if args.quick else 2.0)
    args.processes = (4,) if args.quick else (1, 2, 4)
    stop_on_sigterm()
    return parent(args)


if __name__ == "__main__":
    raise SystemExit(main())
