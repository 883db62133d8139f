"""Backfill a year in one run versus one run per partition, through real Dagster, side by side.

    .venv/bin/python bench/backfill.py                        # 200 queues, 365 local days, 14 sampled runs
    .venv/bin/python bench/backfill.py --queues 2000 --days 90 --no-month --compare-queues 200
                                                              # a large org beside a small one: memory flat?
    .venv/bin/python bench/backfill.py --days 365 --baseline ../before   # this code beside a checkout of another
    .venv/bin/python bench/backfill.py --quick                # 6 queues, 5 days, 1 sampled run (a smoke run)

Setup: the sandbox Genesys org (200 queues, America/New_York, PT30M, rate limit off) and a moto S3 run in
their own processes on 127.0.0.1, so their CPU does not count as the pipeline's. Each Dagster run is its
own process, as Dagster's default run launcher starts it, with a temporary DAGSTER_HOME and lake folder
and the project's default executor (``--executor`` picks another); the client's token bucket is set
generously (100 requests/s, burst 50) so it never throttles.

(a) one single-run backfill: `genesys_daily_job` (raw_queue_aggregates -> queue_interval_kpis ->
    queue_kpis_daily -> queue_export_daily, with their checks) over every day, through `execute_job` with
    the range tags `dagster/asset_partition_range_start/end`;
(b) the same job for a sample of days spread over the range, one run (one process) per partition,
    timed and extrapolated per partition to the whole range;
(c) the same job over the last 31 days of the range as one run, for its peak memory: a range streams
    through each step a batch of days at a time, so (a)'s peak should stay close to (c)'s.

(a0) with ``--baseline DIR``: the same run as (a) with the code checked out in DIR, on the same org, whose
    export objects must be byte-identical to (a)'s for every day (``--pairs N`` repeats both, alternating);
(d) with ``--compare-queues N``: the same range as one run for an org of N queues, on its own sandbox.

The export objects of the sampled days must be byte-identical between (a) and (b), so the comparison is
honest; before each run of (b), its lake gets the raw days of that day's channel window from (a), as a
nightly run finds them. Printed: wall time of each, their ratio, API calls by kind (sandbox counters), peak
RSS of (a) and (c) and their ratio, and for each single run where its CPU went: our steps, per queue-day
and per step (`StepCosts`), apart from Dagster's event work, with each step's peak RSS; ``--profile FILE``
adds a summary of a cProfile of every thread.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    PYTHON,
    REPO,
    ChildResult,
    SandboxProcess,
    moto_s3_process,
    ratio_line,
    require_ok,
    run_child,
    s3_client,
    sandbox_process,
    stop_on_sigterm,
)

from genesys_assets import config
from genesys_assets.lake.export_writer import export_key

if TYPE_CHECKING:
    from dagster import JobDefinition

SCRIPT = str(Path(__file__).resolve())
DAILY_JOB = "genesys_daily_job"
# The sandbox's API limits (its defaults; --sandbox-max-query-days lowers the first).
SANDBOX_MAX_QUERY_DAYS, SANDBOX_MAX_JOB_DAYS, SANDBOX_JOB_PAGE_SIZE = 7, 31, 50
DATA_ROUTES = ("aggregates_query", "jobs_create", "job_status", "job_results", "job_delete")
BUCKET = "bench-lake"
DAGSTER_YAML = "telemetry:\n  enabled: false\n"


# --------------------------------------------------------------------------------------------- worker


def daily_job() -> JobDefinition:
    """The production daily job. A module-level function, so `dg.reconstructable` can rebuild it in each step
    process as Dagster's run worker does; dagster is imported only after the parent set the environment."""
    from genesys_assets.definitions import defs

    return defs.get_job_def(DAILY_JOB)


def directory_job() -> JobDefinition:
    from genesys_assets.definitions import defs

    return defs.get_job_def("genesys_directory_job")


