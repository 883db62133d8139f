"""A token bucket per Genesys OAuth client, shared by every process on the machine.

Genesys limits each client-credentials token (300 requests per minute by default), and a backfill runs
several Dagster processes with the same OAuth client at once, so the bucket cannot live in one process.
The policy is pyrate-limiter's ``TokenBucket`` (GCRA: ``rate`` tokens per second, at most ``burst`` at
once) driven by its ``Limiter``, which blocks until a token is free. The bucket's state is two numbers
per OAuth client; ``SQLiteStateStore`` keeps it in a SQLite file and applies each step inside an
``IMMEDIATE`` transaction, so the read-modify-write is atomic across processes. Timestamps are wall-clock
milliseconds, comparable between processes.

The bucket key is a hash of the login host and the client id, never the secret: two pipelines with the
same OAuth client share one bucket, different clients or regions do not.
"""

from __future__ import annotations

import hashlib
import math
import random
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from pyrate_limiter import (
    GCRA,
    Decision,
    Limiter,
    Rate,
    RateItem,
    SingleBucketFactory,
    StateBucket,
    TokenBucket,
    WallClock,
)
from pyrate_limiter.abstracts.algorithm import State, StateAlgorithm
from pyrate_limiter.abstracts.store import StateStore

from genesys_assets.genesys.errors import RateLimitStoreError

DB_FILE_NAME = "genesys_rate_limit.sqlite3"
# Rates are expressed per 1000 s so fractional requests-per-second stay exact integers.
_RATE_INTERVAL_MS = 1_000_000


def bucket_key(login_host: str, client_id: str) -> str:
    """Stable, secret-free key of one OAuth client in one region."""
    digest = hashlib.sha256(f"{login_host.lower()}\n{client_id}".encode()).hexdigest()
    return f"genesys-{digest[:24]}"


def token_bucket_rate(requests_per_second: float, burst: int) -> Rate:
    """The pyrate-limiter rate of a token bucket refilling ``requests_per_second`` up to ``burst``."""
    limit = max(1, round(requests_per_second * _RATE_INTERVAL_MS / 1000))
    return Rate(limit, _RATE_INTERVAL_MS, burst=max(1, int(burst)))


