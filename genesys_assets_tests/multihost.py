"""Three hosts on this one machine, made with Linux network namespaces, running the daily job against one org.

    services host (namespace <p>s)      10.250.77.9 on its loopback: PostgreSQL, the sandbox Genesys org, S3
      |-- veth 10.250.77.1/30 <-> 10.250.77.2/30 -- worker host A (namespace <p>a)
      |-- veth 10.250.77.5/30 <-> 10.250.77.6/30 -- worker host B (namespace <p>b)

Each worker host reaches the service address through its own link (a host route), so both use the same URLs,
as pods reach a cluster service. Each worker process sees its own /tmp (a bind mount in the mount namespace
`ip netns exec` gives it), so each has its own rate-limit folder, Dagster instance and lake folder; the hosts
share only PostgreSQL, the sandbox org and the S3 export bucket. The sandbox org and S3
run in this process, bound inside the services namespace (a thread joins it with setns(2) to open their
listening sockets), so the test reads the org's request counters directly. PostgreSQL runs inside it too.

`three_hosts()` builds the namespaces and always removes them (and every process left inside) on exit.
`run_daily_on_both()` starts one real Dagster run of `genesys_daily_job` on each worker host at once, with
the shared PostgreSQL bucket or with each host's own file bucket, samples the org's request counter while they
run, and returns what the org saw over the time both runs were fetching. The test
(`test_multihost.py`) and the benchmark (`bench/ratelimit.py --hosts`) both use it. Needs root and iproute2.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg

from genesys_assets.sandbox import SandboxConfig, SandboxServer
from genesys_assets_tests.postgres_fixtures import PostgresServer, find_postgres_bin

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVICE_ADDRESS = "10.250.77.9"
NETWORK = "10.250.77.0/24"
# worker role -> (services-side address, worker-side address) of its /30 link
LINKS = {"a": ("10.250.77.1", "10.250.77.2"), "b": ("10.250.77.5", "10.250.77.6")}
CLONE_NEWNET = 0x40000000
COMMAND_TIMEOUT_S = 20
CLIENT_ID, CLIENT_SECRET = "multihost-client", "multihost-secret-not-logged"
S3_KEY_ID, S3_SECRET = "multihost-key", "multihost-s3-secret"
TIMEZONE = "America/New_York"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)


def in_namespace(namespace: str, action: Callable[[], T]) -> T:
    """Run `action` in a thread that joined the network namespace: sockets it opens (and threads it starts)
    live there. The calling thread is unaffected."""
    libc = ctypes.CDLL(None, use_errno=True)
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {namespace} failed")
            finally:
                os.close(fd)
            outcome["value"] = action()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{namespace}")
    thread.start()
    thread.join(timeout=60)
    if thread.is_alive():
        raise TimeoutError(f"starting a service in namespace {namespace} took more than 60 s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@dataclass
class Hosts:
    """The namespaces of one test: `services`, and the worker hosts by role ("a", "b")."""

    services: str
    workers: dict[str, str]
    root: Path  # the hosts' private /tmp folders live under it

    def private_tmp(self, role: str) -> Path:
        folder = self.root / f"host-{role}-tmp"
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o1777)
        return folder

    def popen(self, role: str, command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        """Start `command` on worker host `role`, with the host's own /tmp.

        A checkout (and its virtual environment) that itself lives under /tmp stays visible: its top folder is
        bound into the private /tmp before that replaces the real one for the host's processes.
        """
        private = self.private_tmp(role)
        keep = ""
        for name in _tmp_entries_in_use():
            (private / name).mkdir(exist_ok=True)
            keep += f'mount --bind {shlex.quote("/tmp/" + name)} "$0"/{shlex.quote(name)} && '
        wrapped = [
            "ip",
            "netns",
            "exec",
            self.workers[role],
            "sh",
            "-c",
            keep + 'mount --rbind "$0" /tmp && exec "$@"',
            str(private),
            *command,
        ]
        with log.open("wb") as out:
            return subprocess.Popen(wrapped, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def _tmp_entries_in_use() -> list[str]:
    """The folders directly under /tmp that hold this checkout or its interpreter (empty when neither is)."""
    tmp = Path("/tmp").resolve()
    names = set()
    for path in (REPO, Path(sys.prefix), Path(sys.executable).resolve()):
        resolved = path.resolve()
        if resolved.is_relative_to(tmp) and resolved != tmp:
            names.add(resolved.relative_to(tmp).parts[0])
    return sorted(names)


def _remove_namespace(name: str) -> None:
    listed = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, timeout=10)
    for pid in listed.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), 9)
    subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=COMMAND_TIMEOUT_S)


@contextlib.contextmanager
def three_hosts() -> Iterator[Hosts]:
    """The services host and worker hosts A and B, linked by veth pairs; removed on exit, whatever happens."""
    prefix = f"g{uuid.uuid4().hex[:6]}"
    services = f"{prefix}s"
    workers = {role: f"{prefix}{role}" for role in LINKS}
    created: list[str] = []
    # Not under /tmp: the worker processes see their own /tmp, and must still see this folder.
    root = Path(tempfile.mkdtemp(prefix="genesys-multihost-", dir="/var/tmp"))
    try:
        for name in (services, *workers.values()):
            _ip("netns", "add", name)
            created.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", services, "addr", "add", f"{SERVICE_ADDRESS}/32", "dev", "lo")
        for role, (service_side, worker_side) in LINKS.items():
            near, far = f"{prefix}{role}s", f"{prefix}{role}w"  # interface names stay under 15 characters
            _ip("link", "add", near, "type", "veth", "peer", "name", far)
            _ip("link", "set", near, "netns", services)
            _ip("link", "set", far, "netns", workers[role])
            _ip("-n", services, "addr", "add", f"{service_side}/30", "dev", near)
            _ip("-n", workers[role], "addr", "add", f"{worker_side}/30", "dev", far)
            _ip("-n", services, "link", "set", near, "up")
            _ip("-n", workers[role], "link", "set", far, "up")
            _ip("-n", workers[role], "route", "add", f"{SERVICE_ADDRESS}/32", "via", service_side)
        yield Hosts(services=services, workers=workers, root=root)
    finally:
        for name in reversed(created):
            _remove_namespace(name)
        shutil.rmtree(root, ignore_errors=True)


def namespaces_left(hosts: Hosts) -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
    names = {line.split()[0] for line in listed.splitlines() if line.strip()}
    return sorted(names & {hosts.services, *hosts.workers.values()})


@dataclass
class Services:
    """What runs on the services host."""

    postgres: PostgresServer
    sandbox: SandboxServer
    s3_url: str
    bucket: str
    stop: Callable[[], None]


@contextlib.contextmanager
def services_on(hosts: Hosts, *, rate: float, burst: int, days: tuple[str, str]) -> Iterator[Services]:
    """PostgreSQL, the sandbox org (enforcing `rate` requests/s with `burst`) and S3 on the services host."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries are missing; run `bash scripts/system-packages.sh`.")
    pg_root = Path(tempfile.mkdtemp(prefix="genesys-multihost-pg-"))
    postgres = PostgresServer(
        bin_dir=bin_dir, root=pg_root, host=SERVICE_ADDRESS, netns=hosts.services, allowed_network=NETWORK
    )
    started: list[Callable[[], None]] = []
    try:
        postgres.start()
        started.append(postgres.stop)
        config = SandboxConfig(
            seed=20,
            queue_count=4,
            timezone=TIMEZONE,
            start_date=datetime.fromisoformat(days[0]).date(),
            end_date=datetime.fromisoformat(days[1]).date(),
            conversations_per_queue_day=20,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            requests_per_second=rate,
            burst=burst,
        )
        sandbox = in_namespace(hosts.services, lambda: SandboxServer(config, host=SERVICE_ADDRESS).start())
        started.append(sandbox.stop)
        moto = ThreadedMotoServer(ip_address=SERVICE_ADDRESS, port=0, verbose=False)
        in_namespace(hosts.services, moto.start)
        started.append(moto.stop)
        s3_url = "http://{}:{}".format(*moto.get_host_and_port())
        bucket = f"multihost-{uuid.uuid4().hex[:8]}"

        def create_bucket() -> None:
            import boto3

            boto3.client(
                "s3",
                endpoint_url=s3_url,
                aws_access_key_id=S3_KEY_ID,
                aws_secret_access_key=S3_SECRET,
                region_name="us-east-1",
            ).create_bucket(Bucket=bucket)

        in_namespace(hosts.services, create_bucket)

        def stop() -> None:
            for action in reversed(started):
                with contextlib.suppress(Exception):
                    action()
            started.clear()

        yield Services(postgres=postgres, sandbox=sandbox, s3_url=s3_url, bucket=bucket, stop=stop)
    finally:
        for action in reversed(started):
            with contextlib.suppress(Exception):
                action()
        shutil.rmtree(pg_root, ignore_errors=True)


