"""Our polars transforms versus the usual pandas approach, on the same year of aggregates JSON.

    .venv/bin/python bench/transforms.py           # 200 queues, 365 local days (53 weekly answers, ~2 GB JSON)
    .venv/bin/python bench/transforms.py --quick   # 10 queues, 14 days

The sandbox's query function generates the conversation-aggregates answers once, one file per 7-day query
(what the pipeline's synchronous chunks are), grouped by queue, media type and direction at PT30M in
America/New_York. Then two child processes read the same files, one chunk at a time, from the JSON bytes
(reading the file is not timed):

* polars: the pipeline's path: `flatten.parse_aggregate_answer` (the JSON read straight into Arrow
          columns) -> `kpis.interval_kpis` (full grid, exact ratios) -> `gapfill.fill_days` (every day
          observed: a copy) -> `export.export_daily_partitions` (one column per metric, local time columns);
* pandas: the usual approach: `orjson.loads` of the answer, `pandas.json_normalize` of results / data /
          metrics, `pivot_table` to one column per metric, `DataFrame.resample` of each queue x media type x
          direction on the interval to fill gaps with zeros, the same KPIs (AHT, answer, abandon and
          service-level rates). Its JSON parsing is timed apart from its transform.

The headline ratio compares the whole way from JSON bytes to tables on both sides; a second, stricter one
leaves pandas' JSON parsing out (ours stays in). Each child reports its peak RSS (`os.wait4`, this child
alone). Both paths' daily totals per queue x media type x direction x local date must be equal (asserted).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, ChildResult, ratio_line, require_ok, run_child, stop_on_sigterm

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

SCRIPT = str(Path(__file__).resolve())
TIMEZONE = "America/New_York"
CHUNK_DAYS = 7
CHANNEL_WINDOW_DAYS = 28
# Daily totals are compared per queue x media type x direction x local date.
GROUP_KEYS = ("queue_id", "media_type", "direction", "local_date")
CHANNEL = GROUP_KEYS[:3]


# ----------------------------------------------------------------------------------------- input data


def generate(folder: Path, queues: int, first: date, last: date) -> tuple[int, int]:
    """One JSON answer file per 7-day chunk, plus the queue directory; (files, bytes)."""
    import orjson

    from genesys_assets.genesys.ranges import aggregates_body
    from genesys_assets.localtime import days_bounds
    from genesys_assets.sandbox import SandboxConfig, SandboxServer
    from genesys_assets.schema import AGGREGATE_METRICS

    sandbox = SandboxServer(
        SandboxConfig(
            queue_count=queues,
            timezone=TIMEZONE,
            start_date=first - timedelta(days=7),
            end_date=last + timedelta(days=1),
        )
    )
    directory = [sandbox.org.queue_settings_json(q) for q in sandbox.org.queues]
    (folder / "queues.json").write_bytes(orjson.dumps(directory))
    files = total = 0
    start = first
    while start <= last:
        end = min(last, start + timedelta(days=CHUNK_DAYS - 1))
        window_start, window_end = days_bounds(start, end, TIMEZONE)
        body = aggregates_body(
            window_start, window_end, timezone=TIMEZONE, granularity="PT30M", metrics=AGGREGATE_METRICS
        )
        payload = orjson.dumps(sandbox.query(body))
        (folder / f"chunk-{start.isoformat()}-{end.isoformat()}.json").write_bytes(payload)
        files += 1
        total += len(payload)
        start = end + timedelta(days=1)
    return files, total


def _chunks(folder: Path) -> list[tuple[date, date, Path]]:
    found = []
    for path in sorted(folder.glob("chunk-*.json")):
        parts = path.stem.split("-")
        found.append(
            (date.fromisoformat("-".join(parts[1:4])), date.fromisoformat("-".join(parts[4:7])), path)
        )
    return found


# --------------------------------------------------------------------------------------------- polars


def polars_path(folder: Path, out: Path) -> dict[str, float]:
    import orjson
    import polars as pl

    from genesys_assets.genesys.client import parse_queue
    from genesys_assets.localtime import days_bounds
    from genesys_assets.transforms import export, gapfill, kpis
    from genesys_assets.transforms.directory import queues_frame
    from genesys_assets.transforms.flatten import parse_aggregate_answer

    queues = queues_frame([parse_queue(e) for e in orjson.loads((folder / "queues.json").read_bytes())])
    work_s = 0.0
    rows = 0
    totals = []
    now = datetime.now(UTC)
    for first, last, path in _chunks(folder):
        body = path.read_bytes()
        started = time.perf_counter()
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        window_start, window_end = days_bounds(first, last, TIMEZONE)
        raw = parse_aggregate_answer(
            body,
            window_start=window_start,
            window_end=window_end,
            interval_minutes=30,
            timezone=TIMEZONE,
            extracted_at=now,
        )
        del body
        pairs = kpis.active_pairs(raw, days, CHANNEL_WINDOW_DAYS)
        interval = kpis.interval_kpis(raw, pairs, days, TIMEZONE, 30)
        window = {day: interval.filter(pl.col("local_date") == day) for day in days}
        daily = gapfill.fill_days(
            window, days, timezone=TIMEZONE, interval_minutes=30, now=now, lookback_days=7
        )
        exported = export.export_daily_partitions(
            {day.isoformat(): frame for day, frame in daily.items()}, queues, TIMEZONE
        )
        table = pl.concat(list(exported.values()))
        totals.append(table.group_by(*GROUP_KEYS).agg(pl.col(m).sum() for m in MEASURES))
        rows += table.height
        work_s += time.perf_counter() - started
    pl.concat(totals).write_parquet(out)
    return {"parse_s": 0.0, "transform_s": work_s, "interval_rows": rows}


# --------------------------------------------------------------------------------------------- pandas

# The pandas approach's measure names, each read from one metric's statistic.
PANDAS_SOURCES = {
    "offered": ("nOffered", "count"),
    "answered": ("tAnswered", "count"),
    "abandoned": ("tAbandon", "count"),
    "handle_count": ("tHandle", "count"),
    "handle_sum_ms": ("tHandle", "sum"),
    "talk_sum_ms": ("tTalkComplete", "sum"),
    "hold_sum_ms": ("tHeldComplete", "sum"),
    "acw_sum_ms": ("tAcw", "sum"),
    "wait_sum_ms": ("tWait", "sum"),
    "sl_numerator": ("oServiceLevel", "numerator"),
    "sl_denominator": ("oServiceLevel", "denominator"),
}
# The measures both paths produce and whose daily totals must agree.
MEASURES = tuple(PANDAS_SOURCES)


def pandas_chunk(results: list[dict[str, Any]], timezone: str) -> pd.DataFrame:
    """The pandas approach's transform of one aggregates answer: a per-interval table with the KPIs."""
    import numpy as np
    import pandas as pd

    # 1. json_normalize: one row per bucket with its group, then one row per metric with its stats.
    buckets = pd.json_normalize(
        results,
        record_path="data",
        meta=[["group", "queueId"], ["group", "mediaType"], ["group", "direction"]],
        errors="ignore",
    )
    buckets = buckets.rename(
        columns={"group.queueId": "queue_id", "group.mediaType": "media_type", "group.direction": "direction"}
    )
    buckets = buckets.dropna(subset=list(CHANNEL))
    exploded = buckets.explode("metrics", ignore_index=True)
    metrics = pd.json_normalize(exploded["metrics"].tolist())
    long = pd.concat([exploded[[*CHANNEL, "interval"]], metrics], axis=1)
    long["interval_start"] = pd.to_datetime(long["interval"].str.split("/").str[0], utc=True)

    # 2. pivot_table: one column per metric and statistic.
    values = [c for c in ("stats.count", "stats.sum", "stats.numerator", "stats.denominator") if c in long]
    wide = long.pivot_table(
        index=[*CHANNEL, "interval_start"],
        columns="metric",
        values=values,
        aggfunc="sum",
        fill_value=0,
    )
    wide.columns = [f"{metric}.{stat.split('.')[1]}" for stat, metric in wide.columns]

    # 3. resample each queue x media type x direction on the interval: missing intervals become zero rows.
    wide = (
        wide.reset_index(level=list(CHANNEL)).groupby(list(CHANNEL)).resample("30min").sum(numeric_only=True)
    )

    # 4. KPIs from the measures; a zero denominator gives NaN.
    table = pd.DataFrame(index=wide.index)
    for name, (metric, stat) in PANDAS_SOURCES.items():
        column = f"{metric}.{stat}"
        table[name] = wide[column].astype("int64") if column in wide else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        table["aht_s"] = (table["handle_sum_ms"] / table["handle_count"] / 1000).replace(np.inf, np.nan)
        table["answer_rate"] = (table["answered"] / table["offered"]).replace(np.inf, np.nan)
        table["abandon_rate"] = (table["abandoned"] / table["offered"]).replace(np.inf, np.nan)
        table["service_level"] = (table["sl_numerator"] / table["sl_denominator"]).replace(np.inf, np.nan)
    table = table.reset_index()
    table["local_date"] = table["interval_start"].dt.tz_convert(timezone).dt.date
    table["local_time"] = table["interval_start"].dt.tz_convert(timezone).dt.strftime("%H:%M")
    return table


