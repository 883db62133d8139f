"""Kill and resume: `dagster asset materialize` of three days (in-process executor) killed with SIGKILL at
three points.

* during the raw fetch: the sandbox holds the aggregates query (a 30 s "slow" fault) and the run is killed
  once the query has reached it;
* during the intermediate writes: the run is killed the moment the first file (temporary or final) appears
  in the raw partitions' folder of the lake;
* during the S3 upload: a TCP relay in front of the S3 server stalls the first export PUT part-way through
  its body (the other days' PUTs go on); the run is killed once it is stalled.

After each kill no partial output may be visible: every lake file under its final name is a whole Parquet
file equal to an uninterrupted run's, S3 objects are absent or complete, and the run's own record is left
STARTED (what the UI shows until someone terminates it). The same command is then resumed (re-run) in
process and every lake file and S3 object must equal those of an uninterrupted run, with no temporary file
of the killed writer left behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest

from genesys_assets.lake import storage
from genesys_assets_tests.pipeline_fixtures import Pipeline
from genesys_assets_tests.reliability_helpers import (
    DAILY_SELECTION,
    TcpRelay,
    assert_complete_parquet,
    cli_environment,
    compare_lakes,
    kill_group,
    lake_files,
    start_materialize,
    temp_leftovers,
    wait_until,
)

FIRST, LAST = "2026-10-12", "2026-10-14"
KEYS = ["2026-10-12", "2026-10-13", "2026-10-14"]
STARTUP_TIMEOUT_S = 150  # the CLI imports Dagster and the code location before the first request


_REFERENCE: dict[str, tuple[dict[str, bytes], dict[str, bytes]]] = {}


def _reference(make_pipeline: Callable[..., Pipeline]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """S3 objects and lake files of an uninterrupted run of the same days on an identical org (the sandbox
    data is fixed by its seed, so one reference run serves every test of the module)."""
    if "run" not in _REFERENCE:
        reference = make_pipeline()
        reference.directory()
        assert reference.daily((FIRST, LAST)).success
        _REFERENCE["run"] = (reference.s3_objects(), lake_files(reference.lake_dir))
    return _REFERENCE["run"]


def _cli_run(home: Path) -> dg.DagsterRun:
    """The one run the killed CLI recorded in its own instance."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 1
        return runs[0]


def _assert_lake_consistent(victim: Pipeline, expected_lake: dict[str, bytes]) -> dict[str, bytes]:
    """Every file under a final name is a whole Parquet file equal to the uninterrupted run's."""
    files = lake_files(victim.lake_dir)
    for path, body in files.items():
        assert_complete_parquet(body, path)
    present = {path: expected_lake[path] for path in files}
    assert compare_lakes(files, present) == []
    return files