def worker_env(services: Services, *, rate: float, burst: int, shared: bool) -> dict[str, str]:
    """The environment of a run on a worker host: the org, S3 lake and export, and the rate budget."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GENESYS_", "EXPORT_", "AWS_", "DAGSTER_"))
    }
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "PYTHONWARNINGS": "ignore",
            "DAGSTER_HOME": "/tmp/dagster_home",  # the host's own /tmp
            "GENESYS_CLIENT_ID": CLIENT_ID,
            "GENESYS_CLIENT_SECRET": CLIENT_SECRET,
            "GENESYS_API_URL": services.sandbox.url,
            "GENESYS_LOGIN_URL": services.sandbox.url,
            "GENESYS_TIMEZONE": TIMEZONE,
            "GENESYS_START_DATE": "2026-01-01",
            "GENESYS_REQUESTS_PER_SECOND": f"{rate:g}",
            "GENESYS_BURST": str(burst),
            "GENESYS_RATE_LIMIT_DIR": "/tmp/genesys-rate-limit",  # the host's own folder
            "GENESYS_FETCH_MODE": "sync",
            "GENESYS_MAX_QUERY_DAYS": "1",  # one request per day: a range is a steady stream of requests
            "GENESYS_MAX_ATTEMPTS": "10",
            "GENESYS_LAKE_DIR": "/tmp/lake",
            "EXPORT_S3_BUCKET": services.bucket,
            "EXPORT_S3_PREFIX": "export",
            "AWS_ENDPOINT_URL": services.s3_url,
            "AWS_ACCESS_KEY_ID": S3_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_REGION": "us-east-1",
        }
    )
    if shared:
        env["GENESYS_RATE_LIMIT_URL"] = services.postgres.url()
    return env


WORKER = "from genesys_assets_tests.multihost import worker_main; raise SystemExit(worker_main())"


def worker_main(argv: list[str] | None = None) -> int:
    """On a worker host: optionally one run of the directory job, then, once the test says go, one run of
    the daily job over a range. Both are runs of the code location's own jobs on this host's instance."""
    ready, go, first, last, *jobs = argv or sys.argv[1:]
    from genesys_assets.definitions import defs

    code = 0
    if "directory" in jobs:
        directory = defs.get_job_def("genesys_directory_job").execute_in_process(
            instance=dg.DagsterInstance.get(), raise_on_error=False
        )
        code = 0 if directory.success else 1
    Path(ready).write_text(str(code))
    deadline = time.monotonic() + 120
    while not Path(go).exists() and time.monotonic() < deadline:  # bounded wait for the common start
        time.sleep(0.02)
    if code == 0 and Path(go).exists():
        tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
        # The instance is opened only now: the other phase's process on this host has finished with it.
        daily = defs.get_job_def("genesys_daily_job").execute_in_process(
            instance=dg.DagsterInstance.get(), tags=tags, raise_on_error=False
        )
        code = 0 if daily.success else 1
    sys.stdout.flush()
    os._exit(code)  # skip interpreter teardown: the runs are stored


@dataclass
class HostRun:
    """One host's run, read back from that host's own Dagster instance."""

    role: str
    status: str
    fetch_start: float  # when the run's first and last Genesys answers were stored (epoch seconds)
    fetch_end: float
    api_calls: int
    http_429: int  # 429s the run's client met (its materialization metadata)
    log: str
    run_start: float = 0.0
    run_end: float = 0.0


@dataclass
class LoadResult:
    """What the org saw while both hosts fetched."""

    shared: bool
    runs: list[HostRun]
    window_s: float
    requests_in_window: float  # answered and refused, at the org
    refused_in_window: float  # 429s the org sent in the window
    server_429_total: int
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    launched: float = 0.0  # when the worker processes were started
    exited: float = 0.0  # when the last of them had exited

    @property
    def rate(self) -> float:
        return self.requests_in_window / self.window_s if self.window_s > 0 else 0.0


def _home(hosts: Hosts, role: str) -> Path:
    return hosts.private_tmp(role) / "dagster_home"


def read_run(hosts: Hosts, role: str, log: Path) -> HostRun:
    """The newest daily-job run of host `role`: status, its fetch step's span and its 429 count."""
    with dg.DagsterInstance.from_config(str(_home(hosts, role))) as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name="genesys_daily_job"), limit=1)
        if not runs:
            return HostRun(role, "MISSING", 0.0, 0.0, 0, 0, log.read_text(errors="replace")[-3000:])
        run = runs[0]
        start = end = 0.0
        api_calls = http_429 = 0
        for entry in instance.all_logs(run.run_id):
            if entry.step_key != "raw_queue_aggregates":
                continue
            if entry.user_message.startswith("Flattened chunk"):  # logged as each answer is stored
                start = start or entry.timestamp
                end = entry.timestamp
            event = entry.dagster_event
            if event is not None and event.event_type_value == "ASSET_MATERIALIZATION":
                metadata = event.event_specific_data.materialization.metadata
                if "http_429" in metadata:
                    http_429 = max(http_429, int(metadata["http_429"].value))
                    api_calls = max(api_calls, int(metadata["api_calls"].value))
        stats = instance.get_run_stats(run.run_id)
        return HostRun(
            role,
            run.status.value,
            start,
            end,
            api_calls,
            http_429,
            log.read_text(errors="replace")[-3000:],
            run_start=stats.start_time or 0.0,
            run_end=stats.end_time or 0.0,
        )


