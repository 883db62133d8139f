"""Parquet I/O manager for the intermediate assets, built for single-run range backfills.

Every partitioned intermediate (raw aggregates, interval KPIs, daily and weekly KPIs) is stored as one
Parquet file per partition::

    <base_dir>/<asset key path>/<partition key>.parquet      e.g. data/lake/queue_kpis_daily/2026-11-21.parquet
    <base_dir>/<asset key path>.parquet                      unpartitioned assets (genesys_queues)

``base_dir`` is a local folder or ``s3://bucket/prefix``.

Unlike the UPath-based managers, an output may cover many partitions, and neither side holds them all at
once, so a range run of a year needs the memory of one batch of days:

* **Outputs.** A partitioned asset returns `PartitionBatches`: batches (dicts of partition key -> frame)
  produced one at a time, each written as soon as it is produced, until every partition key of the run
  (one in a normal run, a whole range in a ``BackfillPolicy.single_run()`` backfill) has its frame. A plain
  dict of every key's frame is one batch. A key outside the run, a key produced twice, a schema that differs
  from the first frame's or a key never produced fails the step.
* **Inputs.** A partitioned upstream loads as `StoredPartitions`, a read-only mapping of the partition keys
  the partition mapping asks for (e.g. a ``TimeWindowPartitionMapping(start_offset=-3, end_offset=3)``
  window) that reads a file only when a frame is asked for (``stored[key]``, or ``stored.load(keys)`` for a
  batch read in parallel). A missing partition is an error naming the asset, partition and fix, unless the
  ``AssetIn`` metadata has ``allow_missing_partitions: True``; then it is left out of the mapping (and
  logged), which is how the gap-filling daily asset sees outage days. ``AssetIn`` metadata
  ``columns: [...]`` reads only those columns.

Each materialization gets ``dagster/row_count``, ``dagster/column_schema`` and ``dagster/uri``; in a range run
the row count and URI are recorded per partition.

Writes are atomic per file (local: temporary file + ``os.replace``; S3: one checked PUT with server-side
encryption), and every frame of a batch is encoded before the batch's first file is written. A step that
fails part-way leaves each file whole, either as it was or as the run wrote it, and records no
materialization; rerunning the same partitions writes them all again.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, TypeVar

import dagster as dg
import polars as pl
from dagster_aws.s3 import S3Resource
from pydantic import Field, PrivateAttr

from genesys_assets.lake.parquet import (
    COMPRESSIONS,
    Compression,
    ParquetSchemaError,
    lake_parquet_bytes,
    read_parquet_bytes,
)
from genesys_assets.lake.settings import SERVER_SIDE_ENCRYPTIONS, LakeSettings, ServerSideEncryption
from genesys_assets.lake.storage import ObjectStore, StoredObject, open_store, path_segment, relative_path
from genesys_assets.schema import TABLE_SCHEMAS

PARQUET_SUFFIX = ".parquet"
ALLOW_MISSING_PARTITIONS = "allow_missing_partitions"
COLUMNS = "columns"
_IO_THREADS = 8
_LIST_LIMIT = 10
_DEFAULTS = LakeSettings()
T = TypeVar("T")

RunFigures = Mapping[str, Any] | None
"""What a generator of batches returns: metadata for the whole output, or None."""


class MissingPartitionError(FileNotFoundError):
    """An input asks for stored data (a partition, or an unpartitioned asset) that was never written."""


class PartitionKeysMismatchError(ValueError):
    """A partitioned asset returned a dict whose keys differ from the run's partition keys."""


def _show(keys: Sequence[str]) -> str:
    """A short list of keys for messages: the first few, then a count."""
    if len(keys) <= _LIST_LIMIT:
        return ", ".join(keys)
    return f"{', '.join(keys[:_LIST_LIMIT])}, ... ({len(keys)} in all)"


def table_schema(schema: pl.Schema) -> dg.TableSchema:
    """A Dagster ``TableSchema`` describing a polars schema (column names and polars type names)."""
    return dg.TableSchema(
        columns=[dg.TableColumn(name=name, type=str(dtype)) for name, dtype in schema.items()]
    )


