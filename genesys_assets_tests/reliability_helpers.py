"""Helpers of the reliability tests: run outcomes, lake and S3 snapshots, a TCP relay, killable CLI runs.

* :func:`step_failure` finds the failed step of a Dagster run and the project error behind it (class name and
  message, unwrapped from Dagster's ``DagsterExecutionStepExecutionError``).
* :func:`check_evaluations`, :func:`materialized` read what a run decided and wrote.
* :func:`lake_files`, :func:`temp_leftovers`, :func:`assert_complete_parquet` inspect the local lake after a
  crash; :func:`compare_lakes` compares two lakes, raw partitions without their ``extracted_at`` stamp.
* :class:`TcpRelay` forwards TCP between 127.0.0.1 ports, records what the server sends back and can stall
  a request that matches a pattern part-way through its body (a stand-in for a stalled S3 upload).
* :func:`start_materialize` launches ``dagster asset materialize`` as a subprocess in its own process
  group, and :func:`kill_group` ends that group with SIGKILL; :func:`wait_until` polls a condition with a
  deadline.
* :func:`find_needles` searches text and bytes for secrets.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from genesys_assets_tests.s3_fixtures import s3_client_for

REPO = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).with_name("dagster"))
DAILY_SELECTION = "raw_queue_aggregates,queue_interval_kpis,queue_kpis_daily,queue_export_daily"
TEMP_SUFFIX = ".tmp"


# ------------------------------------------------------------------------------------------ run outcomes


@dataclass(frozen=True)
class StepFailure:
    """A failed step and the error that failed it (the user-code error when Dagster wrapped one)."""

    step_key: str
    cls_name: str
    message: str

    @property
    def text(self) -> str:
        return f"{self.cls_name}: {self.message}"


def step_failures(result: dg.ExecuteInProcessResult) -> list[StepFailure]:
    """Every STEP_FAILURE of the run, each with the first error of its cause chain that is not a Dagster
    wrapper (``DagsterExecutionStepExecutionError`` around the asset's own exception)."""
    failures = []
    for event in result.all_events:
        if event.event_type != dg.DagsterEventType.STEP_FAILURE:
            continue
        error = event.event_specific_data.error
        while error.cause is not None and error.cls_name.startswith("Dagster"):
            error = error.cause
        failures.append(StepFailure(event.step_key or "", error.cls_name, error.message.strip()))
    return failures


def step_failure(result: dg.ExecuteInProcessResult) -> StepFailure:
    """The only failed step of a run that must have failed."""
    assert not result.success, "the run was expected to fail"
    failures = step_failures(result)
    assert len(failures) == 1, [f.text[:300] for f in failures]
    return failures[0]


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    """Check name -> its AssetCheckEvaluation in the run."""
    return {
        event.event_specific_data.check_name: event.event_specific_data
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }


def materialized(result: dg.ExecuteInProcessResult) -> set[tuple[str, str | None]]:
    """(asset name, partition key) of every materialization recorded by the run."""
    return {
        (event.asset_key.to_user_string(), event.materialization.partition)
        for event in result.get_asset_materialization_events()
    }


def log_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Every message the run logged (``context.log`` lines included), in order."""
    return [record.user_message for record in instance.all_logs(run_id) if record.user_message]


def run_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    """Metadata values of the asset's first materialization in the run (shared by a range's partitions)."""
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == asset:
            return {key: value.value for key, value in event.materialization.metadata.items()}
    raise AssertionError(f"{asset} was not materialized in run {result.run_id}")


# ------------------------------------------------------------------------------------------ lake and S3


def is_temp_name(path: Path) -> bool:
    """A temporary file of `lake.storage.atomic_write` (hidden, ``.tmp`` suffix)."""
    return path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)


def lake_files(lake_dir: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every final (non-temporary) file under the lake folder."""
    if not lake_dir.exists():
        return {}
    return {
        path.relative_to(lake_dir).as_posix(): path.read_bytes()
        for path in sorted(lake_dir.rglob("*"))
        if path.is_file() and not is_temp_name(path)
    }


def temp_leftovers(lake_dir: Path) -> list[str]:
    """Temporary files left under the lake folder (by a writer that was killed mid-write)."""
    if not lake_dir.exists():
        return []
    return sorted(p.relative_to(lake_dir).as_posix() for p in lake_dir.rglob("*") if is_temp_name(p))


def assert_complete_parquet(body: bytes, where: str) -> pl.DataFrame:
    """The bytes are a whole Parquet file (magic at both ends, a readable footer and every row group)."""
    assert body[:4] == b"PAR1" and body[-4:] == b"PAR1", f"{where} is not a complete Parquet file"
    table = pq.read_table(pa.BufferReader(body))
    return pl.from_arrow(table)  # type: ignore[return-value]


def raw_without_extraction_time(body: bytes) -> pl.DataFrame:
    """A raw_queue_aggregates partition without its extracted_at stamp (the only run-dependent column)."""
    return pl.read_parquet(body).drop("extracted_at")


def compare_lakes(actual: Mapping[str, bytes], expected: Mapping[str, bytes]) -> list[str]:
    """Paths whose content differs; raw partitions are compared without their extraction time."""
    differing = sorted(set(actual) ^ set(expected))
    for path in sorted(set(actual) & set(expected)):
        if path.startswith("raw_queue_aggregates/"):
            same = raw_without_extraction_time(actual[path]).equals(
                raw_without_extraction_time(expected[path])
            )
        else:
            same = actual[path] == expected[path]
        if not same:
            differing.append(path)
    return differing


