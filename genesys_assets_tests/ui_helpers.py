"""Helpers for tests that run Dagster's services as processes and talk to them like a user or a script.

* :class:`ServiceProcess`: a command started in its own process group with its output in a log file;
  ``stop()`` ends the whole group (the webserver, daemon and code server spawn children of their own).
* :func:`wait_until`: a bounded poll.
* :func:`wait_http`: a bounded wait for a URL to answer 200, failing early when the process died.
* :func:`graphql`: one query or mutation against a webserver's ``/graphql``.
* :func:`free_port`: a TCP port on 127.0.0.1 that nothing listens on.
* :func:`max_overlap`: the most (start, end) intervals open at one instant, e.g. runs or steps at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

from genesys_assets_tests.s3_fixtures import unused_port

__all__ = ["ServiceProcess", "free_port", "graphql", "max_overlap", "wait_http", "wait_until"]

T = TypeVar("T")

free_port = unused_port


def _new_session_with_default_signals() -> None:
    """In the child before exec: its own process group, and SIGINT/SIGTERM acting as in a terminal.

    A parent started in the background may ignore SIGINT, and Python keeps an inherited "ignore", so the
    service would not react to the Ctrl+C that `stop()` sends.
    """
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class ServiceProcess:
    """One long-running command (webserver, daemon, code server, demo) in its own process group."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            list(args),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            preexec_fn=_new_session_with_default_signals,
        )

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 40) -> str:
        """The last lines of the process output, for failure messages."""
        self._log.flush()
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_output(self, text: str, *, timeout: float) -> None:
        """Wait until the process has printed `text` (e.g. its own "started" line)."""

        def printed() -> bool:
            self._log.flush()
            return text in self.log_path.read_text(errors="replace")

        wait_until(
            printed, timeout=timeout, interval=0.5, what=f"{self.name} to print {text!r}", alive=[self]
        )

    def stop(self, timeout: float = 20.0, sig: signal.Signals = signal.SIGTERM) -> None:
        """`sig` to the process group, SIGKILL to whatever is left after `timeout` seconds."""
        try:
            if self.running:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=timeout)
            # Children (run workers, code servers) may outlive the leader; the group id is the leader's pid.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        finally:
            self._log.close()


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.5,
    what: str,
    alive: Sequence[ServiceProcess] = (),
) -> T:
    """Call `probe` until it returns something truthy; fail after `timeout` seconds or when a process died."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        for service in alive:
            if not service.running:
                raise AssertionError(
                    f"{service.name} exited ({service.process.returncode}) while waiting for {what}:\n"
                    f"{service.tail()}"
                )
        if time.monotonic() > deadline:
            details = "\n".join(f"--- {s.name} ---\n{s.tail()}" for s in alive)
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{details}")
        time.sleep(interval)


def wait_http(url: str, *, timeout: float, service: ServiceProcess | None = None) -> None:
    """Wait until GET `url` answers 200."""

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(probe, timeout=timeout, interval=1.0, what=url, alive=[service] if service else [])


def graphql(base_url: str, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `data` of one GraphQL request to `base_url`/graphql; raises on transport or GraphQL errors."""
    response = httpx.post(
        f"{base_url}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=60
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise AssertionError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def max_overlap(intervals: Sequence[tuple[Any, Any]]) -> int:
    """Most intervals open at one instant (an interval ending when another starts does not overlap it)."""
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    current = peak = 0
    for _, step in points:
        current += step
        peak = max(peak, current)
    return peak
