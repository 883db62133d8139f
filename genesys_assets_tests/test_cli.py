"""The commands the README gives, run as a user runs them: `dg launch` for one daily partition, a range and
one weekly partition, and the headless demo. Only environment variables point them at the sandbox org and the
S3 API on 127.0.0.1. The one-partition command prints no warning."""

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from genesys_assets.demo import BUCKET as DEMO_BUCKET
from genesys_assets.demo import EXPORT_PREFIX as DEMO_PREFIX
from genesys_assets.lake.export_writer import export_key, export_prefix
from genesys_assets.sandbox import SandboxServer
from genesys_assets_tests.s3_fixtures import s3_client_for

pytestmark = pytest.mark.e2e  # runs Dagster (and child processes)

REPO = Path(__file__).resolve().parent.parent
DG = str(Path(sys.executable).with_name("dg"))


def _environment(sandbox: SandboxServer, s3_url: str, bucket: str, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "GENESYS_CLIENT_ID": sandbox.client_id,
        "GENESYS_CLIENT_SECRET": sandbox.client_secret,
        "GENESYS_API_URL": sandbox.url,
        "GENESYS_LOGIN_URL": sandbox.url,
        "GENESYS_RATE_LIMIT_DIR": str(home / "ratelimit"),
        "GENESYS_LAKE_DIR": str(home / "lake"),
        "EXPORT_S3_BUCKET": bucket,
        "EXPORT_S3_PREFIX": "cli",
    }


# One process per run instead of one per step: the same commands, a fraction of the start-up cost on 2 cores.
IN_PROCESS = ["--config-json", '{"execution": {"config": {"in_process": {}}}}']


def _launch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [DG, "launch", *args, *IN_PROCESS]
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_readme_materialize_commands_on_any_compatible_endpoints(
    sandbox: SandboxServer, moto_s3: str, s3_bucket: str, tmp_path: Path
) -> None:
    env = _environment(sandbox, moto_s3, s3_bucket, tmp_path / "home")
    daily = "raw_queue_aggregates,queue_interval_kpis,queue_kpis_daily,queue_export_daily"
    queues = _launch("--assets", "genesys_queues", env=env)
    assert queues.returncode == 0, queues.stderr[-3000:]
    day = _launch("--assets", daily, "--partition", "2026-11-01", env=env)
    assert day.returncode == 0, day.stderr[-3000:]
    # Quiet: the deliberate beta/preview APIs are filtered in genesys_assets.defs, nothing else warns.
    warned = [line for line in (day.stdout + day.stderr).splitlines() if "Warning" in line]
    assert warned == [], "\n".join(warned)
    week = _launch("--assets", daily, "--partition-range", "2026-10-26...2026-10-31", env=env)
    assert week.returncode == 0, week.stderr[-3000:]
    weekly = _launch(
        "--assets", "queue_kpis_weekly,queue_export_weekly", "--partition", "2026-10-26", env=env
    )
    assert weekly.returncode == 0, weekly.stderr[-3000:]

    s3 = s3_client_for(moto_s3)
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert export_key("cli", "weekly", "2026-10-26") in keys
    assert len([k for k in keys if k.startswith(export_prefix("cli", "daily"))]) == 7
    body = s3.get_object(Bucket=s3_bucket, Key=export_key("cli", "daily", "2026-11-01"))
    exported = pl.read_parquet(body["Body"].read())
    assert exported["interval_start"].n_unique() == 50  # the 25-hour fall-back day
    assert int(exported["offered"].sum()) == int(
        sandbox.truth.daily_frame(*[exported["local_date"][0]] * 2)["offered"].sum()
    )


def test_headless_demo_materializes_and_prints_figures(tmp_path: Path) -> None:
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
            "--dagster-home",
            str(tmp_path / "home"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    uris = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("s3://")]
    days = [u.removeprefix(f"s3://{DEMO_BUCKET}/") for u in uris]
    assert len(days) == 3
    assert all(key == export_key(DEMO_PREFIX, "daily", key.split("date=")[1].split("/")[0]) for key in days)
    assert "service_level" in done.stdout and "offered" in done.stdout
