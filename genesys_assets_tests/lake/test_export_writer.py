"""The export writer: Hive-style partition keys, and one object per partition folder (moto's S3 server)."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from genesys_assets.lake.export_writer import export_key, put_partition_object
from genesys_assets.lake.parquet import parquet_bytes
from genesys_assets.lake.s3 import remove_stray_keys

DAY = "2026-11-21"
TAGS = {"schema_version": "1", "partition": DAY, "run_id": "0f1e2d3c-aaaa", "source": "genesys cloud/queues"}


def test_export_key_layout() -> None:
    assert export_key("lake/genesys", "daily", DAY) == (
        "lake/genesys/queue_export/grain=daily/date=2026-11-21/part-0.parquet"
    )
    assert export_key("lake/genesys", "weekly", "2026-11-16") == (
        "lake/genesys/queue_export/grain=weekly/week=2026-11-16/part-0.parquet"
    )
    assert export_key("", "daily", DAY) == "queue_export/grain=daily/date=2026-11-21/part-0.parquet"
    assert export_key("/a//b/", "daily", DAY) == "a/b/queue_export/grain=daily/date=2026-11-21/part-0.parquet"


@pytest.mark.parametrize(
    ("grain", "key", "text"),
    [
        ("weekly", "2026-11-17", "Weeks start on Monday; 2026-11-17 is a Tuesday"),
        ("daily", "2026-11-31", "not an ISO date"),
        ("daily", "20261121", "not an ISO date"),
        ("hourly", DAY, "Grain 'hourly'"),
    ],
)
def test_export_key_rejects_bad_input(grain: str, key: str, text: str) -> None:
    with pytest.raises(ValueError, match=text):
        export_key("p", grain, key)  # type: ignore[arg-type]


def test_overwrite_is_idempotent_and_strays_are_removed(s3_client: Any, s3_bucket: str) -> None:
    s3_client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    key = export_key("p", "daily", DAY)
    stray = key.replace("part-0", "part-1")
    neighbour = export_key("p", "daily", "2026-11-22")
    lookalike = key.replace(f"date={DAY}/", f"date={DAY}-old/")  # shares the folder name as a prefix
    for other in (stray, neighbour, lookalike):
        s3_client.put_object(Bucket=s3_bucket, Key=other, Body=b"old rows")

    body = parquet_bytes(pl.DataFrame({"queue_id": [f"q{i}" for i in range(5)], "offered": list(range(5))}))
    first = put_partition_object(s3_client, s3_bucket, key, body, tags=TAGS)
    assert first.removed_keys == (stray,)
    second = put_partition_object(s3_client, s3_bucket, key, body, tags=TAGS)
    assert second.removed_keys == ()
    assert (second.sha256_b64, second.etag, second.bytes) == (first.sha256_b64, first.etag, first.bytes)
    assert first.version_id and second.version_id and first.version_id != second.version_id

    listed = s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="p/")["Contents"]
    assert sorted(item["Key"] for item in listed) == sorted([key, neighbour, lookalike])
    assert s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == body


def test_a_batch_of_partitions_has_its_strays_removed_in_one_listing(s3_client: Any, s3_bucket: str) -> None:
    days = ["2026-11-02", "2026-11-03", "2026-11-05"]  # 11-04 is not in the batch
    keys = [export_key("p", "daily", day) for day in days]
    outside = export_key("p", "daily", "2026-11-04").replace("part-0", "part-9")
    strays = [
        keys[0].replace("part-0", "part-1"),
        keys[1].replace(
            "part-0.parquet", "nested/part-0.parquet"
        ),  # under a sub-folder: read by a recursive scan
        keys[2].replace("part-0", "zz-leftover"),
    ]
    after = export_key("p", "daily", "2026-11-06").replace("part-0", "part-1")
    lookalike = keys[2].replace("date=2026-11-05/", "date=2026-11-05-old/")
    for other in (outside, *strays, after, lookalike):
        s3_client.put_object(Bucket=s3_bucket, Key=other, Body=b"old rows")
    body = parquet_bytes(pl.DataFrame({"offered": [1, 2]}))
    for key in keys:
        assert put_partition_object(s3_client, s3_bucket, key, body, remove_strays=False).removed_keys == ()

    calls: list[str] = []
    s3_client.meta.events.register("before-call.s3.ListObjectsV2", lambda **_: calls.append("list"))
    assert remove_stray_keys(s3_client, s3_bucket, keys) == tuple(sorted(strays))
    assert calls == ["list"]
    listed = s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="p/")["Contents"]
    assert sorted(item["Key"] for item in listed) == sorted([*keys, outside, after, lookalike])
    with pytest.raises(ValueError, match="bucket root"):
        remove_stray_keys(s3_client, s3_bucket, ["rootkey.parquet"])