@dataclass
class PartitionBatches:
    """A partitioned output produced a batch at a time, so a range run never holds all its partitions.

    ``batches`` yields dicts of partition key -> frame; together they cover the run's partition keys once.
    When ``batches`` is a generator, what it returns (a mapping of metadata for the whole output: API calls,
    gap days, ...) is read when it ends, after its last batch is written, and every partition's
    materialization carries it. ``replaced`` compares a stored partition with its replacement (e.g. to record
    what a re-read changed); it is called for each partition of a batch before the next batch is asked for.
    """

    batches: Iterable[Mapping[str, pl.DataFrame]] | Generator[Mapping[str, pl.DataFrame], None, RunFigures]
    # Called for each partition that already has a stored version, with (key, stored frame, new frame),
    # before the new one replaces it; what it returns goes on that partition's materialization.
    replaced: Callable[[str, pl.DataFrame, pl.DataFrame], Mapping[str, Any]] | None = None


@dataclass
class _Produced:
    """What a producer of batches returned when it ended (empty for a plain iterable)."""

    figures: Mapping[str, Any] = field(default_factory=dict)


def _batches_until_done(
    batches: Iterable[Mapping[str, pl.DataFrame]], end: _Produced
) -> Iterator[Mapping[str, pl.DataFrame]]:
    """The batches in order; when they end, the producer's return value (its run figures) goes into `end`."""
    end.figures = (yield from batches) or {}


