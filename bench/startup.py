"""Start-up cost of a run process: our code location versus importing the official Genesys SDK.

    .venv/bin/python bench/startup.py           # 5 fresh processes per case, median
    .venv/bin/python bench/startup.py --quick   # 1 process per case

Every Dagster run (and, with the multiprocess executor, every step) is a fresh Python process that imports
the code location, so import time is paid per run. Each case runs in a fresh child process:

* python:      the interpreter alone (`pass`), the floor of every case;
* dagster:     `import dagster`;
* definitions: `import genesys_assets.definitions`, then loading it (`defs.get_repository_def()` and
               `Definitions.validate_loadable`, what `dagster definitions validate` does);
* sdk:         `import PureCloudPlatformClientV2`, the official SDK (a dev dependency, not used at run time).

Printed: median wall time of each child process, the time spent in the import itself, its peak RSS, and
the ratios of the SDK import to our code location's import and load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, median, ratio_line, require_ok, run_child, stop_on_sigterm

SCRIPT = str(Path(__file__).resolve())
CASES = ("python", "dagster", "definitions", "sdk")


def child(case: str) -> int:
    started = time.perf_counter()
    import_s = load_s = 0.0
    if case == "dagster":
        import dagster  # noqa: F401

        import_s = time.perf_counter() - started
    elif case == "definitions":
        import warnings

        warnings.filterwarnings("ignore")
        from genesys_assets.definitions import defs

        import_s = time.perf_counter() - started
        import dagster as dg

        loading = time.perf_counter()
        defs.get_repository_def()
        dg.Definitions.validate_loadable(defs)
        load_s = time.perf_counter() - loading
    elif case == "sdk":
        import PureCloudPlatformClientV2  # noqa: F401

        import_s = time.perf_counter() - started
    print(json.dumps({"import_s": import_s, "load_s": load_s}), flush=True)
    return 0


def parent(args: argparse.Namespace) -> int:
    print(
        f"startup bench: {args.repeats} fresh process(es) per case, median; the machine's other load affects "
        "all cases alike (they alternate)",
        flush=True,
    )
    env = {"GENESYS_TIMEZONE": "America/New_York", "GENESYS_START_DATE": "2026-01-01"}
    samples: dict[str, list[tuple[float, float, float, float]]] = {case: [] for case in CASES}
    for _ in range(args.repeats):
        for case in CASES:  # alternate the cases so background load is shared fairly
            result = require_ok(run_child([PYTHON, SCRIPT, "child", case], env=env), f"the {case} case")
            report = result.last_json()
            samples[case].append((result.wall_s, report["import_s"], report["load_s"], result.peak_rss_mb))
    figures = {
        case: {
            "wall_s": median([s[0] for s in rows]),
            "import_s": median([s[1] for s in rows]),
            "load_s": median([s[2] for s in rows]),
            "rss_mb": median([s[3] for s in rows]),
        }
        for case, rows in samples.items()
    }
    print()
    print("case          process wall   import   load    peak RSS")
    for case in CASES:
        f = figures[case]
        print(
            f"{case:12}  {f['wall_s']:>10.2f} s  {f['import_s']:>5.2f} s  {f['load_s']:>4.2f} s  {f['rss_mb']:>6.0f} MB"
        )
    ours, sdk = figures["definitions"], figures["sdk"]
    print()
    print(
        ratio_line(
            "SDK import vs our definitions import",
            sdk["import_s"] / ours["import_s"],
            detail=f"[{sdk['import_s']:.2f} s vs {ours['import_s']:.2f} s]",
        )
    )
    print(
        ratio_line(
            "SDK import vs our definitions import + load",
            sdk["import_s"] / (ours["import_s"] + ours["load_s"]),
            detail=f"[{sdk['import_s']:.2f} s vs {ours['import_s'] + ours['load_s']:.2f} s]",
        )
    )
    print(
        ratio_line(
            "process wall time, SDK import vs our definitions import + load",
            sdk["wall_s"] / ours["wall_s"],
            detail=f"[{sdk['wall_s']:.2f} s vs {ours['wall_s']:.2f} s]",
        )
    )
    print(
        ratio_line(
            "peak RSS, SDK process vs our definitions process",
            sdk["rss_mb"] / ours["rss_mb"],
            detail=f"[{sdk['rss_mb']:.0f} MB vs {ours['rss_mb']:.0f} MB]",
        )
    )
    dagster_share = figures["dagster"]["import_s"] / ours["import_s"]
    print(f"(importing dagster itself is {dagster_share:.0%} of our definitions import)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode")
    c = sub.add_parser("child", help="internal: one case in this process")
    c.add_argument("case", choices=CASES)
    parser.add_argument("--quick", action="store_true", help="one process per case")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    if args.mode == "child":
        return child(args.case)
    args.repeats = args.repeats or (1 if args.quick else 5)
    stop_on_sigterm()
    return parent(args)


if __name__ == "__main__":
    raise SystemExit(main())
