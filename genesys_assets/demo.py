"""The demo: the sandbox Genesys org, a local S3 and the Dagster UI, with the last days already materialized.

    python -m genesys_assets.demo              # UI at http://127.0.0.1:3000 (Ctrl+C stops everything)
    python -m genesys_assets.demo --headless   # materialize, print the S3 objects and figures, exit 0

`--genesys-url`, `--client-id` and `--client-secret` point the demo at an org that is already running (a
sandbox started with `python -m genesys_assets.sandbox`, with its own knobs); `--s3-endpoint-url` at an S3
endpoint of your own. `--client-secret` alone sets the secret the built-in sandbox accepts.

Everything listens on 127.0.0.1 only. The Dagster instance lives in `.dagster_home/` so runs survive restarts.
"""

from __future__ import annotations

import argparse
import contextlib
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
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from genesys_assets.lake.export_writer import export_prefix
from genesys_assets.localtime import zone
from genesys_assets.sandbox import SandboxConfig, SandboxServer
from genesys_assets.schema import KPI_MEASURES
from genesys_assets.transforms import kpis

REPO = Path(__file__).resolve().parent.parent
BUCKET = "genesys-demo-lake"
EXPORT_PREFIX = "genesys"


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
    parser.add_argument("--client-id", default="sandbox-client", help="OAuth client id the pipeline uses")
    parser.add_argument(
        "--client-secret",
        default="sandbox-secret",
        help="OAuth client secret the pipeline uses; the built-in sandbox accepts only this one",
    )
    parser.add_argument(
        "--genesys-url",
        default=None,
        help="API and login URL of a running org (e.g. `python -m genesys_assets.sandbox`) instead of the "
        "built-in sandbox; it must accept --client-id/--client-secret and use --timezone",
    )
    parser.add_argument(
        "--s3-endpoint-url",
        default=None,
        help="an S3 endpoint to write to (AWS credentials from the environment) instead of a local moto S3",
    )
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
    args: argparse.Namespace, genesys_url: str, s3_url: str, start: date, *, local_s3: bool
) -> None:
    home = Path(args.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(DEMO_INSTANCE_YAML)
    if local_s3:
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "demo",
                "AWS_SECRET_ACCESS_KEY": "demo",  # moto accepts any key; never a real credential
                "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        )
    os.environ.update(
        {
            "DAGSTER_HOME": args.dagster_home,
            "GENESYS_CLIENT_ID": args.client_id,
            "GENESYS_CLIENT_SECRET": args.client_secret,
            "GENESYS_API_URL": genesys_url,
            "GENESYS_LOGIN_URL": genesys_url,
            "GENESYS_TIMEZONE": args.timezone,
            "GENESYS_START_DATE": start.isoformat(),
            "GENESYS_LAKE_DIR": str(Path(args.dagster_home) / "lake"),
            "EXPORT_S3_BUCKET": BUCKET,
            "EXPORT_S3_PREFIX": EXPORT_PREFIX,
            "AWS_ENDPOINT_URL": s3_url,
        }
    )


def _create_bucket(s3_url: str) -> None:
    """The demo bucket on the S3 endpoint (an existing one is kept)."""
    try:
        boto3.client("s3", endpoint_url=s3_url).create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in (
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            raise


def materialize_recent(days: int) -> list[str]:
    """Run the directory, the last `days` local days as one run, and the last complete week. Returns S3 URIs."""
    import dagster as dg

    from genesys_assets.definitions import defs
    from genesys_assets.defs.automation import range_tags
    from genesys_assets.defs.partitions import daily_partitions, weekly_partitions

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
    """Daily totals per media type and direction, read back from the exported objects as an analyst would,
    with the KPIs recomputed from the summed measures."""
    client = boto3.client("s3", endpoint_url=s3_url)
    frames = []
    for item in client.list_objects_v2(Bucket=BUCKET, Prefix=export_prefix(EXPORT_PREFIX, "daily")).get(
        "Contents", []
    ):
        body = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        frames.append(pl.read_parquet(body))
    if not frames:
        return pl.DataFrame()
    keys = ("local_date", "media_type", "direction")
    return (
        pl.concat(frames)
        .group_by(keys)
        .agg(*(pl.col(m).sum() for m in KPI_MEASURES), pl.col("is_interpolated", "is_provisional").any())
        .pipe(kpis.with_ratios)
        .select(
            *keys,
            "offered",
            "answered",
            "abandoned",
            pl.col("aht_s", "asa_s").round(1),
            pl.col("service_level").round(3),
            "is_interpolated",
            "is_provisional",
        )
        .sort(keys)
    )


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    _quiet()
    today = datetime.now(UTC).astimezone(zone(args.timezone)).date()
    start = today - timedelta(days=max(args.days, 7) + 28)
    config = SandboxConfig(
        queue_count=args.queues,
        timezone=args.timezone,
        start_date=start - timedelta(days=7),
        end_date=today,
        client_id=args.client_id,
        client_secret=args.client_secret,
    )
    with contextlib.ExitStack() as stack:
        local_s3 = args.s3_endpoint_url is None
        if local_s3:
            s3_server, s3_url = _start_s3()
            stack.callback(s3_server.stop)
        else:
            s3_url = args.s3_endpoint_url
        if args.genesys_url:
            genesys_url, where = args.genesys_url.rstrip("/"), "Genesys org"
        else:
            genesys_url, where = stack.enter_context(SandboxServer(config)).url, "sandbox Genesys org"
        _configure_environment(args, genesys_url, s3_url, start, local_s3=local_s3)
        _create_bucket(s3_url)
        print(f"demo: {where} at {genesys_url}, S3 at {s3_url}, bucket {BUCKET}", flush=True)
        uris = materialize_recent(args.days)
        print("demo: S3 objects written:")
        for uri in uris:
            print(f"  {uri}")
        with pl.Config(tbl_rows=60, tbl_cols=12, tbl_width_chars=140):
            print(figures_table(s3_url))
        if args.headless:
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


if __name__ == "__main__":
    raise SystemExit(main())