def _count_at(samples: list[tuple[float, int, int]], instant: float, index: int) -> float:
    """The org's counter at `instant`, interpolated between the samples around it."""
    before = max((s for s in samples if s[0] <= instant), default=samples[0])
    after = min((s for s in samples if s[0] >= instant), default=samples[-1])
    if after[0] == before[0]:
        return float(before[index])
    share = (instant - before[0]) / (after[0] - before[0])
    return before[index] + share * (after[index] - before[index])


@dataclass
class Phase:
    """The worker processes of one mode (one per host), started together, each waiting for `go`."""

    shared: bool
    processes: dict[str, subprocess.Popen[bytes]]
    logs: dict[str, Path]
    ready: dict[str, Path]
    go: Path


def start_phase(
    hosts: Hosts,
    services: Services,
    *,
    shared: bool,
    rate: float,
    burst: int,
    days: tuple[str, str],
    directory: bool,
) -> Phase:
    """Start one worker process per host (importing the code location takes seconds; they start early)."""
    env = worker_env(services, rate=rate, burst=burst, shared=shared)
    mode = "shared" if shared else "per-host"
    go = hosts.root / f"go-{mode}"
    processes, logs, ready = {}, {}, {}
    for role in hosts.workers:
        home = _home(hosts, role)
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        logs[role] = hosts.root / f"run-{mode}-{role}.log"
        ready[role] = hosts.root / f"ready-{mode}-{role}"
        command = [sys.executable, "-c", WORKER, str(ready[role]), str(go), days[0], days[1]]
        command += ["directory"] if directory else []
        processes[role] = hosts.popen(role, command, env, logs[role])
    return Phase(shared, processes, logs, ready, go)


