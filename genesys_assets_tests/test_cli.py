"""The commands the README gives, run as a user runs them: `dagster definitions validate`, `dagster asset
materialize` for one daily and one weekly partition, and the headless demo. Only environment variables point
them at the sandbox org and the S3 API on 127.0.0.1."""

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
DAGSTER = str(Path(sys.executable).with_name("dagster"))


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


def _dagster(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    extra = IN_PROCESS if args[:2] == ("asset", "materialize") else []
    return subprocess.run(
        [DAGSTER, *args, *extra], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_readme_materialize_commands_on_any_compatible_endpoints(
    sandbox: SandboxServer, moto_s3: str, s3_bucket: str, tmp_path: Path
) -> None:
    env = _environment(sandbox, moto_s3, s3_bucket, tmp_path / "home")
    validated = _dagster("definitions", "validate", "-m", "genesys_assets.definitions", env=env)
    assert validated.returncode == 0, validated.stderr[-2000:]

    steps = [
        ("genesys_queues", None),
        ("raw_queue_aggregates,queue_interval_kpis,queue_kpis_daily,queue_export_daily", "2026-11-01"),
    ]
    for selection, partition in steps:
        args = ["asset", "materialize", "-m", "genesys_assets.definitions", "--select", selection]
        done = _dagster(*args, *(["--partition", partition] if partition else []), env=env)
        assert done.returncode == 0, done.stderr[-3000:]
    week = _dagster(
        "asset",
        "materialize",
        "-m",
        "genesys_assets.definitions",
        "--select",
        "raw_queue_aggregates,queue_interval_kpis,queue_kpis_daily,queue_export_daily",
        "--partition-range",
        "2026-10-26...2026-10-31",
        env=env,
    )
    assert week.returncode == 0, week.stderr[-3000:]
    weekly = _dagster(
        "asset",
        "materialize",
        "-m",
        "genesys_assets.definitions",
        "--select",
        "queue_kpis_weekly,queue_export_weekly",
        "--partition",
        "2026-10-26",
        env=env,
    )
    assert weekly.returncode == 0, weekly.stderr[-3000:]

    s3 = s3_client_for(moto_s3)
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert export_key("cli", "weekly", "2026-10-26") in keys
    assert len([k for k in keys if k.startswith(export_prefix("cli", "daily"))]) == 7
    body = s3.get_object(Bucket=s3_bucket, Key=export_key("cli", "daily", "2026-11-01"))
    day = pl.read_parquet(body["Body"].read())
    assert day["interval_start"].n_unique() == 50  # the 25-hour fall-back day
    assert int(day["offered"].sum()) == int(
        sandbox.truth.daily_frame(*[day["local_date"][0]] * 2)["offered"].sum()
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