class SQLiteStateStore(StateStore):
    """pyrate-limiter state store for constant-state algorithms, persisted in a SQLite file.

    One row per key. ``check`` reads, steps and writes the state in one ``BEGIN IMMEDIATE`` transaction,
    which SQLite serialises between processes (waiting up to ``busy_timeout_s`` for the write lock).
    A state further in the future than a full bucket (after the wall clock stepped back, or a rate change)
    is clamped to "bucket empty now", so a process can never block longer than ``burst / rate``.
    """

    is_async = False
    default_clock = WallClock()

    def __init__(self, path: Path, key: str, *, busy_timeout_s: float = 60.0) -> None:
        self.path = path
        self.key = key
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        deadline = time.monotonic() + busy_timeout_s
        while True:
            try:
                self._conn = self._open(path, busy_timeout_s)
                return
            except sqlite3.OperationalError as exc:
                # Processes opening a new file at once race to switch it to WAL; SQLite reports "locked"
                # without waiting for that, so retry briefly.
                if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                    raise self._unusable(exc) from None
                time.sleep(random.uniform(0.01, 0.05))
            except (OSError, sqlite3.Error) as exc:
                raise self._unusable(exc) from None

    @staticmethod
    def _open(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS token_bucket "
                "(key TEXT PRIMARY KEY, state TEXT NOT NULL, updated_ms INTEGER NOT NULL)"
            )
        except BaseException:
            conn.close()
            raise
        return conn

    def _unusable(self, exc: BaseException) -> RateLimitStoreError:
        return RateLimitStoreError(
            f"Cannot open the shared rate-limit file {self.path} ({exc}). Set GENESYS_RATE_LIMIT_DIR "
            "(or the resource's rate_limit_dir) to a writable directory that every run can see."
        )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RateLimitStoreError(f"The rate-limit store {self.path} is closed; create a new client.")
        return self._conn

    def _load(self, conn: sqlite3.Connection, algorithm: StateAlgorithm, rates: list[Rate]) -> State:
        row = conn.execute("SELECT state FROM token_bucket WHERE key = ?", (self.key,)).fetchone()
        if row is None:
            return algorithm.initial(rates)
        values = [value for value in row[0].split(",") if value]
        if len(values) != len(rates):
            return algorithm.initial(rates)
        try:
            return algorithm.decode(values)
        except ValueError:
            return algorithm.initial(rates)

    @staticmethod
    def _clamp(algorithm: StateAlgorithm, rates: Sequence[Rate], state: State, now: int) -> State:
        if not isinstance(algorithm, GCRA):
            return state
        now_us = now * 1000
        clamped = []
        for rate, tat in zip(rates, state, strict=True):
            ceiling = now_us + rate.burst * GCRA._emission_us(rate)
            clamped.append(min(int(tat), ceiling))
        return tuple(clamped)

    def check(self, algorithm: StateAlgorithm, rates: list[Rate], now: int, weight: int) -> Decision:
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    state = self._clamp(algorithm, rates, self._load(conn, algorithm, rates), now)
                    new_state, decision = algorithm.step(rates, state, now, weight)
                    if decision.allowed:
                        conn.execute(
                            "INSERT INTO token_bucket (key, state, updated_ms) VALUES (?, ?, ?) "
                            "ON CONFLICT(key) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms",
                            (self.key, ",".join(str(int(v)) for v in new_state), now),
                        )
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise RateLimitStoreError(
                    f"The shared rate-limit file {self.path} failed ({exc}). Check that its directory is "
                    "writable and on a local disk, or point GENESYS_RATE_LIMIT_DIR elsewhere."
                ) from None
            return decision

    def read(self, algorithm: StateAlgorithm, rates: list[Rate]) -> State:
        with self._lock:
            return self._load(self._connection(), algorithm, rates)

    def reset(self) -> None:
        with self._lock:
            self._connection().execute("DELETE FROM token_bucket WHERE key = ?", (self.key,))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class SharedRateLimiter:
    """Blocking token-bucket limiter for one OAuth client, shared across processes through a file.

    ``acquire()`` returns once a token is spent, sleeping as long as needed (never failing because the
    bucket is empty). ``waited_s`` totals the time spent waiting, for run metadata.
    """

    def __init__(
        self,
        key: str,
        requests_per_second: float,
        burst: int,
        directory: Path,
    ) -> None:
        self.key = key
        self.requests_per_second = requests_per_second
        self.burst = burst
        self.path = directory / DB_FILE_NAME
        self._store = SQLiteStateStore(self.path, key)
        self._bucket = StateBucket(
            [token_bucket_rate(requests_per_second, burst)],
            algorithm=TokenBucket(),
            store=self._store,
            clock=WallClock(),
        )
        # No background leaker: a state bucket has nothing to leak.
        self._limiter = Limiter(SingleBucketFactory(self._bucket, schedule_leak=False))
        self._max_wait_ms = max(1, math.ceil(1000 * max(1, int(burst)) / requests_per_second))
        self.waited_s = 0.0

    def acquire(self) -> None:
        """Spend one token, blocking until one is available.

        Each attempt is a non-blocking acquire at the current wall-clock time; after a refusal the caller
        sleeps for the bucket's computed wait plus a few milliseconds of jitter. (pyrate-limiter's own
        blocking loop advances a stale timestamp between attempts, which lets a process that just spent a
        token win every race against one that has been waiting: fair sharing needs a fresh clock.)
        """
        started = time.monotonic()
        while not self._limiter.try_acquire(self.key, weight=1, blocking=False):
            wait_ms = self._bucket.waiting(RateItem(self.key, self._bucket.now(), 1))
            if not isinstance(wait_ms, int) or wait_ms < 0:
                raise RateLimitStoreError(
                    f"The rate limiter for {self.path} can never admit a request; check that burst >= 1."
                )
            time.sleep(min(wait_ms, self._max_wait_ms) / 1000 + random.uniform(0.001, 0.006))
        self.waited_s += time.monotonic() - started

    def close(self) -> None:
        self._limiter.close()

    def __repr__(self) -> str:
        return (
            f"SharedRateLimiter(key={self.key!r}, requests_per_second={self.requests_per_second}, "
            f"burst={self.burst}, path={str(self.path)!r})"
        )
