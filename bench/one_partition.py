"""One daily partition through the README's CLI command: the previous multiprocess setup vs the default.

    .venv/bin/python bench/one_partition.py           # 12 queues, 5 runs of each setup
    .venv/bin/python bench/one_partition.py --quick   # 3 queues, 1 run of (b) and (c) (a smoke run)

Setup: the sandbox Genesys org and a moto S3 run in their own processes on 127.0.0.1. One persistent
DAGSTER_HOME (SQLite storage, as `dagster dev` keeps one) and one lake folder serve the runs of today's code,
another pair (and its own S3 prefix) those of the code before, whose tables have other columns; each
materializes its queue directory once before the clock starts. Each measured run is the README's command, a fresh
`dagster asset materialize` process for one local day (the same day every time, so every run does the same
work and writes the same objects):

    dagster asset materialize -m genesys_assets.definitions \
      --select raw_queue_aggregates,queue_interval_kpis,queue_kpis_daily,queue_export_daily --partition D

(a) the code location as it was before runs went in process (`BASELINE_REF`, unpacked from this repository's
    history with `git archive`): Dagster's multiprocess executor, each of its 10 steps (4 assets and 6
    checks in steps of their own) in its own process;
(b) today's code with `--config-json '{"execution": {"config": {"multiprocess": {}}}}'`: one process per
    step, checks inside their assets (4 steps);
(c) today's code as the README gives the command: the project's default executor, one process.
Every setup uses the same virtual environment. The runs alternate a, b, c, a, b, c, ... so all see the
same machine. Printed: every run's wall time, the medians and their ratios, and whether the runs of (b) and
(c) wrote byte-identical S3 objects (and the runs of (a) among themselves).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    PYTHON,
    REPO,
    ChildResult,
    median,
    moto_s3_process,
    ratio_line,
    require_ok,
    run_child,
    s3_client,
    sandbox_process,
    stop_on_sigterm,
)

from genesys_assets.lake.export_writer import export_key

BUCKET = "bench-one-partition"
# The last commit whose code location ran Dagster's multiprocess executor with the checks in their own steps.
BASELINE_REF = "4f043dd"
DAILY_ASSETS = "raw_queue_aggregates,queue_interval_kpis,queue_kpis_daily,queue_export_daily"
MULTIPROCESS = json.dumps({"execution": {"config": {"multiprocess": {}}}})
DAGSTER = str(Path(PYTHON).with_name("dagster"))


def _environment(
    root: Path, sandbox_url: str, s3_url: str, tz: str, first: date, prefix: str = "bench"
) -> dict[str, str]:
    home = root / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {
        "DAGSTER_HOME": str(home),
        "GENESYS_TIMEZONE": tz,
        "GENESYS_START_DATE": first.isoformat(),
        "GENESYS_CLIENT_ID": "bench-client",
        "GENESYS_CLIENT_SECRET": "bench-secret-not-real",
        "GENESYS_API_URL": sandbox_url,
        "GENESYS_LOGIN_URL": sandbox_url,
        "GENESYS_RATE_LIMIT_DIR": str(root / "ratelimit"),
        "GENESYS_LAKE_DIR": str(root / "lake"),
        "EXPORT_S3_BUCKET": BUCKET,
        "EXPORT_S3_PREFIX": prefix,
        "AWS_ENDPOINT_URL": s3_url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",  # moto accepts any key
        "AWS_REGION": "us-east-1",
    }


def _materialize(day: str, env: dict[str, str], config: str | None, cwd: Path) -> ChildResult:
    command = [DAGSTER, "asset", "materialize", "-m", "genesys_assets.definitions"]
    command += ["--select", DAILY_ASSETS, "--partition", day]
    if config is not None:
        command += ["--config-json", config]
    run = run_child(command, env=env, timeout_s=900, cwd=cwd)
    return require_ok(run, f"dagster asset materialize --partition {day} in {cwd}")


def _unpack(ref: str, target: Path) -> Path:
    """The repository's files at `ref`, unpacked into `target` (no checkout, no worktree)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def _export_digest(s3_url: str, prefix: str, day: str) -> str:
    key = export_key(prefix, "daily", day)
    body = s3_client(s3_url).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return hashlib.sha256(body).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 queues, 1 run of (b) and (c), no (a)")
    parser.add_argument("--queues", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None, help="runs of each setup")
    parser.add_argument("--timezone", default="America/New_York")
    parser.add_argument("--baseline", default=BASELINE_REF, help="git ref of (a)'s code location")
    args = parser.parse_args(argv)
    queues = args.queues or (3 if args.quick else 12)
    runs = args.runs or (1 if args.quick else 5)
    stop_on_sigterm()

    tz = args.timezone
    today = datetime.now(UTC).astimezone(ZoneInfo(tz)).date()
    day = (today - timedelta(days=2)).isoformat()
    first = today - timedelta(days=30)
    print(
        f"one-partition bench: {queues} queues, local day {day} ({tz}), {runs} run(s) of each setup",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="genesys-bench-one-") as tmp,
        sandbox_process(queues=queues, timezone=tz, start=first, end=today) as sandbox,
        moto_s3_process() as s3_url,
    ):
        s3_client(s3_url).create_bucket(Bucket=BUCKET)
        env = _environment(Path(tmp) / "now", sandbox.url, s3_url, tz, first)
        # name -> (environment, run config, working directory: the code location is imported from it)
        setups: dict[str, tuple[dict[str, str], str | None, Path]] = {}
        if not args.quick:
            # The code before has its own tables (no direction yet): its own instance, lake and S3 prefix.
            baseline = _unpack(args.baseline, Path(tmp) / "baseline")
            before = _environment(Path(tmp) / "before", sandbox.url, s3_url, tz, first, prefix="bench-before")
            setups["before"] = ({**before, "PYTHONPATH": str(baseline)}, None, baseline)
        setups["multiprocess"] = (env, MULTIPROCESS, REPO)
        setups["default"] = (env, None, REPO)
        for setup_env, _, cwd in {id(s[0]): s for s in setups.values()}.values():
            directory = [DAGSTER, "asset", "materialize", "-m", "genesys_assets.definitions"]
            require_ok(
                run_child([*directory, "--select", "genesys_queues"], env=setup_env, cwd=cwd),
                f"the queue directory run in {cwd}",
            )
        times: dict[str, list[float]] = {name: [] for name in setups}
        digests: dict[str, set[str]] = {}
        for attempt in range(1, runs + 1):
            for name, (setup_env, config, cwd) in setups.items():
                result = _materialize(day, setup_env, config, cwd)
                times[name].append(result.wall_s)
                prefix = setup_env["EXPORT_S3_PREFIX"]
                digests.setdefault(prefix, set()).add(_export_digest(s3_url, prefix, day))
                print(
                    f"  run {attempt} {name:>12}: {result.wall_s:6.1f} s, peak RSS {result.peak_rss_mb:.0f} MB",
                    flush=True,
                )
        identical = all(len(found) == 1 for found in digests.values())

    medians = {name: median(values) for name, values in times.items()}
    print()
    if "before" in medians:
        print(
            f"(a) before ({args.baseline}), multiprocess, 10 steps:    median {medians['before']:.1f} s of {runs}"
        )
    print(
        f"(b) multiprocess executor, 4 steps:              median {medians['multiprocess']:.1f} s of {runs}"
    )
    print(f"(c) the project's default executor, one process: median {medians['default']:.1f} s of {runs}")
    print(
        "export objects byte-identical across the runs of (b) and (c), and across those of (a): "
        + ("yes" if identical else "NO")
    )
    fast = medians["default"]
    if "before" in medians:
        print(
            ratio_line(
                "one partition, before (multiprocess, checks in own steps) vs the default",
                medians["before"] / fast,
                5.0,
                detail=f"[{medians['before']:.1f} s vs {fast:.1f} s]",
            )
        )
    print(
        ratio_line(
            "one partition, multiprocess vs the default executor",
            medians["multiprocess"] / fast,
            detail=f"[{medians['multiprocess']:.1f} s vs {fast:.1f} s]",
        )
    )
    print(f"default under 15 s per partition: {'yes' if fast < 15 else 'NO'} ({fast:.1f} s)")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
