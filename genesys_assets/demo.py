"""The demo: the sandbox Genesys org, a local S3 and the Dagster UI, with the last days already materialized.

    python -m genesys_assets.demo              # UI at http://127.0.0.1:3000 (Ctrl+C stops everything)
    python -m genesys_assets.demo --headless   # materialize, print the S3 objects and figures, exit 0

Everything listens on 127.0.0.1 only. The Dagster instance lives in `.dagster_home/` so runs survive restarts.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import boto3
import polars as pl
from moto.server import ThreadedMotoServer

from genesys_assets.localtime import zone
from genesys_assets.sandbox import SandboxConfig, SandboxServer

REPO = Path(__file__).resolve().parent.parent
BUCKET = "genesys-demo-lake"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--headless", action="store_true", help="materialize, print results and exit")
    parser.add_argument("--days", type=int, default=7, help="recent local days to materialize (default 7)")
    parser.add_argument("--queues", type=int, default=8, help="queues in the sandbox org (default 8)")
    parser.add_argument("--timezone", default="Europe/Berlin", help="the org's IANA timezone")
    parser.add_argument("--port", type=int, default=3000, help="Dagster UI port (default 3000)")
    parser.add_argument("--dagster-home", default=str(REPO / ".dagster_home"), help="Dagster instance folder")
    return parser.parse_args(argv)


def _quiet() -> None:
    """Keep the demo's output to the pipeline: no per-request S3 log lines, no beta/preview notices."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(beta|preview).*", category=Warning)
    warnings.filterwarnings("ignore", message="Found asset job named", category=UserWarning)


def _start_s3() -> tuple[ThreadedMotoServer, str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


# The demo instance: telemetry off, at most two runs at once, one Genesys API step at a time across runs.
DEMO_INSTANCE_YAML = """\
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 2
    tag_concurrency_limits:
      - key: genesys/api
        limit: 1
  pools:
    default_limit: 1
"""


def _configure_environment(
    args: argparse.Namespace, sandbox: SandboxServer, s3_url: str, start: date
) -> None:
    home = Path(args.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
    os.environ.update(
        {
            "DAGSTER_HOME": args.dagster_home,
            "GENESYS_CLIENT_ID": sandbox.client_id,
            "GENESYS_CLIENT_SECRET": sandbox.client_secret,
            "GENESYS_API_URL": sandbox.url,
            "GENESYS_LOGIN_URL": sandbox.url,
            "GENESYS_TIMEZONE": args.timezone,
            "GENESYS_START_DATE": start.isoformat(),
            "GENESYS_LAKE_DIR": str(Path(args.dagster_home) / "lake"),
            "EXPORT_S3_BUCKET": BUCKET,
            "EXPORT_S3_PREFIX": "genesys",
            "AWS_ENDPOINT_URL": s3_url,
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",  # moto accepts any key; never a real credential
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )


def materialize_recent(days: int) -> list[str]:
    """Run the directory, the last `days` local days as one run, and the last complete week. Returns S3 URIs."""
    import dagster as dg

    from genesys_assets.definitions import defs
    from genesys_assets.partitions import daily_partitions, weekly_partitions
    from genesys_assets.schedules import range_tags

    instance = dg.DagsterInstance.get()
    daily_keys = daily_partitions.get_partition_keys()[-days:]
    runs = [
        ("genesys_directory_job", {}),
        ("genesys_daily_job", range_tags(daily_keys[0], daily_keys[-1])),
    ]
    weekly_keys = [k for k in weekly_partitions.get_partition_keys() if k >= daily_keys[0]]
    if weekly_keys:
        runs.append(("genesys_weekly_job", range_tags(weekly_keys[0], weekly_keys[-1])))
    uris: list[str] = []
    for job_name, tags in runs:
        print(
            f"demo: running {job_name} {tags.get('dagster/asset_partition_range_start', '')}"
            f"{'...' + tags['dagster/asset_partition_range_end'] if tags else ''}",
            flush=True,
        )
        result = defs.get_job_def(job_name).execute_in_process(instance=instance, tags=tags)
        for event in result.get_asset_materialization_events():
            uri = event.materialization.metadata.get("s3_uri")
            if uri is not None and event.materialization.partition in (daily_keys + weekly_keys):
                uris.append(str(uri.value))
    return sorted(set(uris))


def figures_table(s3_url: str) -> pl.DataFrame:
    """Daily totals per media type, read back from the exported objects as an analyst would."""
    client = boto3.client("s3", endpoint_url=s3_url)
    frames = []
    for item in client.list_objects_v2(Bucket=BUCKET, Prefix="genesys/queue_export/grain=daily/").get(
        "Contents", []
    ):
        body = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        frames.append(pl.read_parquet(body))
    if not frames:
        return pl.DataFrame()
    return (
        pl.concat(frames)
        .group_by("local_date", "media_type")
        .agg(
            pl.col("offered").sum(),
            pl.col("answered").sum(),
            pl.col("abandoned").sum(),
            (pl.col("handle_sum_ms").sum() / pl.col("handle_count").sum() / 1000).round(1).alias("aht_s"),
            (pl.col("sl_numerator").sum() / pl.col("sl_denominator").sum()).round(3).alias("service_level"),
            pl.col("is_interpolated").any(),
            pl.col("is_provisional").any(),
        )
        .sort("local_date", "media_type")
    )


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    _quiet()
    today = datetime.now(UTC).astimezone(zone(args.timezone)).date()
    start = today - timedelta(days=max(args.days, 7) + 28)
    config = SandboxConfig(
        queue_count=args.queues, timezone=args.timezone, start_date=start - timedelta(days=7), end_date=today
    )
    s3_server, s3_url = _start_s3()
    with SandboxServer(config) as sandbox:
        _configure_environment(args, sandbox, s3_url, start)
        boto3.client("s3", endpoint_url=s3_url).create_bucket(Bucket=BUCKET)
        print(
            f"demo: sandbox Genesys org at {sandbox.url}, local S3 at {s3_url}, bucket {BUCKET}", flush=True
        )
        uris = materialize_recent(args.days)
        print("demo: S3 objects written:")
        for uri in uris:
            print(f"  {uri}")
        with pl.Config(tbl_rows=60, tbl_cols=12, tbl_width_chars=140):
            print(figures_table(s3_url))
        if args.headless:
            s3_server.stop()
            return 0
        print(f"demo: Dagster UI on http://127.0.0.1:{args.port} (Ctrl+C to stop)", flush=True)
        ui = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster",
                "dev",
                "-w",
                str(REPO / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(args.port),
            ],
            cwd=REPO,
        )
        try:
            return ui.wait()
        except KeyboardInterrupt:
            ui.send_signal(signal.SIGINT)
            return ui.wait()
        finally:
            s3_server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