@pytest.mark.timeout(300)
@pytest.mark.parametrize("phase", ["raw_fetch", "intermediate_write", "s3_upload"])
def test_sigkill_leaves_no_partial_output_and_a_rerun_completes_it(
    phase: str, make_pipeline: Callable[..., Pipeline], tmp_path: Path
) -> None:
    expected_objects, expected_lake = _reference(make_pipeline)
    assert len(expected_objects) == len(KEYS)

    victim = make_pipeline(slow_seconds=30)
    victim.directory()
    lake = victim.lake_dir
    home = tmp_path / f"cli-home-{phase}"
    relay = None
    overrides: dict[str, str] = {}
    if phase == "raw_fetch":
        victim.sandbox.update(fault_script=("slow",))  # the first aggregates query is held for ~30 s
    if phase == "s3_upload":
        endpoint = urlsplit(victim.s3_url)
        relay = TcpRelay(
            (endpoint.hostname or "127.0.0.1", endpoint.port or 80),
            hold=rb"PUT /[^ ]*/queue_export/grain(=|%3D)daily/",
            hold_match=0,  # the first export PUT that goes out
            hold_bytes=1500,
        )
        overrides["AWS_ENDPOINT_URL"] = relay.url
    env = cli_environment(os.environ, home, **overrides)
    log_path = tmp_path / f"cli-{phase}.log"

    process = start_materialize(DAILY_SELECTION, FIRST, LAST, env, log_path)
    try:
        if phase == "raw_fetch":
            waited = wait_until(
                lambda: victim.sandbox.stats()["faults_injected"].get("slow", 0) == 1,
                timeout=STARTUP_TIMEOUT_S,
                process=process,
                what="the aggregates query to reach the sandbox",
            )
        elif phase == "intermediate_write":
            raw_folder = lake / "raw_queue_aggregates"

            def writing() -> bool:
                with contextlib.suppress(FileNotFoundError), os.scandir(raw_folder) as entries:
                    return any(True for _ in entries)
                return False

            waited = wait_until(
                writing,
                timeout=STARTUP_TIMEOUT_S,
                interval=0.0005,
                process=process,
                what="the first raw partition file (temporary or final)",
            )
        else:
            assert relay is not None
            waited = wait_until(
                relay.held.is_set, timeout=STARTUP_TIMEOUT_S, process=process, what="the stalled upload"
            )
        code = kill_group(process)
    finally:
        if process.poll() is None:
            kill_group(process)
        if relay is not None:
            relay.stop()
    assert code == -9, log_path.read_text()[-3000:]

    # What the kill left behind.
    files = _assert_lake_consistent(victim, expected_lake)
    leftovers = temp_leftovers(lake)
    objects = victim.s3_objects()
    print(
        f"\nkill during {phase} after {waited:.1f} s: lake files {sorted(files)}, "
        f"temporary files {leftovers}, S3 objects {sorted(objects)}"
        + (f", relay saw {relay.matched}" if relay else "")
    )
    for key, body in objects.items():
        assert body == expected_objects[key]  # present means complete
        assert_complete_parquet(body, key)
    if phase == "raw_fetch":
        assert sorted(files) == ["genesys_queues.parquet"] and leftovers == [] and objects == {}
    elif phase == "intermediate_write":
        assert objects == {}
    else:
        assert relay is not None
        held = re.search(rb"date(?:=|%3D)(\d{4}-\d{2}-\d{2})", relay.matched[0])
        assert held is not None
        assert (
            victim.export_key("daily", held.group(1).decode()) not in objects
        )  # the stalled PUT never landed
        for asset in ("raw_queue_aggregates", "queue_interval_kpis", "queue_kpis_daily"):
            assert all(f"{asset}/{key}.parquet" in files for key in KEYS)
    killed = _cli_run(home)
    assert killed.status == dg.DagsterRunStatus.STARTED  # nothing marked it finished: the UI shows it running

    # The rerun (what a backfill of the same range does) completes everything exactly.
    assert victim.daily((FIRST, LAST)).success
    assert victim.s3_objects() == expected_objects
    assert compare_lakes(lake_files(lake), expected_lake) == []
    assert temp_leftovers(lake) == []  # the rewrite removed the killed writer's temporary files


def test_rewrite_removes_only_dead_writers_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "raw_queue_aggregates" / "2026-10-12.parquet"
    target.parent.mkdir()
    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait(timeout=30)
    host = storage.TEMP_HOST_TAG
    dead = target.parent / f".{target.name}.{host}.{dead_pid.pid}.abcd1234.tmp"
    alive = target.parent / f".{target.name}.{host}.{os.getppid()}.efgh5678.tmp"  # a running process
    elsewhere = target.parent / f".{target.name}.other_host.{dead_pid.pid}.ijkl9012.tmp"
    unrelated = target.parent / f".2026-10-13.parquet.{host}.{dead_pid.pid}.mnop3456.tmp"
    for path in (dead, alive, elsewhere, unrelated):
        path.write_bytes(b"half a parquet file")

    storage.LocalStore(tmp_path).write("raw_queue_aggregates/2026-10-12.parquet", b"PAR1 whole PAR1")

    assert target.read_bytes() == b"PAR1 whole PAR1"
    assert not dead.exists()  # left by a writer that no longer runs on this host
    assert alive.exists() and elsewhere.exists() and unrelated.exists()
