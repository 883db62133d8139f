"""Secrets stay secret: the headless demo with a recognizable client secret, searched everywhere afterwards.

The demo runs as a user runs it (`python -m genesys_assets.demo --headless --days 3 --queues 3`) against a
sandbox org that accepts only a fresh, recognizable secret, through a TCP relay that records the sandbox's
answers so the access tokens it issued are known. Then the secret, the Basic-auth form of the credentials
and every issued token are searched for in: the demo's stdout and stderr, every file the run left (Dagster
home with its SQLite event log and compute logs, the lake, the rate-limit store, the temp folder), each
SQLite database dumped as text, every Parquet file decoded to text, every metadata value, run tag and
check description in the instance, and every S3 object. No hit is allowed; tokens are never on disk.
"""

from __future__ import annotations

import base64
import io
import os
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
import pytest

from genesys_assets.demo import BUCKET as DEMO_BUCKET
from genesys_assets.demo import EXPORT_PREFIX as DEMO_PREFIX
from genesys_assets.lake.export_writer import export_prefix
from genesys_assets.sandbox import SandboxConfig, SandboxServer
from genesys_assets_tests.reliability_helpers import REPO, TcpRelay, bucket_objects, find_needles

TIMEZONE = "Europe/Berlin"
MAX_SCANNED_BYTES = 64 * 1024 * 1024
SKIPPED_DIRS = {".git", ".venv", ".tools", "node_modules", "__pycache__", ".ruff_cache"}


def _parquet_text(body: bytes) -> str:
    try:
        return pl.read_parquet(io.BytesIO(body)).write_csv()
    except Exception:  # not a Parquet file after all; its raw bytes are searched anyway
        return ""


def _sqlite_dump(path: Path) -> str:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


def _files_under(root: Path, *, since: float | None = None) -> list[Path]:
    found = []
    for current, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in files:
            path = Path(current) / name
            try:
                stat = path.stat()
            except OSError:
                continue
            if stat.st_size <= MAX_SCANNED_BYTES and (since is None or stat.st_mtime >= since):
                found.append(path)
    return found


def _blobs_of_files(paths: list[Path]) -> dict[str, bytes | str]:
    """Raw bytes of each file, plus SQLite databases dumped as text and Parquet files decoded to text."""
    blobs: dict[str, bytes | str] = {}
    for path in paths:
        try:
            body = path.read_bytes()
        except OSError:
            continue
        blobs[str(path)] = body
        if body.startswith(b"SQLite format 3"):
            blobs[f"{path} (SQL dump)"] = _sqlite_dump(path)
        if body[:4] == b"PAR1":
            blobs[f"{path} (decoded)"] = _parquet_text(body)
    return blobs


def _instance_texts(home: Path) -> dict[str, str]:
    """Run tags and config, every materialization's metadata and every check evaluation, as text."""
    texts: dict[str, str] = {}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        for run in runs:
            texts[f"run {run.run_id} tags and config"] = repr(run.tags) + repr(run.run_config)
            for number, record in enumerate(instance.all_logs(run.run_id)):
                event = record.dagster_event
                texts[f"run {run.run_id} log {number}"] = record.user_message + repr(
                    event.event_specific_data if event is not None else None
                )
        for key in instance.get_asset_keys():
            for record in instance.fetch_materializations(key, limit=1000).records:
                materialization = record.asset_materialization
                if materialization is not None:
                    texts[f"{key.to_user_string()} {materialization.partition} metadata"] = repr(
                        {name: value.value for name, value in materialization.metadata.items()}
                    )
    assert runs, "the demo recorded no runs"
    return texts


@pytest.mark.timeout(400)
def test_demo_leaves_no_secret_or_token_anywhere(moto_s3: str, tmp_path: Path) -> None:
    secret = f"reliability-secret-{uuid.uuid4().hex}"
    client_id = f"reliability-client-{uuid.uuid4().hex[:8]}"
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    today = datetime.now(UTC).astimezone(ZoneInfo(TIMEZONE)).date()
    config = SandboxConfig(
        seed=29,
        queue_count=3,
        timezone=TIMEZONE,
        start_date=today - timedelta(days=60),
        end_date=today,
        client_id=client_id,
        client_secret=secret,
    )
    home, scratch = tmp_path / "dagster_home", tmp_path / "tmp"
    scratch.mkdir()
    started = time.time()
    with (
        SandboxServer(config) as sandbox,
        TcpRelay((urlsplit(sandbox.url).hostname or "127.0.0.1", sandbox.port), record_replies=True) as relay,
    ):
        env = {
            **os.environ,
            "GENESYS_RATE_LIMIT_DIR": str(tmp_path / "ratelimit"),
            "TMPDIR": str(scratch),
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("GENESYS_CLIENT_ID", "GENESYS_CLIENT_SECRET", "DAGSTER_HOME"):
            env.pop(name, None)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "genesys_assets.demo",
                "--headless",
                "--days",
                "3",
                "--queues",
                "3",
                "--timezone",
                TIMEZONE,
                "--dagster-home",
                str(home),
                "--genesys-url",
                relay.url,
                "--client-id",
                client_id,
                "--client-secret",
                secret,
                "--s3-endpoint-url",
                moto_s3,
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=360,
            check=False,
        )
        replies = relay.replies()
        issued = sandbox.stats()["tokens_issued"]
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    tokens = re.findall(rb'"access_token"\s*:\s*"([^"]+)"', replies)
    assert len(tokens) == issued >= 2  # the directory run and the daily run each fetched one
    needles = [secret, basic, *(token.decode() for token in tokens)]

    blobs: dict[str, bytes | str] = {"stdout": done.stdout, "stderr": done.stderr}
    blobs.update(_blobs_of_files(_files_under(tmp_path)))
    # Anything the demo may have written next to the code (it should write nothing there).
    blobs.update(_blobs_of_files(_files_under(REPO, since=started)))
    blobs.update(_instance_texts(home))
    objects = bucket_objects(moto_s3, DEMO_BUCKET)
    assert len([key for key in objects if key.startswith(export_prefix(DEMO_PREFIX, "daily"))]) == 3
    for key, body in objects.items():
        blobs[f"s3://{DEMO_BUCKET}/{key}"] = body
        blobs[f"s3://{DEMO_BUCKET}/{key} (decoded)"] = _parquet_text(body)

    # The search covers real content: the event log, the compute logs, the lake and the export.
    dumps = [text for name, text in blobs.items() if name.endswith("(SQL dump)")]
    assert any("ASSET_MATERIALIZATION" in str(text) for text in dumps)
    compute_logs = [name for name in blobs if "compute_logs" in name]
    lake = [name for name in blobs if "/lake/" in name and name.endswith(".parquet")]
    assert compute_logs and lake and objects
    print(
        f"\nsecrets: searched {len(blobs)} texts and files ({sum(len(b) for b in blobs.values())} bytes: "
        f"{len(dumps)} SQLite dumps, {len(compute_logs)} compute logs, {len(lake)} lake Parquet files, "
        f"{len(objects)} S3 objects) for the secret, its Basic-auth form and {len(tokens)} issued tokens"
    )
    assert find_needles([DEMO_BUCKET], blobs)  # a non-secret value is found where it belongs
    assert find_needles(needles, blobs) == []
