"""Lake storage: atomic local writes, the S3 store on moto's server, base-location parsing."""

# Fixtures imported from s3_fixtures are named again as test arguments, which is how pytest uses them.

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import pytest

from genesys_assets.lake.s3 import BucketNotFoundError
from genesys_assets.lake.storage import (
    LocalStore,
    S3Store,
    atomic_write,
    atomic_write_bytes,
    open_store,
    parse_s3_uri,
    path_segment,
    relative_path,
)


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "asset" / "2026-11-21.parquet"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["2026-11-21.parquet"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "2026-11-21.parquet"
    atomic_write_bytes(target, b"good data")

    def broken(handle: BinaryIO) -> None:
        handle.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"good data"
    assert [p.name for p in tmp_path.iterdir()] == ["2026-11-21.parquet"]

    fresh = tmp_path / "never.parquet"
    with pytest.raises(OSError, match="disk full"):
        atomic_write(fresh, broken)
    assert not fresh.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["2026-11-21.parquet"]


def test_local_store_round_trip(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "lake"))
    assert isinstance(store, LocalStore)
    written = store.write("a/b/2026-11-21.parquet", b"bytes")
    assert written.uri == str(tmp_path / "lake" / "a" / "b" / "2026-11-21.parquet")
    assert written.bytes == 5
    assert store.read("a/b/2026-11-21.parquet") == b"bytes"
    assert store.read("a/b/missing.parquet") is None


def test_s3_store_round_trip(moto_s3: str, s3_client: Any, s3_bucket: str) -> None:
    store = open_store(f"s3://{s3_bucket}/lake/", s3_client=lambda: s3_client)
    assert isinstance(store, S3Store)
    assert store.base_uri == f"s3://{s3_bucket}/lake"
    written = store.write("asset/2026-11-21.parquet", b"bytes")
    assert written.uri == f"s3://{s3_bucket}/lake/asset/2026-11-21.parquet"
    head = s3_client.head_object(Bucket=s3_bucket, Key="lake/asset/2026-11-21.parquet")
    assert head["ServerSideEncryption"] == "AES256"
    assert store.read("asset/2026-11-21.parquet") == b"bytes"
    assert store.read("asset/missing.parquet") is None

    missing = open_store("s3://no-such-lake-bucket", s3_client=lambda: s3_client)
    with pytest.raises(BucketNotFoundError, match="create the bucket or set the I/O manager's base_dir"):
        missing.write("x.parquet", b"x")


def test_base_locations_and_segments() -> None:
    assert parse_s3_uri("s3://bucket") == ("bucket", "")
    assert parse_s3_uri("s3://bucket//a/b/") == ("bucket", "a/b")
    with pytest.raises(ValueError, match="names no bucket"):
        parse_s3_uri("s3:///x")
    with pytest.raises(ValueError, match="not supported"):
        open_store("gs://bucket/x")
    with pytest.raises(ValueError, match="no S3 client"):
        open_store("s3://bucket/x")
    assert path_segment("2026-11-21") == "2026-11-21"
    assert path_segment("a/b") == "a%2Fb"
    assert path_segment("..") == "%2E%2E"
    assert relative_path(["raw", "queue_kpis"], "2026-11-21.parquet") == "raw/queue_kpis/2026-11-21.parquet"
