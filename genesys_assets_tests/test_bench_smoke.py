"""The benchmarks in bench/ run end to end in their --quick mode and print their measured ratios.

The five scripts run at once as child processes (each starts its own sandbox, S3 and Dagster runs on
127.0.0.1 and temporary folders), so the whole check takes about as long as the slowest one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEADLINE_S = 240

# Script -> ratio names it must print, and a line proving its comparison was checked on equal output.
EXPECTED = {
    "backfill.py": (
        [
            "single-run backfill vs one run per partition",
            "peak RSS, 5-day run vs 5-day run",
            "API data calls, one run per partition vs single run",
        ],
        "byte-identical to (a): yes",
    ),
    "transforms.py": (
        ["JSON bytes to tables, polars vs pandas json_normalize"],
        "daily totals equal on both paths: yes",
    ),
    "ratelimit.py": (["achieved steady rate / R with 4 process(es)"], "steady-state 429s: client"),
    "startup.py": (["SDK import vs our definitions import"], "of our definitions import)"),
    "one_partition.py": (
        ["one partition, multiprocess vs the default executor"],
        "byte-identical across the runs of (b) and (c), and across those of (a): yes",
    ),
}
RATIO = re.compile(r"^RATIO (?P<name>[^:]+): (?P<value>[0-9.]+)x", re.MULTILINE)


@pytest.mark.e2e
def test_every_benchmark_runs_quick_and_prints_its_ratios(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GENESYS_", "DAGSTER_", "AWS_", "EXPORT_"))
    }
    env["TMPDIR"] = str(tmp_path)
    processes = {}
    for script in EXPECTED:
        out = (tmp_path / f"{script}.out").open("w")
        processes[script] = (
            subprocess.Popen(
                [sys.executable, str(REPO / "bench" / script), "--quick"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            ),
            out,
        )
    deadline = time.monotonic() + DEADLINE_S
    try:
        for process, out in processes.values():
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
            out.close()
    finally:
        for process, out in processes.values():
            if process.poll() is None:  # over the deadline: SIGTERM lets the script stop its servers
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            out.close()

    for script, (ratio_names, proof) in EXPECTED.items():
        output = (tmp_path / f"{script}.out").read_text()
        process = processes[script][0]
        assert process.returncode == 0, (
            f"bench/{script} --quick exited {process.returncode}:\n{output[-3000:]}"
        )
        ratios = {m["name"].split(" [")[0]: float(m["value"]) for m in RATIO.finditer(output)}
        for name in ratio_names:
            matching = [value for key, value in ratios.items() if key.startswith(name)]
            assert matching, f"bench/{script} printed no ratio line for {name!r}:\n{output[-3000:]}"
            assert all(value > 0 for value in matching), f"bench/{script}: ratio {name!r} is not positive"
        assert proof in output, f"bench/{script} did not print {proof!r}:\n{output[-3000:]}"