def pandas_path(folder: Path, out: Path) -> dict[str, float]:
    import orjson
    import pandas as pd

    parse_s = work_s = 0.0
    rows = 0
    totals = []
    for _first, _last, path in _chunks(folder):
        body = path.read_bytes()
        started = time.perf_counter()
        results = orjson.loads(body).get("results") or []
        del body
        parsed = time.perf_counter()
        table = pandas_chunk(results, TIMEZONE)
        del results
        totals.append(table.groupby(list(GROUP_KEYS), as_index=False)[list(MEASURES)].sum())
        rows += len(table)
        finished = time.perf_counter()
        parse_s += parsed - started
        work_s += finished - parsed
    pd.concat(totals, ignore_index=True).to_parquet(out)
    return {"parse_s": parse_s, "transform_s": work_s, "interval_rows": rows}


def child(args: argparse.Namespace) -> int:
    import json

    # Libraries are loaded before the clock starts, on both paths. polars loads pandas (installed here for
    # this benchmark) on its first Arrow conversion, so the polars path imports it up front too.
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.compute
    import pyarrow.json  # noqa: F401

    folder, out = Path(args.folder), Path(args.out)
    report = polars_path(folder, out) if args.engine == "polars" else pandas_path(folder, out)
    print(json.dumps(report), flush=True)
    return 0


