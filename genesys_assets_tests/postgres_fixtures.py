"""A real PostgreSQL server for tests: initdb into a temporary folder, started on 127.0.0.1, stopped after.

The suite's conftest loads it as a pytest plugin; name it as a test argument:

* ``postgres`` (module scope): a started :class:`PostgresServer` with an empty database, reachable over TCP
  on 127.0.0.1 (password authentication) and over a Unix socket in its own temporary folder.

A server can also run inside a network namespace (``netns``, see `genesys_assets_tests/multihost.py`): it then
listens on an address of that namespace, accepts password logins from ``allowed_network``, and the test
itself talks to it over its Unix socket, which a network namespace does not separate.

The server binaries come from the Debian ``postgresql`` package (``scripts/system-packages.sh`` installs it);
``initdb`` refuses to run as root, so as root every server command runs as the ``postgres`` OS user.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from genesys_assets_tests.s3_fixtures import unused_port

__all__ = ["PostgresServer", "find_postgres_bin", "postgres"]

SERVER_USER = "postgres"  # OS user that owns the data folder when the tests run as root
DB_USER = "dagster"
DB_NAME = "dagster"


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` folder holding ``initdb``, if any."""
    candidates = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return candidates[-1] if candidates else None


@dataclass
class PostgresServer:
    """A PostgreSQL server in its own folder; `start()` runs initdb and pg_ctl, `stop()` ends it."""

    bin_dir: Path
    root: Path
    host: str = "127.0.0.1"
    port: int = field(default_factory=unused_port)
    user: str = DB_USER
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    db_name: str = DB_NAME
    netns: str | None = None  # run the server inside this network namespace
    allowed_network: str | None = None  # e.g. 10.250.77.0/24: password logins from there (other hosts)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def _as_server_user(self, args: Sequence[str]) -> list[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        if self.netns:
            command = ["ip", "netns", "exec", self.netns, *command]
        return command

    def _run(self, args: Sequence[str], timeout: float) -> None:
        result = subprocess.run(
            self._as_server_user(args), capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
            )

    def start(self) -> PostgresServer:
        self.socket_dir.mkdir(parents=True)
        password_file = self.root / "pwfile"
        password_file.write_text(self.password + "\n")
        if os.geteuid() == 0:
            for path in (self.root, self.socket_dir, password_file):
                shutil.chown(path, SERVER_USER, SERVER_USER)
        self.root.chmod(0o700)
        self._run(
            [
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                f"--pwfile={password_file}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            timeout=120,
        )
        password_file.unlink()
        if self.allowed_network:
            with (self.data_dir / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.allowed_network} scram-sha-256\n")
        options = (
            f"-c listen_addresses={self.host} -p {self.port} -k {self.socket_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            [
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            timeout=90,
        )
        admin = self.connect(db_name="postgres")
        try:
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.db_name}"')
        finally:
            admin.close()
        return self

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(
                ["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop"], timeout=60
            )

    def connect(self, db_name: str | None = None) -> Any:
        """A psycopg2 connection over TCP with password authentication (over the Unix socket for a server in
        another network namespace)."""
        return psycopg2.connect(
            host=str(self.socket_dir) if self.netns else self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=db_name or self.db_name,
            connect_timeout=10,
        )

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of one read-only query."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def url(self) -> str:
        """The ``postgresql://`` URL of the database over TCP, password included."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.db_name}"

    def dagster_env(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads its connection settings from."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.db_name,
        }

    def wait_accepting(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect().close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A started PostgreSQL server with an empty database, stopped and removed after the module."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL server binaries are missing; run `bash scripts/system-packages.sh`.")
    # Not under pytest's tmp_path: as root that folder is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="genesys-pg-"))
    server = PostgresServer(bin_dir=bin_dir, root=root)
    try:
        server.start()
        server.wait_accepting()
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