def bucket_objects(endpoint: str, bucket: str) -> dict[str, bytes]:
    """Key -> body of every object in a bucket, read directly from the S3 endpoint."""
    client = s3_client_for(endpoint, max_attempts=3)
    keys = [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    ]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


# ------------------------------------------------------------------------------------------ TCP relay


class TcpRelay:
    """Forwards TCP connections from 127.0.0.1:<port> to ``target`` (host, port), both ways.

    ``record_replies``: keep every byte the target sends back (read them with :meth:`replies`).
    ``hold``: a regex over the client's byte stream; its ``hold_match``-th match (0-based, counted over all
    connections) is forwarded with at most ``hold_bytes`` bytes from the match start, then the relay stops
    forwarding that connection and sets :attr:`held`. The connection stays open until the client goes away
    or :meth:`stop` is called; the target then sees the request cut short.
    """

    def __init__(
        self,
        target: tuple[str, int],
        *,
        record_replies: bool = False,
        hold: bytes | None = None,
        hold_match: int = 0,
        hold_bytes: int = 2048,
    ) -> None:
        self.target = target
        self.record_replies = record_replies
        self.hold = re.compile(hold) if hold else None
        self.hold_match = hold_match
        self.hold_bytes = hold_bytes
        self.held = threading.Event()
        self.matches = 0
        self.matched: list[bytes] = []  # the start of each matching request
        self._replies = bytearray()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self._port = int(self._listener.getsockname()[1])
        self._threads: list[threading.Thread] = []
        accept = threading.Thread(target=self._accept, name="tcp-relay", daemon=True)
        accept.start()
        self._threads.append(accept)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def replies(self) -> bytes:
        with self._lock:
            return bytes(self._replies)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        self._listener.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> TcpRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink, outbound in ((client, upstream, True), (upstream, client, False)):
                thread = threading.Thread(
                    target=self._pump, args=(source, sink, outbound), name="tcp-relay-pump", daemon=True
                )
                thread.start()
                with self._lock:
                    self._threads.append(thread)

    def _pump(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        window = b""
        budget: int | None = None  # bytes still forwarded of a held request; None = not holding
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if not outbound:
                    if self.record_replies:
                        with self._lock:
                            self._replies.extend(data)
                    sink.sendall(data)
                    continue
                if budget is None and self.hold is not None and not self.held.is_set():
                    scan = window + data
                    for match in self.hold.finditer(scan):
                        if match.start() < len(window):
                            continue  # seen in the previous chunk already
                        with self._lock:
                            index, self.matches = self.matches, self.matches + 1
                            self.matched.append(scan[match.start() : match.start() + 160])
                        if index == self.hold_match:
                            offset = match.start() - len(window)
                            budget = self.hold_bytes
                            sink.sendall(data[:offset])
                            data = data[offset:]
                            break
                    window = scan[-512:]
                if budget is None:
                    sink.sendall(data)
                    continue
                forward, budget = data[:budget], budget - min(budget, len(data))
                if forward:
                    sink.sendall(forward)
                if budget == 0:
                    self.held.set()
                    while source.recv(65536):  # swallow the rest until the client goes away
                        pass
                    break
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


# ------------------------------------------------------------------------------------------ subprocesses


def cli_environment(base: Mapping[str, str], home: Path, **overrides: str) -> dict[str, str]:
    """The environment of a CLI run: ``base`` (the test's pipeline settings) with its own Dagster home."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {**base, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1", **overrides}


def start_materialize(
    selection: str, first: str, last: str, env: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """``dagster asset materialize`` of a partition range with the in-process executor, in its own process
    group, output to a file."""
    log = log_path.open("wb")
    try:
        return subprocess.Popen(
            [
                DAGSTER,
                "asset",
                "materialize",
                "-m",
                "genesys_assets.definitions",
                "--select",
                selection,
                "--partition-range",
                f"{first}...{last}",
                # One process for the whole run (the CLI's default starts a process per step).
                "--config-json",
                json.dumps({"execution": {"config": {"in_process": {}}}}),
            ],
            cwd=REPO,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()


def kill_group(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGKILL the process group the process leads (it was started with a new session); its exit code."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    return process.wait(timeout=timeout)


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.05,
    process: subprocess.Popen[bytes] | None = None,
    what: str = "condition",
) -> float:
    """Poll ``condition`` until it holds; seconds waited. Fails on timeout or when ``process`` exits first."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic() - started
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}) before {what}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


# ------------------------------------------------------------------------------------------ secrets


def find_needles(needles: Iterable[str], blobs: Mapping[str, bytes | str]) -> list[tuple[str, str]]:
    """(where, needle) for every blob that contains a needle (as text or as UTF-8 bytes)."""
    hits = []
    encoded = [(needle, needle.encode()) for needle in needles if needle]
    for where, blob in blobs.items():
        data = blob.encode("utf-8", "replace") if isinstance(blob, str) else blob
        hits.extend((where, needle) for needle, raw in encoded if raw in data)
    return hits