# --------------------------------------------------------------------------------------------- parent


def _daily_totals(path: Path) -> pl.DataFrame:
    import polars as pl

    frame = pl.read_parquet(path)
    frame = frame.with_columns(
        pl.col("local_date").cast(pl.Date), *[pl.col(m).cast(pl.Int64) for m in MEASURES]
    )
    busy = pl.any_horizontal(pl.col(m) != 0 for m in MEASURES)
    return frame.filter(busy).sort(*GROUP_KEYS).select(*GROUP_KEYS, *MEASURES)


def parent(args: argparse.Namespace) -> int:
    today = datetime.now(UTC).astimezone(ZoneInfo(TIMEZONE)).date()
    last = today - timedelta(days=2)
    first = last - timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory(prefix="genesys-bench-transforms-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        files, size = generate(folder, args.queues, first, last)
        print(
            f"transforms bench: {args.queues} queues, {args.days} local days {first}..{last} ({TIMEZONE}, PT30M): "
            f"{files} answers of <= {CHUNK_DAYS} days, {size / 1e6:.0f} MB of JSON, generated in "
            f"{time.perf_counter() - started:.0f} s by the sandbox's query function",
            flush=True,
        )
        results: dict[str, ChildResult] = {}
        for engine in ("polars", "pandas"):
            out = folder / f"totals-{engine}.parquet"
            command = [
                PYTHON,
                SCRIPT,
                "child",
                "--engine",
                engine,
                "--folder",
                str(folder),
                "--out",
                str(out),
            ]
            results[engine] = require_ok(run_child(command), f"the {engine} path")
        polars_totals = _daily_totals(folder / "totals-polars.parquet")
        pandas_totals = _daily_totals(folder / "totals-pandas.parquet")
        assert polars_totals.height > 0
        assert polars_totals.equals(pandas_totals), "the two paths' daily totals differ"

    reports = {engine: result.last_json() for engine, result in results.items()}
    polars_s = reports["polars"]["transform_s"]
    pandas_parse_s, pandas_work_s = reports["pandas"]["parse_s"], reports["pandas"]["transform_s"]
    print()
    print(
        f"polars: {polars_s:.2f} s from JSON bytes to tables (reading the JSON included) for "
        f"{reports['polars']['interval_rows']} interval rows; peak RSS {results['polars'].peak_rss_mb:.0f} MB"
    )
    print(
        f"pandas: {pandas_parse_s + pandas_work_s:.2f} s = orjson.loads {pandas_parse_s:.2f} s + transform "
        f"{pandas_work_s:.2f} s for {reports['pandas']['interval_rows']} interval rows; "
        f"peak RSS {results['pandas'].peak_rss_mb:.0f} MB"
    )
    print(
        f"daily totals equal on both paths: yes ({polars_totals.height} queue x media x direction x day rows with activity)"
    )
    print()
    print(
        ratio_line(
            "JSON bytes to tables, polars vs pandas json_normalize",
            (pandas_parse_s + pandas_work_s) / polars_s,
            None if args.quick else 10.0,  # the targets are for the year
            detail=f"[{polars_s:.2f} s vs {pandas_parse_s + pandas_work_s:.2f} s]",
        )
    )
    print(
        ratio_line(
            "the same, pandas' JSON parsing left out (ours kept)",
            pandas_work_s / polars_s,
            detail=f"[{polars_s:.2f} s vs {pandas_work_s:.2f} s]",
        )
    )
    print(
        ratio_line(
            "peak RSS, pandas vs polars (whole process)",
            results["pandas"].peak_rss_mb / results["polars"].peak_rss_mb,
            None if args.quick else 1.0,
            detail=f"[{results['pandas'].peak_rss_mb:.0f} MB vs {results['polars'].peak_rss_mb:.0f} MB]",
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode")
    c = sub.add_parser("child", help="internal: run one path over the generated files")
    c.add_argument("--engine", choices=("polars", "pandas"), required=True)
    c.add_argument("--folder", required=True)
    c.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true", help="small smoke run: 10 queues, 14 days")
    parser.add_argument("--queues", type=int, default=None)
    parser.add_argument("--days", type=int, default=None)
    args = parser.parse_args(argv)
    if args.mode == "child":
        return child(args)
    defaults = (10, 14) if args.quick else (200, 365)
    args.queues = args.queues or defaults[0]
    args.days = args.days or defaults[1]
    stop_on_sigterm()
    return parent(args)


if __name__ == "__main__":
    raise SystemExit(main())
