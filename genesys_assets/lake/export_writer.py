"""The S3 export writer: Hive-style keys of the export table, one checked object per partition and grain.

The export assets write one Parquet object per partition and grain under Hive-style keys (`export_key`) that
DuckDB, Athena and Spark read as one table. `put_partition_object` writes it with one checked PUT
(`lake.s3.put_object`), then removes any other object in its partition folder; failures are the
`lake.s3.ExportError` family. No Dagster.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Final, Literal, Unpack

from genesys_assets import localtime
from genesys_assets.lake.s3 import ExportedObject, PutOptions, S3Client, put_object, remove_stray_keys

Grain = Literal["daily", "weekly"]

EXPORT_TABLE: Final = "queue_export"
PART_FILE: Final = "part-0.parquet"


def _join_key(*parts: str) -> str:
    """Join key segments with single slashes, dropping empty segments and stray slashes."""
    segments = [segment for part in parts for segment in part.split("/") if segment]
    return "/".join(segments)


def export_prefix(prefix: str, grain: Grain) -> str:
    """The folder of one grain's objects, e.g. ``lake/genesys/queue_export/grain=daily/`` (for listing)."""
    if grain not in ("daily", "weekly"):
        raise ValueError(f"Grain {grain!r} is not supported; use 'daily' or 'weekly'.")
    return _join_key(prefix, EXPORT_TABLE, f"grain={grain}") + "/"


def export_key(prefix: str, grain: Grain, partition_key: str) -> str:
    """The S3 key of one export partition, Hive-style.

    ``export_key("lake/genesys", "daily", "2026-11-21")`` gives
    ``lake/genesys/queue_export/grain=daily/date=2026-11-21/part-0.parquet``; weekly partitions use
    ``grain=weekly/week=<Monday>``. ``prefix`` may be empty and may carry leading or trailing slashes.
    """
    try:
        day = date.fromisoformat(partition_key)
    except ValueError:
        raise ValueError(f"Partition key {partition_key!r} is not an ISO date (YYYY-MM-DD).") from None
    if day.isoformat() != partition_key:
        raise ValueError(f"Partition key {partition_key!r} is not an ISO date (YYYY-MM-DD).")
    folder = export_prefix(prefix, grain)
    if grain == "weekly":
        localtime.week_days(day)  # a weekly key is the Monday of its week
    partition = f"date={partition_key}" if grain == "daily" else f"week={partition_key}"
    return _join_key(folder, partition, PART_FILE)


def put_partition_object(
    client: S3Client,
    bucket: str,
    key: str,
    body: bytes,
    *,
    remove_strays: bool = True,
    **options: Unpack[PutOptions],
) -> ExportedObject:
    """Write one export partition object (`put_object`, with its ``options``) and remove any other object in
    its partition folder.

    The PUT overwrites in place, so re-running a partition is idempotent (same frame, same bytes, same
    object content; a versioned bucket keeps the older versions). Strays are deleted only after the new
    object is in place, so a reader never finds the partition empty. A caller writing a batch of partitions
    passes ``remove_strays=False`` and removes the batch's strays in one call to `remove_stray_keys` once
    every object is in place. Needs s3:PutObject, s3:PutObjectTagging, s3:ListBucket and s3:DeleteObject
    (and kms:GenerateDataKey with aws:kms).
    """
    written = put_object(client, bucket, key, body, **options)
    removed = remove_stray_keys(client, bucket, [key]) if remove_strays else ()
    return dataclasses.replace(written, removed_keys=removed)
