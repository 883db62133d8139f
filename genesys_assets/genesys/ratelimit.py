"""A token bucket per Genesys OAuth client, shared by every process on a machine or in a deployment.

Genesys limits each client-credentials token (300 requests per minute by default), and a backfill runs
several Dagster processes with the same OAuth client at once, so the bucket cannot live in one process.
The policy is pyrate-limiter's ``TokenBucket`` (GCRA: ``rate`` tokens per second, at most ``burst`` at
once) driven by its ``Limiter``, which blocks until a token is free. The bucket's state is two numbers
per OAuth client, kept by one of two stores:

* ``SQLiteStateStore`` (the default): a SQLite file under ``GENESYS_RATE_LIMIT_DIR``, each step inside an
  ``IMMEDIATE`` transaction, so the read-modify-write is atomic across the processes of one machine.
  Timestamps are wall-clock milliseconds. SQLite's WAL cannot be shared over NFS/EFS, so this is one machine.
* ``PostgresStateStore`` (``GENESYS_RATE_LIMIT_URL=postgresql://...``): a row in a PostgreSQL table that
  every pod reaches, each step inside one transaction holding the row lock (``SELECT ... FOR UPDATE``), with
  the database's clock as the only clock, so pods with skewed clocks still share one budget.

Why a project store over psycopg2 rather than pyrate-limiter's ``PostgresBucket``: that bucket is a
sliding-window log (one row per request, trimmed by a background leaker thread, needing psycopg 3 and
``psycopg_pool``), which would make the deployment's policy differ from the single-machine one (no burst,
a different admission rule) and takes a table-wide ``EXCLUSIVE`` lock per request. The store keeps the
library's ``TokenBucket`` algorithm, unchanged, and only persists its two numbers, as pyrate-limiter's own
``RedisStateStore`` does; psycopg2 is already a dependency of ``dagster-postgres``. A holder that dies
mid-step leaks nothing: its transaction rolls back when its connection closes, and a holder that hangs is
ended by ``idle_in_transaction_session_timeout``. A database that cannot be reached raises
`RateLimitStoreError` naming ``GENESYS_RATE_LIMIT_URL``: no request is sent without a token.

The bucket key is a hash of the login host and the client id, never the secret: two pipelines with the
same OAuth client share one bucket, different clients or regions do not.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import random
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
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
PG_TABLE = "genesys_rate_limit"
URL_SCHEMES = ("postgresql", "postgres")
URL_SETTING = "GENESYS_RATE_LIMIT_URL"
# A holder stalled inside its step (a frozen pod, a lost network) loses its row lock after this long.
_PG_HOLD_TIMEOUT_MS = 5_000
# Rates are expressed per 1000 s so fractional requests-per-second stay exact integers.
_RATE_INTERVAL_MS = 1_000_000


def bucket_key(login_host: str, client_id: str) -> str:
    """Stable, secret-free key of one OAuth client in one region."""
    digest = hashlib.sha256(f"{login_host.lower()}\n{client_id}".encode()).hexdigest()
    return f"genesys-{digest[:24]}"


def masked_url(url: str) -> str:
    """The database URL with its password (if any) replaced by ``***``, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
    except ValueError:
        return "(a URL that cannot be parsed)"


