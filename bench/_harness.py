"""Helpers shared by the benchmarks: servers in their own processes, child runs with their peak RSS, output.

Every server listens on 127.0.0.1 only. The sandbox Genesys org and the moto S3 run as subprocesses, so
their CPU time and memory are not counted as the pipeline's; children are measured with `os.wait4`, which
reports the peak resident set size of that one child.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SANDBOX_CLIENT_ID = "bench-client"
SANDBOX_CLIENT_SECRET = "bench-secret-not-real"  # the sandbox's own credential, valid nowhere else
START_TIMEOUT_S = 60.0


def unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _wait_until_reachable(url: str, process: subprocess.Popen[Any], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before it answered on {url}.")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer on {url} within {START_TIMEOUT_S:g} s.")


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class SandboxProcess:
    """The sandbox Genesys org (`python -m genesys_assets.sandbox`) in its own process."""

    process: subprocess.Popen[Any]
    url: str

    @property
    def client_id(self) -> str:
        return SANDBOX_CLIENT_ID

    @property
    def client_secret(self) -> str:
        return SANDBOX_CLIENT_SECRET

    def _admin(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data else {},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def stats(self) -> dict[str, Any]:
        return self._admin("GET", "/sandbox/stats")

    def reset_stats(self) -> None:
        self._admin("DELETE", "/sandbox/stats")

    def update(self, **knobs: Any) -> dict[str, Any]:
        return self._admin("POST", "/sandbox/config", knobs)

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the sandbox process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self) -> None:
        _stop(self.process)


@contextlib.contextmanager
def sandbox_process(
    *,
    queues: int,
    timezone: str,
    start: date,
    end: date,
    rps: float | None = None,
    burst: int = 10,
    options: Sequence[str] = (),
) -> Iterator[SandboxProcess]:
    """Start the sandbox CLI on a free port of 127.0.0.1 (``options``: more CLI flags) and stop it afterwards."""
    port = unused_port()
    command = [
        PYTHON,
        "-m",
        "genesys_assets.sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--queues",
        str(queues),
        "--timezone",
        timezone,
        "--start",
        start.isoformat(),
        "--end",
        end.isoformat(),
        "--client-id",
        SANDBOX_CLIENT_ID,
        "--client-secret",
        SANDBOX_CLIENT_SECRET,
        "--burst",
        str(burst),
    ]
    if rps is not None:
        command += ["--rps", str(rps)]
    command += options
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env()
    )
    sandbox = SandboxProcess(process, f"http://127.0.0.1:{port}")
    try:
        _wait_until_reachable(f"{sandbox.url}/sandbox/health", process, "the sandbox")
        yield sandbox
    finally:
        sandbox.stop()


@contextlib.contextmanager
def moto_s3_process() -> Iterator[str]:
    """A moto S3 server on a free port of 127.0.0.1 in its own process; yields the endpoint URL."""
    port = unused_port()
    process = subprocess.Popen(
        [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=child_env(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_reachable(f"{url}/moto-api/", process, "the moto S3 server")
        yield url
    finally:
        _stop(process)


def s3_client(endpoint_url: str) -> Any:
    """A boto3 S3 client for the local moto server (moto accepts any key; these are not credentials)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def child_env(extra: Mapping[str, str] | None = None, code: Path = REPO) -> dict[str, str]:
    """The environment of a child process: this one's, with `code` (a checkout of the project) first on the
    import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(code) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONWARNINGS", "ignore")
    env.update(extra or {})
    return env


@dataclass
class ChildResult:
    """A finished child process: wall time, peak RSS (of that child alone), CPU time, its stdout."""

    wall_s: float
    peak_rss_mb: float
    cpu_s: float
    returncode: int
    stdout: str
    stderr: str

    def last_json(self) -> dict[str, Any]:
        """The last stdout line that is a JSON object (how worker modes report their figures)."""
        for line in reversed(self.stdout.splitlines()):
            line = line.strip()
            if line.startswith("{") and line.endswith("}"):
                return json.loads(line)
        raise RuntimeError(
            f"the child printed no JSON result (exit {self.returncode}); stderr tail:\n{self.stderr[-3000:]}"
        )


def run_child(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 3600.0,
    cwd: Path = REPO,
    code: Path = REPO,
) -> ChildResult:
    """Run a command to completion; its wall time, its own peak RSS and CPU time (os.wait4), its output.
    `code` is the checkout of the project the child imports (another one compares code side by side)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(list(command), cwd=cwd, stdout=out, stderr=err, env=child_env(env, code))
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid == process.pid:
                    break
                if time.monotonic() > deadline:
                    process.kill()
                    pid, status, usage = os.wait4(process.pid, 0)
                    break
                time.sleep(0.01)
        except BaseException:  # interrupted (SIGTERM, Ctrl+C): do not leave the child running
            process.kill()
            process.wait(timeout=30)
            raise
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildResult(
            wall_s=wall,
            peak_rss_mb=usage.ru_maxrss / 1024,
            cpu_s=usage.ru_utime + usage.ru_stime,
            returncode=process.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def require_ok(result: ChildResult, what: str) -> ChildResult:
    if result.returncode != 0:
        raise SystemExit(
            f"{what} failed with exit code {result.returncode}.\n--- stderr (tail) ---\n{result.stderr[-4000:]}"
        )
    return result


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so the servers and children a benchmark started are stopped."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def ratio_line(
    name: str, ratio: float, target: float | None = None, *, at_most: float | None = None, detail: str = ""
) -> str:
    """The one line per measured ratio that the smoke test looks for: `RATIO <name>: <x>x ...`.

    ``target`` is a lower bound the ratio should reach, ``at_most`` an upper bound it should stay within.
    """
    verdict = ""
    if target is not None:
        verdict = f" (target >= {target:g}x: {'met' if ratio >= target else 'NOT met'})"
    if at_most is not None:
        verdict = f" (target <= {at_most:g}x: {'met' if ratio <= at_most else 'NOT met'})"
    return f"RATIO {name}: {ratio:.2f}x{verdict}{' ' + detail if detail else ''}"


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