class RssSampler(threading.Thread):
    """Polls the resident set size of this process and its descendants (the step processes of a
    multiprocess run) from /proc every 0.2 s; `peak_kb` maps pid -> the largest RSS seen, `window_kb` the largest
    seen since `open_window` (the RSS of a step of an in-process run, whatever the steps before it held)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kb: dict[int, int] = {}
        self.window_kb: dict[int, int] = {}
        self._stopped = threading.Event()

    def run(self) -> None:
        root = os.getpid()
        while not self._stopped.wait(0.2):
            parents: dict[int, int] = {}
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        stat = Path(f"/proc/{entry}/stat").read_text()
                        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
                    except (OSError, ValueError, IndexError):
                        continue
            family, frontier = {root}, [root]
            while frontier:
                parent = frontier.pop()
                children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in family]
                family.update(children)
                frontier.extend(children)
            for pid in family:
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            kb = int(line.split()[1])
                            self.peak_kb[pid] = max(kb, self.peak_kb.get(pid, 0))
                            self.window_kb[pid] = max(kb, self.window_kb.get(pid, 0))
                            break
                except (OSError, ValueError):
                    continue

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=5)

    def open_window(self) -> None:
        self.window_kb = {}

    def window_peak_mb(self) -> float:
        """The largest RSS of one process sampled since `open_window`."""
        return round(max(dict(self.window_kb).values(), default=0) / 1024)


class StepCosts:
    """CPU time of each step of an in-process run, with Dagster's own event work counted apart.

    Two things Dagster does inside a step are its own, not the step's: storing every event and log line in
    the run's event log (`DagsterInstance.handle_new_event`) and building the materialization events of an
    output (`execute_step._log_materialization_or_observation_events_for_asset`: one event per partition,
    with its metadata and data-version lookups). Both run on the thread that runs the steps; wrapping them
    measures that thread's CPU in them. A step's own cost is the process CPU (every thread: the steps' I/O
    pools too) between its start and success events, less those two. The wrappers only measure: they call
    the originals unchanged.
    """

    def __init__(self, sampler: RssSampler) -> None:
        self.sampler = sampler
        self.event_cpu_s = 0.0  # storing events
        self.building_cpu_s = 0.0  # building materialization events
        self.events = 0
        self._open: dict[str, tuple[float, float]] = {}
        self.steps: dict[str, dict[str, float]] = {}

    def dagster_cpu_s(self) -> float:
        return self.event_cpu_s + self.building_cpu_s

    def install(self) -> None:
        import dagster as dg
        from dagster._core.execution.plan import execute_step

        store = dg.DagsterInstance.handle_new_event
        build = execute_step._log_materialization_or_observation_events_for_asset
        costs = self

        def handle_new_event(instance: dg.DagsterInstance, event: dg.EventLogEntry, **kwargs: object) -> None:
            started = time.thread_time()
            try:
                store(instance, event, **kwargs)
            finally:
                costs.event_cpu_s += time.thread_time() - started
                costs.events += 1
                costs._observe(event)

        def build_events(*args: object, **kwargs: object) -> Iterator[object]:
            # A generator: only the time inside it is its own; what its consumer does with each event
            # (storing it) is counted by handle_new_event.
            events = iter(build(*args, **kwargs))
            while True:
                started = time.thread_time()
                try:
                    event = next(events)
                except StopIteration:
                    return
                finally:
                    costs.building_cpu_s += time.thread_time() - started
                yield event

        dg.DagsterInstance.handle_new_event = handle_new_event  # type: ignore[method-assign]
        execute_step._log_materialization_or_observation_events_for_asset = build_events  # type: ignore[assignment]

    def _observe(self, event: object) -> None:
        dagster_event = getattr(event, "dagster_event", None)
        step = getattr(event, "step_key", None)
        if dagster_event is None or step is None:
            return
        if dagster_event.is_step_start:
            self._open[step] = (time.process_time(), self.dagster_cpu_s())
            self.sampler.open_window()
        elif (dagster_event.is_step_success or dagster_event.is_step_failure) and step in self._open:
            cpu0, dagster0 = self._open.pop(step)
            dagster_cpu = self.dagster_cpu_s() - dagster0
            self.steps[step] = {
                "cpu_s": round(time.process_time() - cpu0 - dagster_cpu, 2),
                "dagster_cpu_s": round(dagster_cpu, 2),
                "peak_rss_mb": self.sampler.window_peak_mb(),
            }


class ThreadProfiles:
    """cProfile of this thread and of every thread started after it (the steps' I/O pools, the client's
    prefetch), merged into one file: a profile of the main thread alone misses the work done in pools.
    Each thread's profile counts that thread's CPU time, so time spent waiting (for a lock, a socket, the
    pool's other threads) is not counted as work."""

    def __init__(self) -> None:
        import cProfile

        self._new = functools.partial(cProfile.Profile, time.thread_time)
        self.profiles = [self._new()]
        threading.setprofile(self._start_in_thread)
        self.profiles[0].enable()

    def _start_in_thread(self, *_: object) -> None:
        sys.setprofile(None)
        profile = self._new()
        self.profiles.append(profile)
        profile.enable()

    def dump(self, path: str) -> None:
        import pstats

        threading.setprofile(None)
        self.profiles[0].disable()
        pstats.Stats(*self.profiles).dump_stats(path)


def worker(args: argparse.Namespace) -> int:
    """One Dagster run in this process, as a launched run executes it (the parent set the environment).

    `dg.execute_job` on a reconstructable job is what `dagster asset materialize` and the run worker of a
    launched run call. (`execute_in_process` is not used: it keeps every step's output in memory for its
    result object, which for a year of 200 queues is many gigabytes.)
    """
    started = time.perf_counter()
    import warnings

    warnings.filterwarnings("ignore")
    import dagster as dg

    from genesys_assets.definitions import defs
    from genesys_assets.defs.automation import range_tags

    defs.get_repository_def()  # load the code location, as a run worker does before executing
    loaded = time.perf_counter()
    instance = dg.DagsterInstance.get()
    if args.directory:
        job, tags = dg.reconstructable(directory_job), {}
    elif args.first == args.last:
        job, tags = dg.reconstructable(daily_job), {"dagster/partition": args.first}
    else:
        job, tags = dg.reconstructable(daily_job), range_tags(args.first, args.last)
    run_config = {"execution": {"config": {args.executor: {}}}} if args.executor != "default" else {}
    profiler = ThreadProfiles() if args.profile else None
    sampler = RssSampler()
    sampler.start()
    costs = StepCosts(sampler)
    costs.install()
    run_started = time.perf_counter()
    run_cpu_started = time.process_time()
    with dg.execute_job(job, instance=instance, tags=tags, run_config=run_config) as result:
        run_s = time.perf_counter() - run_started
        run_cpu_s = time.process_time() - run_cpu_started
        sampler.stop()
        if profiler is not None:
            profiler.dump(args.profile)
        steps: dict[str, float] = {}
        step_rss: dict[str, float] = {}
        for event in result.all_events:
            if event.is_step_success and event.step_key is not None:
                steps[event.step_key] = round(event.event_specific_data.duration_ms / 1000, 2)
            if event.is_step_start and event.step_key is not None and event.pid in sampler.peak_kb:
                step_rss[event.step_key] = round(sampler.peak_kb[event.pid] / 1024)
        success = result.success
    import resource

    print(
        json.dumps(
            {
                "success": success,
                "import_and_load_s": round(loaded - started, 3),
                "run_s": round(run_s, 3),
                "steps_s": steps,
                "steps_peak_rss_mb": step_rss,
                "run_cpu_s": round(run_cpu_s, 2),
                "event_write_cpu_s": round(costs.event_cpu_s, 2),
                "event_build_cpu_s": round(costs.building_cpu_s, 2),
                "events": costs.events,
                "step_costs": costs.steps,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        ),
        flush=True,
    )
    return 0 if success else 1


def _worker_command(
    first: str, last: str, executor: str, *, directory: bool = False, profile: str | None = None
) -> list[str]:
    command = [PYTHON, SCRIPT, "worker", "--first", first, "--last", last, "--executor", executor]
    if directory:
        command.append("--directory")
    if profile:
        command += ["--profile", profile]
    return command


# --------------------------------------------------------------------------------------------- parent


def _environment(
    root: Path, name: str, sandbox_url: str, s3_url: str, tz: str, first: date
) -> dict[str, str]:
    home = root / name / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    return {
        "DAGSTER_HOME": str(home),
        "GENESYS_TIMEZONE": tz,
        "GENESYS_START_DATE": first.isoformat(),
        "GENESYS_GRANULARITY": "PT30M",
        "GENESYS_CLIENT_ID": "bench-client",
        "GENESYS_CLIENT_SECRET": "bench-secret-not-real",
        "GENESYS_API_URL": sandbox_url,
        "GENESYS_LOGIN_URL": sandbox_url,
        "GENESYS_REQUESTS_PER_SECOND": "100",
        "GENESYS_BURST": "50",
        "GENESYS_RATE_LIMIT_DIR": str(root / name / "ratelimit"),
        "GENESYS_LAKE_DIR": str(root / name / "lake"),
        "EXPORT_S3_BUCKET": BUCKET,
        "EXPORT_S3_PREFIX": name,
        "AWS_ENDPOINT_URL": s3_url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",  # moto accepts any key
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _sample(days: list[date], count: int) -> list[date]:
    """`count` days spread evenly over the range (weekdays, weekends and DST days all get their share)."""
    if count >= len(days):
        return list(days)
    step = len(days) / count
    return [days[int(i * step + step / 2)] for i in range(count)]


def _route_counts(before: dict, after: dict) -> dict[str, int]:
    routes = set(before["requests"]) | set(after["requests"])
    return {r: after["requests"].get(r, 0) - before["requests"].get(r, 0) for r in sorted(routes)}


def _copy_channel_history(lake_a: Path, lake_b: Path, day: date, window_days: int) -> None:
    """Give (b)'s lake the raw days of `day`'s channel window that (a) stored, as a nightly run would find
    them: which channels are on a day's grid depends on the traffic of the days before it."""
    source, target = lake_a / "raw_queue_aggregates", lake_b / "raw_queue_aggregates"
    target.mkdir(parents=True, exist_ok=True)
    for back in range(1, window_days):
        name = f"{(day - timedelta(days=back)).isoformat()}.parquet"
        if (source / name).exists() and not (target / name).exists():
            shutil.copy(source / name, target / name)


def _export_digests(s3_url: str, prefix: str, days: list[date]) -> dict[str, str]:
    client = s3_client(s3_url)
    digests = {}
    for day in days:
        key = export_key(prefix, "daily", day.isoformat())
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        digests[day.isoformat()] = hashlib.sha256(body).hexdigest()
    return digests


def _data_calls(routes: dict[str, int]) -> int:
    return sum(routes.get(r, 0) for r in DATA_ROUTES)


def _describe_calls(routes: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in routes.items() if count and name != "admin")


def parent(args: argparse.Namespace) -> int:
    tz = args.timezone
    today = datetime.now(UTC).astimezone(ZoneInfo(tz)).date()
    last = date.fromisoformat(args.last) if args.last else today - timedelta(days=2)
    first = last - timedelta(days=args.days - 1)
    days = [first + timedelta(days=i) for i in range(args.days)]
    sample = _sample(days, args.sample)
    print(
        f"backfill bench: {args.queues} queues, {args.days} local days {first}..{last} ({tz}, PT30M); "
        f"(b) samples {len(sample)} days",
        flush=True,
    )
    print(
        "setup: sandbox Genesys org and moto S3 in their own processes on 127.0.0.1 (their CPU is not counted "
        "as ours); sandbox rate limit off, client bucket 100 req/s burst 50; every Dagster run is its own "
        f"process (as the default run launcher starts it), executor: {args.executor}",
        flush=True,
    )
    with _org(args, args.queues, first, last) as (root, sandbox, s3_url):
        env_a = _environment(root, "single", sandbox.url, s3_url, tz, first)
        env_b = _environment(root, "per_partition", sandbox.url, s3_url, tz, first)
        env_c = _environment(root, "month", sandbox.url, s3_url, tz, first)
        before = sandbox.stats()
        require_ok(
            run_child(
                _worker_command(first.isoformat(), first.isoformat(), args.executor, directory=True),
                env=env_a,
            ),
            "the queue directory run",
        )
        directory_routes = _route_counts(before, sandbox.stats())
        # (b) and (c) read the same directory file (a run loads an unselected upstream through the I/O manager).
        for env in (env_b, env_c):
            Path(env["GENESYS_LAKE_DIR"]).mkdir(parents=True)
            shutil.copy(
                Path(env_a["GENESYS_LAKE_DIR"]) / "genesys_queues.parquet",
                Path(env["GENESYS_LAKE_DIR"]) / "genesys_queues.parquet",
            )

        # (a) one run for the whole range
        before = sandbox.stats()
        cpu_before = sandbox.cpu_s()
        single: ChildResult = require_ok(
            run_child(
                _worker_command(first.isoformat(), last.isoformat(), args.executor, profile=args.profile),
                env=env_a,
            ),
            "the single-run backfill",
        )
        single_routes = _route_counts(before, sandbox.stats())
        single_sandbox_cpu = sandbox.cpu_s() - cpu_before
        single_report = single.last_json()

        # (a0) the same run with the code before a change (--baseline), on the same org, side by side
        baseline: ChildResult | None = None
        extra_before: list[dict] = []
        extra_after: list[dict] = []
        if args.baseline:
            before_code = Path(args.baseline).resolve()

            def single_run(name: str, code: Path) -> ChildResult:
                """The range as one run with the code in `code`, on a fresh lake given (a)'s directory."""
                env = _environment(root, name, sandbox.url, s3_url, tz, first)
                Path(env["GENESYS_LAKE_DIR"]).mkdir(parents=True)
                shutil.copy(
                    Path(env_a["GENESYS_LAKE_DIR"]) / "genesys_queues.parquet",
                    Path(env["GENESYS_LAKE_DIR"]) / "genesys_queues.parquet",
                )
                return require_ok(
                    run_child(
                        _worker_command(first.isoformat(), last.isoformat(), args.executor),
                        env=env,
                        code=code,
                    ),
                    f"the single-run backfill ({name}) with the code in {code}",
                )

            baseline = single_run("baseline", before_code)
            same = _export_digests(s3_url, "single", days) == _export_digests(s3_url, "baseline", days)
            assert same, f"the export objects of the code in {args.baseline} and of this code differ"
            # More pairs, each side on a fresh lake, alternating which goes first: on a shared machine the
            # least CPU each side needed is the fairer figure.
            # The first pair ran this code first, so odd pairs start with the code in DIR.
            sides = [("baseline", before_code, extra_before), ("single", REPO, extra_after)]
            for pair in range(1, args.pairs):
                for name, code, figures in sides if pair % 2 else sides[::-1]:
                    figures.append(single_run(f"{name}-{pair}", code).last_json())

        # (c) the last 31 days as one run, for its peak memory
        month_first = max(first, last - timedelta(days=30))
        month: ChildResult | None = None
        if not args.no_month:
            month = require_ok(
                run_child(
                    _worker_command(month_first.isoformat(), last.isoformat(), args.executor), env=env_c
                ),
                "the 31-day run",
            )
        month_days = (last - month_first).days + 1

        # (b) one run per sampled partition
        channel_window = config.read(env_b).pipeline.channel_window_days
        before = sandbox.stats()
        cpu_before = sandbox.cpu_s()
        runs: list[ChildResult] = []
        for day in sample:
            key = day.isoformat()
            _copy_channel_history(
                Path(env_a["GENESYS_LAKE_DIR"]), Path(env_b["GENESYS_LAKE_DIR"]), day, channel_window
            )
            runs.append(
                require_ok(
                    run_child(_worker_command(key, key, args.executor), env=env_b), f"the run of {key}"
                )
            )
        per_routes = _route_counts(before, sandbox.stats())
        per_sandbox_cpu = sandbox.cpu_s() - cpu_before
        reports = [r.last_json() for r in runs]

        groups = _queue_groups(sandbox, last, tz)
        digests_a = _export_digests(s3_url, "single", sample)
        digests_b = _export_digests(s3_url, "per_partition", sample)
        assert digests_a == digests_b, "the export objects of (a) and (b) differ for the sampled days"

    smaller: tuple[ChildResult, int] | None = None
    if args.compare_queues:
        smaller = (_smaller_org_run(args, first, last), args.compare_queues)

    n = len(sample)
    per_wall = sum(r.wall_s for r in runs) / n
    per_run_only = sum(r["run_s"] for r in reports) / n
    extrapolated = per_wall * args.days
    extrapolated_run_only = per_run_only * args.days
    a_data = _data_calls(single_routes)
    b_data_per = _data_calls(per_routes) / n

    print()
    print(
        f"(a) single run, {args.days} partitions: wall {single.wall_s:.1f} s "
        f"(process start + imports + definitions {single_report['import_and_load_s']:.1f} s, run {single_report['run_s']:.1f} s)"
    )
    print(f"    steps: {', '.join(f'{k} {v:.1f} s' for k, v in single_report['steps_s'].items())}")
    if single_report.get("steps_peak_rss_mb"):
        peaks = single_report["steps_peak_rss_mb"]
        print(f"    peak RSS per step process: {', '.join(f'{k} {v} MB' for k, v in peaks.items())}")
    print(
        f"    peak RSS {single.peak_rss_mb:.0f} MB, CPU {single.cpu_s:.1f} s; sandbox CPU {single_sandbox_cpu:.1f} s"
    )
    queue_days = args.queues * args.days
    print(f"    {_cost_line(single_report, queue_days)}")
    if args.profile:
        print(_profile_summary(args.profile))
    print(f"    API calls: {_describe_calls(single_routes)}; data calls {a_data}")
    fewest = _fewest_data_calls(args.days, groups, args.sandbox_max_query_days)
    print(
        f"    fewest data calls the sandbox's limits allow ({args.sandbox_max_query_days}-day queries, or "
        f"{SANDBOX_MAX_JOB_DAYS}-day jobs of {groups} groups at {SANDBOX_JOB_PAGE_SIZE} per page, and a query "
        f"counting the groups where jobs could win): {fewest}; "
        f"(a) made {a_data}: {'at the minimum' if a_data <= fewest else 'ABOVE the minimum'}"
    )
    print(f"    queue directory (one run before both, not timed): {_describe_calls(directory_routes)}")
    if month is not None:
        print(
            f"(c) single run of the last {month_days} days: wall {month.wall_s:.1f} s, "
            f"peak RSS {month.peak_rss_mb:.0f} MB"
        )
    print(
        f"(b) one run per partition, {n} sampled: wall {per_wall:.2f} s per partition "
        f"(process start + imports + definitions {sum(r['import_and_load_s'] for r in reports) / n:.2f} s, "
        f"run {per_run_only:.2f} s); extrapolated to {args.days}: {extrapolated:.0f} s"
    )
    print(
        f"    peak RSS {max(r.peak_rss_mb for r in runs):.0f} MB per run; sandbox CPU {per_sandbox_cpu / n:.2f} s per run"
    )
    print(
        f"    API calls for {n} runs: {_describe_calls(per_routes)}; data calls {b_data_per:.1f} per partition, "
        f"{b_data_per * args.days:.0f} extrapolated, plus {per_routes.get('token', 0) / n:.0f} token call(s) per run"
    )
    print(f"    export objects of the {n} sampled days byte-identical to (a): yes")
    print()
    if baseline is not None:
        base_report = baseline.last_json()
        print(
            f"(a0) the same single run with the code in {args.baseline}: wall {baseline.wall_s:.1f} s, "
            f"peak RSS {baseline.peak_rss_mb:.0f} MB, CPU {baseline.cpu_s:.1f} s"
        )
        print(f"    {_cost_line(base_report, queue_days)}")
        print(f"    export objects of all {args.days} days byte-identical to (a): yes")
    if smaller is not None:
        small, small_queues = smaller
        print(
            f"(d) the same range for an org of {small_queues} queues (its own sandbox): wall {small.wall_s:.1f} s, "
            f"peak RSS {small.peak_rss_mb:.0f} MB, CPU {small.cpu_s:.1f} s"
        )
        print(f"    {_cost_line(small.last_json(), small_queues * args.days)}")
    print()
    if baseline is not None:
        after = min(_our_cpu(report) for report in [single_report, *extra_after])
        before_cpu = min(_our_cpu(report) for report in [base_report, *extra_before])
        if extra_after:
            shown = ", ".join(f"{_our_cpu(r):.1f}" for r in [single_report, *extra_after])
            shown_before = ", ".join(f"{_our_cpu(r):.1f}" for r in [base_report, *extra_before])
            print(
                f"our steps' CPU in {args.pairs} pairs: this code {shown} s; the code before {shown_before} s"
            )
        print(
            ratio_line(
                "our steps' CPU per queue-day, this code vs the code before (least of each side)",
                after / before_cpu,
                at_most=0.5,
                detail=f"[{after / queue_days * 1000:.2f} ms vs {before_cpu / queue_days * 1000:.2f} ms]",
            )
        )
        print(
            ratio_line(
                "single-run wall time, this code vs the code before",
                single.wall_s / baseline.wall_s,
                at_most=1.0,
                detail=f"[{single.wall_s:.1f} s vs {baseline.wall_s:.1f} s]",
            )
        )
        print(
            ratio_line(
                "single-run peak RSS, this code vs the code before",
                single.peak_rss_mb / baseline.peak_rss_mb,
                detail=f"[{single.peak_rss_mb:.0f} MB vs {baseline.peak_rss_mb:.0f} MB]",
            )
        )
    if smaller is not None:
        small, small_queues = smaller
        print(
            ratio_line(
                f"peak RSS, {args.queues} queues vs {small_queues} queues ({args.days} days each)",
                single.peak_rss_mb / small.peak_rss_mb,
                at_most=1.5,
                detail=f"[{single.peak_rss_mb:.0f} MB vs {small.peak_rss_mb:.0f} MB]",
            )
        )
    print(
        ratio_line(
            "single-run backfill vs one run per partition (wall time, extrapolated)",
            extrapolated / single.wall_s,
            30.0,
            detail=f"[{extrapolated:.0f} s vs {single.wall_s:.1f} s]",
        )
    )
    print(
        ratio_line(
            "same, run time only (process start and imports excluded on both sides)",
            extrapolated_run_only / single_report["run_s"],
            detail=f"[{extrapolated_run_only:.0f} s vs {single_report['run_s']:.1f} s]",
        )
    )
    if month is not None:
        print(
            ratio_line(
                f"peak RSS, {args.days}-day run vs {month_days}-day run",
                single.peak_rss_mb / month.peak_rss_mb,
                at_most=None if args.quick else 1.3,
                detail=f"[{single.peak_rss_mb:.0f} MB vs {month.peak_rss_mb:.0f} MB]",
            )
        )
    print(
        ratio_line(
            "API data calls, one run per partition vs single run",
            b_data_per * args.days / max(1, a_data),
            detail=f"[{b_data_per * args.days:.0f} vs {a_data}]",
        )
    )
    return 0


def _our_cpu(report: dict) -> float:
    """CPU of the run's steps, Dagster's event writes left out."""
    return sum(step["cpu_s"] for step in report["step_costs"].values())


def _cost_line(report: dict, queue_days: int) -> str:
    """Where a run's CPU went: our steps (per queue-day, and per step) and Dagster's event writes."""
    steps = ", ".join(f"{name} {step['cpu_s']:.1f} s" for name, step in report["step_costs"].items())
    peaks = ", ".join(f"{name} {step['peak_rss_mb']} MB" for name, step in report["step_costs"].items())
    return (
        f"CPU of our steps {_our_cpu(report):.1f} s = {_our_cpu(report) / queue_days * 1000:.2f} ms per queue-day "
        f"({steps}); Dagster's events: {report['events']} written in {report['event_write_cpu_s']:.1f} s, "
        f"materializations built in {report.get('event_build_cpu_s', 0.0):.1f} s; "
        f"the whole run {report['run_cpu_s']:.1f} s\n    peak RSS while each step ran: {peaks}"
    )


def _profile_summary(path: str, top: int = 12) -> str:
    """The profile of the single run, cut down to where our steps spend their time: our functions by
    cumulative time, and the calls (ours or a library's) with the most time of their own."""
    import pstats

    stats = pstats.Stats(path)
    entries = stats.stats  # type: ignore[attr-defined]
    ours = sorted(
        (
            (cumulative, f"{Path(file).stem}.{name}")
            for (file, _line, name), (_calls, _prim, _own, cumulative, _callers) in entries.items()
            if "/genesys_assets/" in file and "/sandbox/" not in file
        ),
        reverse=True,
    )[:top]
    own = sorted(
        (
            (own_time, f"{Path(file).stem}.{name}" if file != "~" else name)
            for (file, _line, name), (_calls, _prim, own_time, _cumulative, _callers) in entries.items()
        ),
        reverse=True,
    )[:top]
    lines = [
        "    profile (cProfile of every thread's CPU time, its overhead included): our functions by cumulative time"
    ]
    lines += [f"      {seconds:7.1f} s  {name}" for seconds, name in ours]
    lines.append("    calls with the most time of their own")
    lines += [f"      {seconds:7.1f} s  {name}" for seconds, name in own]
    return "\n".join(lines)


@contextlib.contextmanager
def _org(
    args: argparse.Namespace, queues: int, first: date, last: date
) -> Iterator[tuple[Path, SandboxProcess, str]]:
    """A temporary folder, a sandbox org of `queues` queues covering the range and the 10 days before it, and
    a moto S3 with the bench's bucket; all removed or stopped at the end."""
    with (
        tempfile.TemporaryDirectory(prefix="genesys-bench-") as tmp,
        sandbox_process(
            queues=queues,
            timezone=args.timezone,
            start=first - timedelta(days=10),
            end=last + timedelta(days=1),
            options=["--max-query-days", str(args.sandbox_max_query_days)],
        ) as sandbox,
        moto_s3_process() as s3_url,
    ):
        s3_client(s3_url).create_bucket(Bucket=BUCKET)
        yield Path(tmp), sandbox, s3_url


def _smaller_org_run(args: argparse.Namespace, first: date, last: date) -> ChildResult:
    """The same range as (a) as one run for an org of `--compare-queues` queues, on its own sandbox."""
    with _org(args, args.compare_queues, first, last) as (root, sandbox, s3_url):
        env = _environment(root, "smaller", sandbox.url, s3_url, args.timezone, first)
        require_ok(
            run_child(
                _worker_command(first.isoformat(), first.isoformat(), args.executor, directory=True), env=env
            ),
            "the smaller org's queue directory run",
        )
        return require_ok(
            run_child(_worker_command(first.isoformat(), last.isoformat(), args.executor), env=env),
            f"the single-run backfill of {args.compare_queues} queues",
        )


def _queue_groups(sandbox: SandboxProcess, last: date, timezone: str) -> int:
    """Queue x media type x direction groups with traffic in the range's last 7 days, counted as the
    planner counts them (not timed)."""
    from genesys_assets.genesys import GenesysClient, GenesysSettings

    settings = GenesysSettings(
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        api_url=sandbox.url,
        requests_per_second=100.0,
        rate_limit_dir=tempfile.mkdtemp(prefix="genesys-bench-groups-"),
    )
    try:
        with GenesysClient(settings) as client:
            return client.count_groups(last - timedelta(days=6), last, timezone=timezone)
    finally:
        shutil.rmtree(settings.rate_limit_dir or "", ignore_errors=True)


def _fewest_data_calls(days: int, groups: int, max_query_days: int) -> int:
    """The fewest aggregates calls for ``days``: synchronous queries of ``max_query_days``, or jobs that each
    cost a submit, at least one status poll and one call per result page; plus the one query that counts the
    groups when jobs of a single result page would beat the synchronous queries."""
    queries = math.ceil(days / max_query_days)
    job_count = math.ceil(days / SANDBOX_MAX_JOB_DAYS)
    jobs = job_count * (2 + math.ceil(groups / SANDBOX_JOB_PAGE_SIZE))
    probe = 1 if job_count * 3 < queries else 0
    return min(queries, jobs) + probe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode")
    w = sub.add_parser("worker", help="internal: one Dagster run in this process")
    w.add_argument("--first", required=True)
    w.add_argument("--last", required=True)
    w.add_argument("--directory", action="store_true")
    w.add_argument("--profile", default=None)
    w.add_argument("--executor", default="default")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small smoke run: 6 queues, 5 days, 1 sampled run",
    )
    parser.add_argument("--queues", type=int, default=None)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--sample", type=int, default=None, help="one-partition runs for (b)")
    parser.add_argument("--last", default=None, help="last local day (default: the day before yesterday)")
    parser.add_argument("--timezone", default="America/New_York")
    parser.add_argument(
        "--sandbox-max-query-days",
        type=int,
        default=SANDBOX_MAX_QUERY_DAYS,
        help="the sandbox org's longest synchronous query (the client starts with 7-day queries)",
    )
    parser.add_argument("--profile", default=None, help="write a cProfile of the single run to this file")
    parser.add_argument(
        "--baseline",
        default=None,
        help="a checkout of the code before a change (e.g. a git worktree): its single run goes side by side",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=1,
        help="with --baseline: run the two single runs this many times each (alternating), keep the least CPU",
    )
    parser.add_argument(
        "--no-month", action="store_true", help="skip (c), the run of the last 31 days (for large orgs)"
    )
    parser.add_argument(
        "--compare-queues",
        type=int,
        default=None,
        help="also run the range for an org of this many queues (own sandbox), to compare peak memory",
    )
    parser.add_argument(
        "--executor",
        choices=("default", "multiprocess", "in_process"),
        default="default",
        help="the runs' executor: the code location's default (in process), or one chosen by run config",
    )
    args = parser.parse_args(argv)
    if args.mode == "worker":
        return worker(args)
    defaults = (6, 5, 1) if args.quick else (200, 365, 14)
    args.queues = args.queues or defaults[0]
    args.days = args.days or defaults[1]
    args.sample = args.sample or defaults[2]
    stop_on_sigterm()
    return parent(args)


if __name__ == "__main__":
    raise SystemExit(main())
