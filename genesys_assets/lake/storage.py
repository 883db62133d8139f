"""Where the lake's files live: a local folder or an S3 prefix, behind one small interface.

The Parquet I/O manager stores every intermediate asset through an :class:`ObjectStore` chosen from
one base location: a local path (``data/lake``, ``/srv/lake``) or an S3 URI (``s3://bucket/prefix``).
Paths inside the store are relative, ``/``-separated (``queue_kpis_daily/2026-11-21.parquet``).

* Local writes are atomic: the bytes go to a temporary file in the target folder, are flushed to disk,
  and replace the target with ``os.replace``; a failed write leaves the previous file intact and no
  temporary file behind. A process killed mid-write (SIGKILL, power loss) can leave its hidden
  ``.<name>.<host>.<pid>.<random>.tmp`` file; readers never see it, and the next successful write of the
  same file removes such leftovers of processes on this host that no longer run.
* S3 writes are one checked ``PutObject`` each (SHA-256 checksum, server-side encryption), which S3
  applies atomically: readers see the old object or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote

from genesys_assets.lake.s3 import (
    S3Client,
    ServerSideEncryption,
    get_object_bytes,
    object_exists,
    put_object,
    s3_uri,
    sha256_b64,
)


@dataclass(frozen=True)
class StoredObject:
    """One file written to the store."""

    uri: str
    bytes: int
    sha256_b64: str


class ObjectStore(Protocol):
    """A flat namespace of files under a base location."""

    @property
    def base_uri(self) -> str:
        """The base location as a path or ``s3://`` URI."""
        ...

    def uri(self, relpath: str) -> str:
        """The full path or URI of a relative path."""
        ...

    def write(self, relpath: str, body: bytes) -> StoredObject:
        """Write (or replace) one file atomically."""
        ...

    def read(self, relpath: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        ...

    def exists(self, relpath: str) -> bool:
        """Whether the file exists (without reading it)."""
        ...


def path_segment(text: str) -> str:
    """A string made safe as one path segment (``/``, ``..`` and control characters escaped).

    Dates and plain identifiers are unchanged: ``path_segment("2026-11-21") == "2026-11-21"``.
    """
    if not text:
        raise ValueError("An empty string cannot be a path segment.")
    if text in (".", ".."):
        return text.replace(".", "%2E")
    return quote(text, safe="-_.=+@,:")


def relative_path(parts: list[str] | tuple[str, ...], file_name: str) -> str:
    """Join escaped folder segments and a file name into a store path."""
    return "/".join([*(path_segment(part) for part in parts), file_name])


# This host in temporary file names (dots replaced, so the name splits on dots).
TEMP_HOST_TAG = path_segment(socket.gethostname() or "host").replace(".", "_")


def _temp_prefix(path: Path) -> str:
    """Prefix of this process's temporary files for ``path``: ``.<name>.<host>.<pid>.``."""
    return f".{path.name}.{TEMP_HOST_TAG}.{os.getpid()}."


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


def remove_dead_writers_temp_files(path: Path) -> list[Path]:
    """Delete temporary files for ``path`` left by processes of this host that no longer run.

    Only names of the form ``.<name>.<host>.<pid>.<random>.tmp`` with this host and a pid that is not
    running are removed, so a concurrent writer's file (here or on another host sharing the folder) is
    never touched. Returns the removed paths.
    """
    removed = []
    marker = f".{path.name}.{TEMP_HOST_TAG}."
    with contextlib.suppress(FileNotFoundError), os.scandir(path.parent) as entries:
        for entry in entries:
            name = entry.name
            if not (name.startswith(marker) and name.endswith(".tmp")):
                continue
            pid_text = name[len(marker) :].split(".", 1)[0]
            if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_running(int(pid_text)):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create or replace ``path`` with what ``write`` puts into a file handle, atomically.

    The data goes to a hidden temporary file in the same folder (same filesystem, so the rename is
    atomic), is fsynced, and then replaces ``path``. If ``write`` raises, the temporary file is removed
    and ``path`` keeps its previous content. After the replace, temporary files for ``path`` left by
    killed writers on this host are removed (`remove_dead_writers_temp_files`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    with contextlib.suppress(OSError):
        remove_dead_writers_temp_files(path)


def atomic_write_bytes(path: Path, body: bytes) -> None:
    """:func:`atomic_write` of a byte string."""
    atomic_write(path, lambda handle: handle.write(body))


class LakeStorageError(OSError):
    """A local lake file cannot be written: the folder is not a directory, not writable, or the disk is full."""


@dataclass(frozen=True)
class LocalStore:
    """Files under a local folder."""

    root: Path
    location_setting: str = "the I/O manager's base_dir"

    @property
    def base_uri(self) -> str:
        return str(self.root)

    def uri(self, relpath: str) -> str:
        return str(self.root.joinpath(*relpath.split("/")))

    def write(self, relpath: str, body: bytes) -> StoredObject:
        path = Path(self.uri(relpath))
        try:
            atomic_write_bytes(path, body)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
            raise LakeStorageError(
                f"Cannot write {path}: {reason}{where}. The previous file, if any, is unchanged. Fix: point "
                f"{self.location_setting} (root {self.root}) at a writable folder with free space."
            ) from exc
        return StoredObject(uri=str(path), bytes=len(body), sha256_b64=sha256_b64(body))

    def read(self, relpath: str) -> bytes | None:
        try:
            return Path(self.uri(relpath)).read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, relpath: str) -> bool:
        return Path(self.uri(relpath)).is_file()


@dataclass(frozen=True)
class S3Store:
    """Objects under ``s3://bucket/prefix``; every write is one checked, encrypted PUT."""

    client: S3Client
    bucket: str
    prefix: str = ""
    sse: ServerSideEncryption = "AES256"
    kms_key_id: str | None = None
    bucket_setting: str = "the I/O manager's base_dir"

    @property
    def base_uri(self) -> str:
        return s3_uri(self.bucket, self.prefix).rstrip("/")

    def key(self, relpath: str) -> str:
        return "/".join(part for part in (self.prefix.strip("/"), relpath) if part)

    def uri(self, relpath: str) -> str:
        return s3_uri(self.bucket, self.key(relpath))

    def write(self, relpath: str, body: bytes) -> StoredObject:
        written = put_object(
            self.client,
            self.bucket,
            self.key(relpath),
            body,
            sse=self.sse,
            kms_key_id=self.kms_key_id,
            bucket_setting=self.bucket_setting,
        )
        return StoredObject(uri=written.uri, bytes=written.bytes, sha256_b64=written.sha256_b64)

    def read(self, relpath: str) -> bytes | None:
        return get_object_bytes(
            self.client, self.bucket, self.key(relpath), bucket_setting=self.bucket_setting
        )

    def exists(self, relpath: str) -> bool:
        return object_exists(self.client, self.bucket, self.key(relpath), bucket_setting=self.bucket_setting)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI.")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"{uri!r} names no bucket; use s3://BUCKET[/PREFIX].")
    return bucket, "/".join(part for part in prefix.split("/") if part)


def open_store(
    base: str,
    *,
    s3_client: Callable[[], S3Client] | None = None,
    sse: ServerSideEncryption = "AES256",
    kms_key_id: str | None = None,
    bucket_setting: str = "the I/O manager's base_dir",
    location_setting: str = "the I/O manager's base_dir",
) -> ObjectStore:
    """The store for a base location: ``s3://bucket/prefix`` or a local folder (relative to the cwd).

    ``s3_client`` builds the boto3 client for S3 locations (called once, only for S3).
    ``bucket_setting`` / ``location_setting`` name the configuration that chose the bucket or the folder,
    for error messages.
    """
    if base.startswith("s3://"):
        if s3_client is None:
            raise ValueError(f"Base location {base!r} is on S3 but no S3 client was provided.")
        bucket, prefix = parse_s3_uri(base)
        return S3Store(
            client=s3_client(),
            bucket=bucket,
            prefix=prefix,
            sse=sse,
            kms_key_id=kms_key_id,
            bucket_setting=bucket_setting,
        )
    if "://" in base:
        raise ValueError(
            f"Base location {base!r} is not supported; use a local folder or s3://bucket/prefix."
        )
    return LocalStore(root=Path(base).expanduser().resolve(), location_setting=location_setting)