class StoredPartitions(Mapping[str, pl.DataFrame]):
    """The stored partitions of one upstream asset that an input asks for, read only when asked for.

    Keys are the requested partitions that exist, in the order the partition mapping gives them. Each access
    reads the file again (nothing is cached), so a consumer going through a year batch by batch holds one
    batch at a time; `load` reads a batch's files in parallel.
    """

    def __init__(
        self, keys: Sequence[str], read: Callable[[str, Sequence[str] | None], pl.DataFrame]
    ) -> None:
        self._keys = list(keys)
        self._present = set(self._keys)
        self._read = read

    def __getitem__(self, key: str) -> pl.DataFrame:
        if key not in self._present:
            raise KeyError(key)
        return self._read(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._present

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def reduced(
        self, keys: Iterable[str], reduce: Callable[[pl.DataFrame], T], columns: Sequence[str] | None = None
    ) -> list[T]:
        """`reduce` of each of those of `keys` that exist (only `columns`, when given), in the order given.

        One partition is read at a time and dropped once reduced, so only the reduced results add up: a
        step that needs a little of many partitions (a window's channels, a week's day roll-ups) holds one.
        """
        return [reduce(self._read(key, columns)) for key in dict.fromkeys(keys) if key in self._present]

    def load(self, keys: Iterable[str], columns: Sequence[str] | None = None) -> dict[str, pl.DataFrame]:
        """The frames of those of `keys` that exist (only `columns`, when given), read in parallel, in the
        order given."""
        wanted = [key for key in dict.fromkeys(keys) if key in self._present]
        if not wanted:
            return {}
        with ThreadPoolExecutor(max_workers=min(_IO_THREADS, len(wanted))) as pool:
            return dict(zip(wanted, pool.map(lambda key: self._read(key, columns), wanted), strict=True))


class PartitionedParquetIOManager(dg.ConfigurableIOManager):
    """Stores polars frames as Parquet, one file per partition, locally or on S3; serves range runs.

    S3 mode: set ``base_dir`` to ``s3://bucket/prefix``. The client comes from the nested ``s3``
    resource (``dagster_aws.s3.S3Resource``) when given, otherwise from a default ``S3Resource()``,
    which honours the standard AWS variables (``AWS_ENDPOINT_URL``, ``AWS_REGION``, credentials).
    """

    base_dir: str = Field(
        default=_DEFAULTS.base_dir,
        description=(
            "Where the files go: a local folder (relative paths resolve against the working directory "
            "of the run) or s3://bucket/prefix."
        ),
    )
    compression: Compression = Field(
        default=_DEFAULTS.compression, description=f"Parquet compression: {' or '.join(COMPRESSIONS)}."
    )
    s3: S3Resource | None = Field(
        default=None,
        description="S3 client settings for an s3:// base_dir; default S3Resource() from the AWS environment.",
    )
    sse: ServerSideEncryption = Field(
        default=_DEFAULTS.sse,
        description=f"Server-side encryption of S3 objects: {' or '.join(SERVER_SIDE_ENCRYPTIONS)}.",
    )
    kms_key_id: str | None = Field(
        default=_DEFAULTS.kms_key_id,
        description="KMS key id, ARN or alias with sse=aws:kms; None uses the aws/s3 key.",
    )

    _store: ObjectStore | None = PrivateAttr(default=None)

    def settings(self) -> LakeSettings:
        """The lake settings these fields describe (checked when made)."""
        return LakeSettings(
            base_dir=self.base_dir, compression=self.compression, sse=self.sse, kms_key_id=self.kms_key_id
        )

    # ------------------------------------------------------------------------------------------ storage

    def get_store(self) -> ObjectStore:
        """The store behind ``base_dir``, created on first use (one S3 client per process)."""
        if self._store is None:
            settings = self.settings()
            s3 = self.s3 if self.s3 is not None else S3Resource()
            self._store = open_store(
                settings.base_dir,
                s3_client=s3.get_client,
                sse=settings.sse,
                kms_key_id=settings.kms_key_id,
                bucket_setting="the bucket in the I/O manager's base_dir",
                location_setting="the I/O manager's base_dir (GENESYS_LAKE_DIR, see genesys_assets.config)",
            )
        return self._store

    @staticmethod
    def _folder_parts(context: dg.InputContext | dg.OutputContext) -> list[str]:
        if context.has_asset_key:
            return list(context.asset_key.path)
        return list(context.get_identifier())

    def partition_path(self, context: dg.InputContext | dg.OutputContext, partition_key: str) -> str:
        """Store path of one partition: ``<asset key path>/<partition key>.parquet``."""
        return relative_path(self._folder_parts(context), path_segment(partition_key) + PARQUET_SUFFIX)

    def unpartitioned_path(self, context: dg.InputContext | dg.OutputContext) -> str:
        """Store path of an unpartitioned asset (or op output): ``<asset key path>.parquet``."""
        parts = self._folder_parts(context)
        return relative_path(parts[:-1], path_segment(parts[-1]) + PARQUET_SUFFIX)

    # ------------------------------------------------------------------------------------------ outputs

    @staticmethod
    def _name(context: dg.InputContext | dg.OutputContext) -> str:
        return (
            context.asset_key.to_user_string()
            if context.has_asset_key
            else "/".join(context.get_identifier())
        )

    def _encode(self, name: str, partition: str | None, frame: object) -> bytes:
        where = f"asset {name}" + (f", partition {partition}" if partition is not None else "")
        if not isinstance(frame, pl.DataFrame):
            raise TypeError(
                f"{where}: expected a polars DataFrame to store as Parquet, got {type(frame).__name__}."
            )
        try:
            return lake_parquet_bytes(frame, compression=self.compression)
        except ParquetSchemaError as exc:
            raise ParquetSchemaError(f"{where}: {exc}", column=exc.column) from None

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write a DataFrame (unpartitioned) or a dict of one DataFrame per partition key of the run."""
        name = self._name(context)
        store = self.get_store()
        if obj is None:
            raise TypeError(
                f"asset {name} returned None. Return a polars DataFrame (or a dict of them for a partitioned "
                "asset), or annotate the function with '-> None' if it stores nothing."
            )
        if not context.has_asset_partitions:
            body = self._encode(name, None, obj)
            stored = store.write(self.unpartitioned_path(context), body)
            context.log.debug(f"Wrote {name} to {stored.uri} ({stored.bytes} bytes)")
            context.add_output_metadata(
                {
                    "dagster/row_count": obj.height,
                    "dagster/column_schema": table_schema(obj.schema),
                    "dagster/uri": stored.uri,
                    "lake/bytes": stored.bytes,
                }
            )
            return

        keys = list(context.asset_partition_keys)
        if isinstance(obj, Mapping):  # a whole output at once is checked before any file is written
            missing = [key for key in keys if key not in obj]
            extra = sorted(str(key) for key in obj if key not in set(keys))
            if missing or extra:
                problems = [f"missing partitions {_show(missing)}"] if missing else []
                problems += [f"partitions not in this run {_show(extra)}"] if extra else []
                raise PartitionKeysMismatchError(
                    f"asset {name} returned keys that do not match the run's partitions: {'; '.join(problems)}. "
                    f"The dict must hold exactly the run's partition keys ({_show(keys)}); return an empty frame "
                    "(with the table's schema) for a partition without rows."
                )
            obj = PartitionBatches([obj])
        if not isinstance(obj, PartitionBatches):
            raise TypeError(
                f"asset {name} is partitioned: return PartitionBatches (or a dict[partition_key, pl.DataFrame]) "
                f"with one frame per partition of the run ({_show(keys)}), got {type(obj).__name__}."
            )
        expected = set(keys)
        stored: dict[str, StoredObject] = {}
        rows: dict[str, int] = {}
        replaced: dict[str, Mapping[str, Any]] = {}
        first_schema: pl.Schema | None = None
        first_key = ""
        produced = _Produced()
        for batch in _batches_until_done(obj.batches, produced):
            extra = sorted(str(key) for key in batch if key not in expected or key in stored)
            if extra:
                raise PartitionKeysMismatchError(
                    f"asset {name} produced partitions that are not in this run or were produced twice: "
                    f"{_show(extra)}. Its batches must hold each of the run's partition keys ({_show(keys)}) "
                    "exactly once."
                )
            with ThreadPoolExecutor(max_workers=max(1, min(_IO_THREADS, len(batch)))) as pool:
                # Every frame of the batch is encoded (in parallel) and checked before its first file is written.
                bodies = dict(
                    zip(batch, pool.map(lambda item: self._encode(name, *item), batch.items()), strict=True)
                )
                for key, frame in batch.items():
                    if first_schema is None:
                        first_schema, first_key = frame.schema, key
                    elif frame.schema != first_schema:
                        differing = sorted(
                            column
                            for column in {*first_schema, *frame.schema}
                            if first_schema.get(column) != frame.schema.get(column)
                        )
                        raise ParquetSchemaError(
                            f"asset {name}: partition {key} has a different schema from partition {first_key} "
                            f"(columns {differing}); every partition of a table must share one schema.",
                            column=differing[0],
                        )
                paths = [self.partition_path(context, key) for key in bodies]
                if obj.replaced is not None:  # compare each stored version with its replacement first
                    changes = pool.map(
                        self._compare, repeat(store), paths, batch, batch.values(), repeat(obj.replaced)
                    )
                    replaced.update(
                        (key, change) for key, change in zip(batch, changes, strict=True) if change
                    )
                stored.update(zip(bodies, pool.map(store.write, paths, bodies.values()), strict=True))
            rows.update((key, frame.height) for key, frame in batch.items())
        missing = [key for key in keys if key not in stored]
        if missing:
            raise PartitionKeysMismatchError(self._missing_message(name, missing, keys))
        assert first_schema is not None  # every key has a frame
        total_rows = sum(rows.values())
        folder = store.uri("/".join(path_segment(part) for part in self._folder_parts(context)))
        context.log.info(f"Wrote {len(keys)} partition(s) of {name} ({total_rows} rows) under {folder}")
        single = len(keys) == 1
        context.add_output_metadata(
            {
                **produced.figures,
                "dagster/row_count": total_rows,
                "dagster/column_schema": table_schema(first_schema),
                "dagster/uri": stored[keys[0]].uri if single else folder,
                "lake/bytes": sum(item.bytes for item in stored.values()),
                "lake/partitions_written": len(keys),
            }
        )
        if not single:
            self._add_partition_metadata(context, rows, stored)
        for key, metadata in replaced.items():
            self._add_to_partition(context, key, metadata)

    @staticmethod
    def _missing_message(name: str, missing: Sequence[str], keys: Sequence[str]) -> str:
        return (
            f"asset {name} produced no frame for partitions {_show(missing)} of this run. It must produce one "
            f"frame for each of the run's partition keys ({_show(keys)}); return an empty frame (with the "
            "table's schema) for a partition without rows."
        )

    @staticmethod
    def _compare(
        store: ObjectStore,
        path: str,
        key: str,
        frame: pl.DataFrame,
        compare: Callable[[str, pl.DataFrame, pl.DataFrame], Mapping[str, Any]],
    ) -> Mapping[str, Any]:
        body = store.read(path)
        if body is None:
            return {}
        return compare(key, read_parquet_bytes(body, current=frame.schema), frame)

    @staticmethod
    def _add_to_partition(context: dg.OutputContext, key: str, metadata: Mapping[str, Any]) -> None:
        if context.has_asset_partitions and len(context.asset_partition_keys) == 1:
            context.add_output_metadata(dict(metadata))
            return
        context.step_context.add_asset_metadata(
            dict(metadata), asset_key=context.asset_key, partition_key=key
        )

    @staticmethod
    def _add_partition_metadata(
        context: dg.OutputContext, rows: Mapping[str, int], stored: Mapping[str, StoredObject]
    ) -> None:
        """Record row count and URI on each partition's materialization of a range run."""
        try:
            step_context = context.step_context
        except dg.DagsterInvariantViolationError:
            return  # built outside a run (direct invocation): the output metadata is all there is
        for key, count in rows.items():
            step_context.add_asset_metadata(
                {
                    "dagster/row_count": count,
                    "dagster/uri": stored[key].uri,
                    "lake/bytes": stored[key].bytes,
                },
                asset_key=context.asset_key,
                partition_key=key,
            )

    # ------------------------------------------------------------------------------------------ inputs

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | StoredPartitions:
        """A DataFrame (unpartitioned upstream), or the requested partitions, read when asked for."""
        store = self.get_store()
        source = context.upstream_output if context.upstream_output is not None else context
        name = self._name(source)
        metadata = context.definition_metadata or {}
        columns = metadata.get(COLUMNS)
        if not (context.has_asset_key and context.has_asset_partitions):
            path = self.unpartitioned_path(source)
            body = store.read(path)
            if body is None:
                raise MissingPartitionError(
                    f"asset {name} has not been stored yet: {store.uri(path)} does not exist. "
                    f"Fix: materialize {name} first."
                )
            return read_parquet_bytes(body, columns=columns, current=TABLE_SCHEMAS.get(name))

        keys = list(context.asset_partition_keys)
        with ThreadPoolExecutor(max_workers=max(1, min(_IO_THREADS, len(keys)))) as pool:
            present = dict(
                zip(
                    keys,
                    pool.map(lambda key: store.exists(self.partition_path(context, key)), keys),
                    strict=True,
                )
            )
        absent = [key for key in keys if not present[key]]
        if absent and not metadata.get(ALLOW_MISSING_PARTITIONS, False):
            raise MissingPartitionError(
                f"asset {name} has no stored partition(s) {_show(absent)} (looked for "
                f"{store.uri(self.partition_path(context, absent[0]))}). Fix: materialize those partitions of "
                f"{name} first (e.g. launch a backfill), or set AssetIn(metadata={{'{ALLOW_MISSING_PARTITIONS}': "
                f"True}}) on input '{context.name}' if the asset handles gaps."
            )
        if absent:
            context.log.warning(
                f"Skipped missing partition(s) {_show(absent)} of {name} for input '{context.name}' "
                f"({ALLOW_MISSING_PARTITIONS}=True)"
            )

        def read(key: str, only: Sequence[str] | None) -> pl.DataFrame:
            path = self.partition_path(context, key)
            body = store.read(path)
            if body is None:
                raise MissingPartitionError(
                    f"asset {name}: partition {key} ({store.uri(path)}) was removed while this step ran. "
                    f"Fix: materialize partition {key} of {name} again, then rerun."
                )
            return read_parquet_bytes(
                body, columns=only if only is not None else columns, current=TABLE_SCHEMAS.get(name)
            )

        context.log.debug(f"{len(keys) - len(absent)} of {len(keys)} partition(s) of {name} are stored")
        return StoredPartitions([key for key in keys if present[key]], read)
