"""A backfill split by `GENESYS_MAX_PARTITIONS_PER_RUN` gives the exports of one run, within the rate budget.

Two deployments of the same sandbox org (same seed, so the same conversations) export to two buckets of one
moto S3 server on 127.0.0.1:

* **one run**: this process materializes the daily chain over the whole range as one range run
  (`dagster.materialize` with range tags, as the default single-run policy does);
* **capped**: a real `dagster-daemon` on its own instance (deploy/dagster.yaml on SQLite, up to 3 runs at
  once) carries out an asset backfill of the same days of the same assets. Its code location (a code server
  the daemon starts) loads with `GENESYS_MAX_PARTITIONS_PER_RUN=10`, so no run covers more than 10 of the 20
  days, and the daemon orders the runs by the partition mappings: `queue_interval_kpis` reads the trailing
  28-day channel window of `raw_queue_aggregates` and `queue_kpis_daily` the +-7-day gap window of
  `queue_interval_kpis`, windows the runs' boundaries cut. It fetches in 2-day queries (one run: 7-day
  queries), so its raw steps send enough requests to press on the budget together.

Asserted: every export object is byte-identical between the two (sha256 of each body); no run covers more
than the cap; every run started only after the upstream partitions its windows read (those in the backfill)
were materialized; runs and their raw API steps overlapped; and the org, which enforces the budget itself
(429 beyond it), saw no 429 and no more requests than the one budget allows, which the runs share through
the file bucket of `GENESYS_RATE_LIMIT_DIR`.

The backfill daemon evaluates a backfill every 30 s (`DEFAULT_DAEMON_INTERVAL_SECONDS`, a constant with no
setting); the backfill needs one evaluation per step of the chain, so the daemon here runs with that
constant at 3 s, which changes when it looks, not what it decides.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.storage.dagster_run import RunRecord, RunsFilter

from genesys_assets import config, localtime
from genesys_assets.definitions import defs
from genesys_assets.defs.automation import DAILY_ASSETS
from genesys_assets.defs.partitions import daily_partitions
from genesys_assets.defs.resources import build_resources
from genesys_assets.sandbox import SandboxServer
from genesys_assets_tests.pipeline_fixtures import Pipeline, pipeline_env
from genesys_assets_tests.reliability_helpers import bucket_objects
from genesys_assets_tests.s3_fixtures import s3_client_for
from genesys_assets_tests.sandbox_fixtures import org_burst
from genesys_assets_tests.ui_helpers import ServiceProcess, max_overlap, wait_until

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
DEPLOY_YAML = REPO / "deploy" / "dagster.yaml"
LOCATION = "genesys_assets"
CAP = 10  # days per run
FIRST, LAST = date(2026, 1, 5), date(2026, 1, 24)  # 20 days: 2 runs of raw data, windows of 28 and 15 days
DAYS = [day.isoformat() for day in localtime.iter_days(FIRST, LAST)]
CONCURRENT_RUNS = 3
# The OAuth client's budget (requests/s, bucket size), low enough that the raw steps of several runs wait on
# it. The org refuses beyond the rate with `org_burst` (the client's burst plus 2 s at the rate), so delays on
# the way are not refused (as test_multihost.py).
RATE, BURST = 3.0, 2
# The capped deployment fetches in 2-day queries (one run: 7-day queries), so its runs send enough requests
# to meet the budget together, and the exports must not depend on how the days were fetched either.
CAPPED_QUERY_DAYS = 2
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
# Each asset's upstream asset in the chain and the window of upstream days one day reads (offsets in days).
WINDOWS: dict[str, tuple[str, int, int]] = {
    "queue_interval_kpis": ("raw_queue_aggregates", -(config.PipelineSettings.channel_window_days - 1), 0),
    "queue_kpis_daily": (
        "queue_interval_kpis",
        -config.PipelineSettings.gap_window_days,
        config.PipelineSettings.gap_window_days,
    ),
    "queue_export_daily": ("queue_kpis_daily", 0, 0),
}
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
DAEMON = (
    "import sys\n"
    "import dagster._daemon.controller as controller\n"
    "controller.DEFAULT_DAEMON_INTERVAL_SECONDS = 3\n"
    "from dagster._daemon.cli import main\n"
    "sys.argv = ['dagster-daemon', *sys.argv[1:]]\n"
    "main()\n"
)


@dataclass
class Capped:
    """The capped deployment: its instance, org, bucket, daemon and the environment its processes share."""

    instance: dg.DagsterInstance
    sandbox: SandboxServer
    bucket: str
    env: dict[str, str]
    daemon: ServiceProcess


def _instance_yaml() -> dict[str, Any]:
    """deploy/dagster.yaml on the default SQLite storage, with room for several runs and API steps at once
    (the pool at the run limit: only the shared bucket keeps their requests within the budget)."""
    instance = yaml.safe_load(DEPLOY_YAML.read_text())
    del instance["storage"]
    # Runs launched side by side: the default launcher's launch waits until the run's process has loaded the
    # code location (seconds here), so one launching thread would start them one after another.
    instance["run_coordinator"]["config"].update(
        dequeue_interval_seconds=1, dequeue_use_threads=True, dequeue_num_workers=CONCURRENT_RUNS
    )
    instance["concurrency"]["runs"] = {"max_concurrent_runs": CONCURRENT_RUNS}
    instance["concurrency"]["pools"]["default_limit"] = CONCURRENT_RUNS
    instance["run_retries"]["enabled"] = False  # a failed run fails the test
    return instance


@pytest.fixture
def capped(make_sandbox: Callable[..., SandboxServer], moto_s3: str, tmp_path: Path) -> Iterator[Capped]:
    sandbox = make_sandbox(requests_per_second=RATE, burst=org_burst(RATE, BURST))
    root = tmp_path / "capped"
    home = root / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(_instance_yaml()))
    workspace = root / "workspace.yaml"
    module = {"module_name": "genesys_assets.definitions", "location_name": LOCATION}
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_module": module}]}))
    bucket = f"capped-{uuid.uuid4().hex[:10]}"
    s3_client_for(moto_s3).create_bucket(Bucket=bucket)
    env = {
        **os.environ,  # the AWS_* variables of moto_s3, the suite's GENESYS_TIMEZONE and GENESYS_START_DATE
        **pipeline_env(
            sandbox,
            root,
            bucket,
            GENESYS_REQUESTS_PER_SECOND=str(RATE),
            GENESYS_BURST=str(BURST),
            GENESYS_MAX_QUERY_DAYS=str(CAPPED_QUERY_DAYS),
        ),
        "GENESYS_MAX_PARTITIONS_PER_RUN": str(CAP),
        "DAGSTER_HOME": str(home),
        "PYTHONUNBUFFERED": "1",
        "PYTHONWARNINGS": "ignore",
    }
    daemon = ServiceProcess(
        "daemon",
        [sys.executable, "-c", DAEMON, "run", "-w", str(workspace)],
        log_dir=root / "logs",
        env=env,
        cwd=REPO,
    )
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield Capped(instance, sandbox, bucket, env, daemon)
    finally:
        daemon.stop()


def _object_digests(endpoint: str, bucket: str) -> dict[str, str]:
    """Every object of the bucket: key -> sha256 of its body."""
    return {key: hashlib.sha256(body).hexdigest() for key, body in bucket_objects(endpoint, bucket).items()}


class RequestSampler:
    """The org's request and 429 counters, sampled every 0.1 s on a thread while the backfill runs."""

    def __init__(self, sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            stats = self.sandbox.stats()
            self.samples.append((time.monotonic(), stats["requests_total"], stats["http_429"]))
            self._stop.wait(0.1)

    def __enter__(self) -> RequestSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def worst_excess(self) -> float:
        """The most requests any stretch between two samples held beyond RATE x its length (the client's
        bucket allows BURST beyond it, the org `org_burst`)."""
        excess = 0.0
        for i, (start, first, _) in enumerate(self.samples):
            for end, last, _ in self.samples[i + 1 :]:
                excess = max(excess, last - first - RATE * (end - start))
        return excess

    def busy_window(self) -> tuple[float, int]:
        """Seconds from the first sample that saw a request to the last that saw a new one, and the count."""
        counts = [(at, count) for at, count, _ in self.samples]
        start = next(at for at, count in counts if count > counts[0][1])
        end = next(at for at, count in reversed(counts) if count < counts[-1][1]) + 0.1
        return end - start, counts[-1][1] - counts[0][1]


def _run_partitions(record: RunRecord) -> list[str]:
    tags = record.dagster_run.tags
    if RANGE_START in tags:
        first, last = date.fromisoformat(tags[RANGE_START]), date.fromisoformat(tags[RANGE_END])
        return [day.isoformat() for day in localtime.iter_days(first, last)]
    return [tags["dagster/partition"]]


def _materialized_at(instance: dg.DagsterInstance, asset: str) -> dict[str, float]:
    """Each partition of `asset` -> when it was materialized (once each in this test's instance)."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
    return {record.partition_key: record.timestamp for record in records if record.partition_key}


def _waits_for_windows(instance: dg.DagsterInstance, records: list[RunRecord]) -> int:
    """Assert each run started after every upstream partition its days read (those in the backfill) was
    materialized, unless its own run wrote it; returns how many runs read a window that a run boundary cut
    (part of it written by another run)."""
    written = {name: _materialized_at(instance, name) for name in DAILY_ASSETS}
    cut = 0
    for record in records:
        selected = {key.to_user_string() for key in record.dagster_run.asset_selection or ()}
        days = _run_partitions(record)
        for asset in sorted(selected & set(WINDOWS)):
            upstream, before, after = WINDOWS[asset]
            needed = {
                (date.fromisoformat(day) + timedelta(days=offset)).isoformat()
                for day in days
                for offset in range(before, after + 1)
            } & set(DAYS)
            if upstream in selected:  # identity mapping (the export): the same days in the same run
                assert needed <= set(days), (asset, days)
                continue
            assert record.start_time is not None
            late = sorted(key for key in needed if written[upstream][key] >= record.start_time)
            assert not late, f"{asset} {days[0]}..{days[-1]} started before {upstream} {late} existed"
            cut += not needed <= set(days)
    return cut


def _raw_step_windows(instance: dg.DagsterInstance, run_ids: list[str]) -> list[tuple[float, float]]:
    """When each run's raw_queue_aggregates step (the one that calls the API) ran."""
    windows = []
    for run_id in run_ids:
        events = instance.all_logs(
            run_id, of_type={dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS}
        )
        times = {
            e.dagster_event.event_type: e.timestamp for e in events if e.step_key == "raw_queue_aggregates"
        }
        if times:
            windows.append((times[dg.DagsterEventType.STEP_START], times[dg.DagsterEventType.STEP_SUCCESS]))
    return windows


def test_capped_backfill_exports_the_single_run_bytes_within_the_rate_budget(
    make_pipeline: Callable[..., Pipeline], capped: Capped, moto_s3: str
) -> None:
    started = time.monotonic()
    instance = capped.instance
    # The one-run deployment, while the daemon and its code server start.
    single = make_pipeline()
    single.directory()
    single.daily((DAYS[0], DAYS[-1]))
    one_run_s = time.monotonic() - started

    # The capped deployment: its queue directory first (an unpartitioned asset, one run), then the backfill
    # of the same days of every asset of the daily chain, as the UI's per-asset partition selection launches
    # it (a launch by a day range alone would also target the days after it that read its days).
    dg.materialize(
        [defs.get_assets_def("genesys_queues")],
        instance=instance,
        resources=build_resources(config.read(capped.env)),
    )
    capped.sandbox.update(reset_stats=True)
    days = daily_partitions.subset_with_partition_keys(DAYS)
    backfill = PartitionBackfill.from_asset_graph_subset(
        backfill_id=f"fanout{uuid.uuid4().hex[:8]}",
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=instance,
        asset_graph_subset=AssetGraphSubset(
            partitions_subsets_by_asset_key={dg.AssetKey(name): days for name in DAILY_ASSETS}
        ),
        title="capped backfill",
        description=None,
        run_config=IN_PROCESS,
    )
    submitted = time.monotonic()
    with RequestSampler(capped.sandbox) as sampler:
        instance.add_backfill(backfill)

        def finished() -> BulkActionStatus | None:
            found = instance.get_backfill(backfill.backfill_id)
            return found.status if found is not None and found.status != BulkActionStatus.REQUESTED else None

        status = wait_until(
            finished, timeout=240, interval=0.5, what="the capped backfill", alive=[capped.daemon]
        )
    backfill_s = time.monotonic() - submitted
    records = list(instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill.backfill_id})))
    statuses = {record.dagster_run.run_id: record.dagster_run.status for record in records}
    assert status == BulkActionStatus.COMPLETED_SUCCESS, (status, statuses, capped.daemon.tail())
    assert set(statuses.values()) == {dg.DagsterRunStatus.SUCCESS}
    # Nothing but the directory and the backfill ran (the gap-refill sensor found nothing to refill).
    assert len(instance.get_run_records()) == len(records) + 1

    # The split: runs of at most CAP days, every day of every asset in exactly one run.
    covered: dict[str, list[str]] = {}
    lines = []
    origin = min(record.start_time or 0.0 for record in records)
    for record in sorted(records, key=lambda r: r.start_time or 0):
        days = _run_partitions(record)
        assets = sorted(key.to_user_string() for key in record.dagster_run.asset_selection or ())
        assert len(days) <= CAP, (assets, days)
        for asset in assets:
            covered.setdefault(asset, []).extend(days)
        assert record.start_time is not None and record.end_time is not None
        lines.append(
            f"  {record.start_time - origin:5.1f} .. {record.end_time - origin:5.1f} s  {len(days):2d} days "
            f"{days[0]}..{days[-1]}  {', '.join(assets)}"
        )
    assert {asset: sorted(days) for asset, days in covered.items()} == dict.fromkeys(DAILY_ASSETS, DAYS)
    cut = _waits_for_windows(instance, records)
    run_windows = [(r.start_time or 0.0, r.end_time or 0.0) for r in records]
    raw_windows = _raw_step_windows(instance, list(statuses))

    # Byte-identical exports: every daily object, by the sha256 of its body.
    one_run, fanned_out = _object_digests(moto_s3, single.bucket), _object_digests(moto_s3, capped.bucket)
    assert len(one_run) == len(DAYS)
    assert fanned_out == one_run

    # The rate budget, measured at the org over the whole backfill.
    window_s, requests = sampler.busy_window()
    stats = capped.sandbox.stats()
    excess = sampler.worst_excess()
    print(
        f"\nfan-out: {len(DAYS)} days, cap {CAP} days per run: {len(records)} runs in {backfill_s:.1f} s "
        f"(the same days as one run: {one_run_s:.1f} s incl. the directory); at most "
        f"{max_overlap(run_windows)} runs at once (limit {CONCURRENT_RUNS}), {max_overlap(raw_windows)} "
        f"raw API steps at once; {cut} runs read a window cut by a run boundary"
    )
    print("\n".join(lines))
    print(
        f"org: {requests} requests in {window_s:.1f} s = {requests / window_s:.2f}/s vs budget {RATE:g}/s "
        f"(burst {BURST}); most beyond the budget in any stretch {excess:.1f} requests; "
        f"429s {stats['http_429']}; {len(one_run)} export objects byte-identical"
    )
    assert len(records) >= 3 * (len(DAYS) // CAP) and cut >= 2
    assert max_overlap(run_windows) >= 2
    assert max_overlap(raw_windows) >= 2  # several runs fetched at once, through the one bucket
    assert stats["http_429"] == 0 and all(refused == 0 for _, _, refused in sampler.samples)
    assert requests <= RATE * window_s + BURST + 1  # +1: counters sampled every 0.1 s
    assert requests / window_s >= 0.5 * RATE  # the runs used the budget, so it was put to the test
    assert excess <= org_burst(RATE, BURST)  # no stretch beyond what the org's bucket holds