def _wait_ready(phase: Phase, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(path.exists() for path in phase.ready.values()):
        exited = [role for role, p in phase.processes.items() if p.poll() is not None]
        if exited or time.monotonic() > deadline:
            tails = "\n".join(phase.logs[r].read_text(errors="replace")[-2000:] for r in phase.processes)
            raise AssertionError(f"worker hosts not ready (exited: {exited}):\n{tails}")
        time.sleep(0.05)
    failed = [role for role, path in phase.ready.items() if path.read_text() != "0"]
    if failed:
        tails = "\n".join(phase.logs[r].read_text(errors="replace")[-3000:] for r in failed)
        raise AssertionError(f"the directory run failed on host(s) {failed}:\n{tails}")


def stop_phase(phase: Phase) -> None:
    for process in phase.processes.values():
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def run_phase(hosts: Hosts, services: Services, phase: Phase, *, timeout_s: float = 120.0) -> LoadResult:
    """Give the phase's workers the common start; sample the org's counters until both runs ended."""
    stats = services.sandbox.stats
    samples: list[tuple[float, int, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            figures = stats()
            samples.append((time.time(), figures["requests_total"], figures["http_429"]))
            stop.wait(0.1)

    try:
        _wait_ready(phase, timeout_s)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        launched = time.time()
        phase.go.touch()
        deadline = time.monotonic() + timeout_s
        for process in phase.processes.values():
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        stop_phase(phase)
        stop.set()
    sampler.join(timeout=5)
    runs = [read_run(hosts, role, phase.logs[role]) for role in hosts.workers]
    begin = max(run.fetch_start for run in runs)
    end = min(run.fetch_end for run in runs)
    window = max(0.0, end - begin)
    requests = _count_at(samples, end, 1) - _count_at(samples, begin, 1) if window else 0.0
    refused = _count_at(samples, end, 2) - _count_at(samples, begin, 2) if window else 0.0
    return LoadResult(
        shared=phase.shared,
        runs=runs,
        window_s=window,
        requests_in_window=requests,
        refused_in_window=refused,
        server_429_total=samples[-1][2] - samples[0][2] if samples else 0,
        samples=samples,
        launched=launched,
        exited=time.time(),
    )


def compare_buckets(
    hosts: Hosts, services: Services, *, rate: float, burst: int, days: tuple[str, str]
) -> tuple[LoadResult, LoadResult]:
    """The daily job on both hosts with the shared PostgreSQL bucket, then with each host's file bucket.

    The shared phase's workers first run the directory job (each host's lake needs it); the per-host phase's
    workers start at the same time and import while the shared runs fetch, then wait for their own start.
    """
    shared = start_phase(hosts, services, shared=True, rate=rate, burst=burst, days=days, directory=True)
    per_host = start_phase(hosts, services, shared=False, rate=rate, burst=burst, days=days, directory=False)
    try:
        first = run_phase(hosts, services, shared)
        second = run_phase(hosts, services, per_host)
    finally:
        stop_phase(shared)
        stop_phase(per_host)
    return first, second