def url_problem(url: str) -> str | None:
    """What is wrong with a rate-limit database URL, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises on a port that is not a number
    except ValueError:
        return "is not a URL; use postgresql://USER@HOST:5432/DB"
    if parts.scheme not in URL_SCHEMES:
        return "must be a postgresql:// URL (postgresql://USER@HOST:5432/DB)"
    if not parts.hostname:
        return "names no host; use postgresql://USER@HOST:5432/DB"
    return None


def token_bucket_rate(requests_per_second: float, burst: int) -> Rate:
    """The pyrate-limiter rate of a token bucket refilling ``requests_per_second`` up to ``burst``."""
    limit = max(1, round(requests_per_second * _RATE_INTERVAL_MS / 1000))
    return Rate(limit, _RATE_INTERVAL_MS, burst=max(1, int(burst)))


def _clamp(algorithm: StateAlgorithm, rates: Sequence[Rate], state: State, now: int) -> State:
    """A state further in the future than a full bucket (a clock stepped back, a rate change) becomes
    "bucket empty now", so nobody can block longer than ``burst / rate``."""
    if not isinstance(algorithm, GCRA):
        return state
    now_us = now * 1000
    clamped = []
    for rate, tat in zip(rates, state, strict=True):
        ceiling = now_us + rate.burst * GCRA._emission_us(rate)
        clamped.append(min(int(tat), ceiling))
    return tuple(clamped)


def _decode(algorithm: StateAlgorithm, rates: Sequence[Rate], text: str | None) -> State:
    values = [value for value in (text or "").split(",") if value]
    if len(values) != len(rates):
        return algorithm.initial(list(rates))
    try:
        return algorithm.decode(values)
    except ValueError:
        return algorithm.initial(list(rates))


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
        return _decode(algorithm, rates, row[0] if row else None)

    def check(self, algorithm: StateAlgorithm, rates: list[Rate], now: int, weight: int) -> Decision:
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    state = _clamp(algorithm, rates, self._load(conn, algorithm, rates), now)
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


class PostgresStateStore(StateStore):
    """pyrate-limiter state store for constant-state algorithms, kept in a PostgreSQL table every pod reaches.

    One row per key in ``genesys_rate_limit`` (created when missing). ``check`` runs in one transaction:
    make sure the row exists, lock it (``SELECT ... FOR UPDATE``: other holders of the same key wait, other
    keys do not), read the database's clock, step the state and write it back. The ``now`` the bucket passes
    is ignored: every pod uses the database's clock, so their clocks need not agree. The session sets
    ``idle_in_transaction_session_timeout``, so a holder that stalls mid-step releases the lock; a holder
    that dies releases it with its connection. A lost connection is opened again once per step; a database
    that stays unreachable raises `RateLimitStoreError`, so the step fails rather than run unthrottled.
    """

    is_async = False
    default_clock = WallClock()

    def __init__(self, url: str, key: str, *, connect_timeout_s: int = 10) -> None:
        problem = url_problem(url)
        if problem:
            raise RateLimitStoreError(f"{URL_SETTING}={masked_url(url)} {problem}.")
        self.url = url
        self.key = key
        self.connect_timeout_s = connect_timeout_s
        self._lock = threading.RLock()
        self._conn: Any = None
        self._conn = self._open()

    def where(self) -> str:
        return masked_url(self.url)

    def _unreachable(self, exc: BaseException) -> RateLimitStoreError:
        # psycopg2's messages name host and port, never the password; mask the URL we print ourselves.
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return RateLimitStoreError(
            f"The shared rate-limit database {self.where()} ({URL_SETTING}) cannot be used: {reason}. "
            f"No Genesys request is sent without a token from it. Check that the database is reachable from "
            f"this pod and accepts these credentials, or unset {URL_SETTING} to use the per-machine file "
            "bucket (GENESYS_RATE_LIMIT_DIR) on a single machine."
        )

    def _open(self) -> Any:
        try:
            conn = psycopg2.connect(
                self.url,
                connect_timeout=self.connect_timeout_s,
                application_name="genesys_assets rate limit",
                options=f"-c idle_in_transaction_session_timeout={_PG_HOLD_TIMEOUT_MS} "
                "-c statement_timeout=30000",
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
            )
        except psycopg2.Error as exc:
            raise self._unreachable(exc) from None
        try:
            with conn, conn.cursor() as cursor:
                # Two pods creating the table at once: one wins, the other waits on this lock, then finds it.
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (PG_TABLE,))
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {PG_TABLE} "
                    "(key text PRIMARY KEY, state text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
                )
        except psycopg2.Error as exc:
            conn.close()
            raise self._unreachable(exc) from None
        return conn

    def _step(self, algorithm: StateAlgorithm, rates: list[Rate], weight: int) -> Decision:
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._conn = self._open()
        with conn, conn.cursor() as cursor:  # one transaction: committed on success, rolled back on error
            cursor.execute(
                f"INSERT INTO {PG_TABLE} (key, state) VALUES (%s, '') ON CONFLICT (key) DO NOTHING",
                (self.key,),
            )
            cursor.execute(f"SELECT state FROM {PG_TABLE} WHERE key = %s FOR UPDATE", (self.key,))
            row = cursor.fetchone()
            cursor.execute("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")
            now = int(cursor.fetchone()[0])
            state = _clamp(algorithm, rates, _decode(algorithm, rates, row[0] if row else None), now)
            new_state, decision = algorithm.step(rates, state, now, weight)
            if decision.allowed:
                cursor.execute(
                    f"UPDATE {PG_TABLE} SET state = %s, updated_at = now() WHERE key = %s",
                    (",".join(str(int(v)) for v in new_state), self.key),
                )
        return decision

    def check(self, algorithm: StateAlgorithm, rates: list[Rate], now: int, weight: int) -> Decision:
        with self._lock:
            for attempt in (1, 2):
                try:
                    return self._step(algorithm, rates, weight)
                except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                    # The connection was lost (a database restart, a failover, the hold timeout): open a new
                    # one once; the step is atomic, so a step cut short spent nothing.
                    self._drop()
                    if attempt == 2:
                        raise self._unreachable(exc) from None
                except psycopg2.Error as exc:
                    raise self._unreachable(exc) from None
            raise AssertionError("unreachable")

    def read(self, algorithm: StateAlgorithm, rates: list[Rate]) -> State:
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._open()
                with self._conn, self._conn.cursor() as cursor:
                    cursor.execute(f"SELECT state FROM {PG_TABLE} WHERE key = %s", (self.key,))
                    row = cursor.fetchone()
            except psycopg2.Error as exc:
                self._drop()
                raise self._unreachable(exc) from None
            return _decode(algorithm, rates, row[0] if row else None)

    def reset(self) -> None:
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = self._open()
            with self._conn, self._conn.cursor() as cursor:
                cursor.execute(f"DELETE FROM {PG_TABLE} WHERE key = %s", (self.key,))

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._drop()


class SharedRateLimiter:
    """Blocking token-bucket limiter for one OAuth client, shared across processes through a file or, with
    ``url`` set, across machines through PostgreSQL.

    ``acquire()`` returns once a token is spent, sleeping as long as needed (never failing because the
    bucket is empty). ``waited_s`` totals the time spent waiting, for run metadata.
    """

    def __init__(
        self,
        key: str,
        requests_per_second: float,
        burst: int,
        directory: Path | None,
        url: str | None = None,
    ) -> None:
        self.key = key
        self.requests_per_second = requests_per_second
        self.burst = burst
        self._store: SQLiteStateStore | PostgresStateStore
        if url:
            self._store = PostgresStateStore(url, key)
            self.where = self._store.where()
        elif directory is not None:
            self._store = SQLiteStateStore(directory / DB_FILE_NAME, key)
            self.where = str(directory / DB_FILE_NAME)
        else:
            raise RateLimitStoreError("A rate limiter needs a folder for its file or a database URL.")
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
                    f"The rate limiter for {self.where} can never admit a request; check that burst >= 1."
                )
            time.sleep(min(wait_ms, self._max_wait_ms) / 1000 + random.uniform(0.001, 0.006))
        self.waited_s += time.monotonic() - started

    def close(self) -> None:
        self._limiter.close()

    def __repr__(self) -> str:
        return (
            f"SharedRateLimiter(key={self.key!r}, requests_per_second={self.requests_per_second}, "
            f"burst={self.burst}, where={self.where!r})"
        )
