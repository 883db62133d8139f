"""Parquet encoding: explicit schemas, casting errors naming the column, deterministic bytes, statistics."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from genesys_assets import schema
from genesys_assets.lake.parquet import ParquetSchemaError, arrow_schema, parquet_bytes, read_parquet_bytes
from genesys_assets_tests.frames import directory


def interval_kpis(rows: int = 4) -> pl.DataFrame:
    """A small INTERVAL_KPIS frame: two queues x two half-hours, one zero-denominator ratio."""
    starts = [datetime(2026, 11, 21, 5, 0, tzinfo=UTC), datetime(2026, 11, 21, 5, 30, tzinfo=UTC)]
    data: dict[str, list[object]] = {
        "local_date": [date(2026, 11, 21)] * rows,
        "queue_id": [f"q{i % 2}" for i in range(rows)],
        "media_type": ["voice"] * rows,
        "direction": ["inbound"] * rows,
        "interval_start": [starts[i % 2] for i in range(rows)],
        "interval_end": [starts[i % 2].replace(minute=starts[i % 2].minute + 29) for i in range(rows)],
    }
    for n, name in enumerate((*schema.KPI_MEASURES, *schema.KPI_MAXIMA)):
        data[name] = [(i + 1) * (n + 1) for i in range(rows)]
    for name in schema.KPI_RATIOS:
        data[name] = [None if i == 0 else 0.25 * i for i in range(rows)]
    return pl.DataFrame(data, schema=schema.INTERVAL_KPIS)


def test_same_frame_gives_identical_bytes_whatever_the_chunking() -> None:
    frame = interval_kpis(6)
    chunked = pl.concat([frame.slice(0, 2), frame.slice(2, 3), frame.slice(5)], rechunk=False)
    assert chunked.n_chunks() > 1

    first = parquet_bytes(frame, schema=schema.INTERVAL_KPIS)
    assert parquet_bytes(frame, schema=schema.INTERVAL_KPIS) == first
    assert parquet_bytes(chunked, schema=schema.INTERVAL_KPIS) == first
    assert parquet_bytes(frame.clone(), schema=schema.INTERVAL_KPIS) == first

    zstd = parquet_bytes(frame, compression="zstd", schema=schema.INTERVAL_KPIS)
    assert zstd == parquet_bytes(chunked, compression="zstd", schema=schema.INTERVAL_KPIS)
    assert zstd != first
    assert read_parquet_bytes(zstd).equals(read_parquet_bytes(first))


def test_file_carries_no_writer_varying_metadata_and_has_statistics() -> None:
    body = parquet_bytes(interval_kpis(), schema=schema.INTERVAL_KPIS)
    meta = pq.ParquetFile(io.BytesIO(body)).metadata
    assert set(meta.metadata or {}) == {b"ARROW:schema"}
    assert meta.created_by.startswith("parquet-cpp-arrow version")
    column = meta.row_group(0).column(meta.schema.names.index("offered"))
    assert column.compression == "SNAPPY"
    stats = column.statistics
    assert stats is not None and stats.has_min_max
    assert (stats.min, stats.max, stats.null_count) == (1, 4, 0)
    ratio = meta.row_group(0).column(meta.schema.names.index("answer_rate")).statistics
    assert ratio.null_count == 1


def test_types_follow_the_project_conventions() -> None:
    body = parquet_bytes(interval_kpis(), schema=schema.INTERVAL_KPIS)
    stored = pq.read_schema(io.BytesIO(body))
    assert stored.field("offered").type == pa.int64()
    assert stored.field("handle_sum_ms").type == pa.int64()
    assert stored.field("aht_s").type == pa.float64()
    assert stored.field("interval_start").type == pa.timestamp("us", tz="UTC")
    assert stored.field("queue_id").type == pa.string()
    assert stored.field("local_date").type == pa.date32()
    assert read_parquet_bytes(body).schema == schema.INTERVAL_KPIS


def test_frame_is_cast_to_the_schema_and_reordered() -> None:
    frame = pl.DataFrame(
        {
            "count": pl.Series([1, 2], dtype=pl.Int32),
            "name": pl.Series(["a", "b"], dtype=pl.Categorical),
            "at": pl.Series([datetime(2026, 1, 1, 12), datetime(2026, 1, 2, 12)]).dt.replace_time_zone(
                "America/New_York"
            ),
            "ratio": pl.Series([1, None], dtype=pl.Int64),
        }
    )
    target = pl.Schema({"at": schema.UTC_US, "name": pl.String, "count": pl.Int64, "ratio": pl.Float64})
    back = read_parquet_bytes(parquet_bytes(frame, schema=target))
    assert back.schema == target
    assert back["at"][0] == datetime(2026, 1, 1, 17, tzinfo=UTC)  # same instant, stored in UTC
    assert back["name"].to_list() == ["a", "b"]
    assert back["ratio"].to_list() == [1.0, None]


def test_empty_and_all_null_frames_take_the_schema() -> None:
    empty = pl.DataFrame(schema=schema.DAILY_KPIS)
    assert read_parquet_bytes(parquet_bytes(empty, schema=schema.DAILY_KPIS)).schema == schema.DAILY_KPIS
    nulls = pl.DataFrame({"a": [None, None], "b": [1, 2]})
    target = pl.Schema({"a": pl.Int64, "b": pl.Int64})
    assert read_parquet_bytes(parquet_bytes(nulls, schema=target)).schema == target


@pytest.mark.parametrize(
    ("frame", "target", "column", "text"),
    [
        (pl.DataFrame({"a": [1]}), pl.Schema({"a": pl.Int64, "b": pl.Int64}), "b", "missing columns ['b']"),
        (pl.DataFrame({"a": [1], "z": [2]}), pl.Schema({"a": pl.Int64}), "z", "unexpected columns ['z']"),
        (pl.DataFrame({"a": ["abc"]}), pl.Schema({"a": pl.Int64}), "a", "cannot be stored as Int64"),
        (pl.DataFrame({"a": [1.5]}), pl.Schema({"a": pl.Int64}), "a", "cannot be stored as Int64"),
        (pl.DataFrame({"a": [2**40]}), pl.Schema({"a": pl.Int32}), "a", "cannot be stored as Int32"),
        (
            pl.DataFrame({"a": [datetime(2026, 1, 1)]}),
            pl.Schema({"a": schema.UTC_US}),
            "a",
            "naive Datetime",
        ),
    ],
)
def test_mismatch_names_the_column(frame: pl.DataFrame, target: pl.Schema, column: str, text: str) -> None:
    with pytest.raises(ParquetSchemaError) as caught:
        parquet_bytes(frame, schema=target)
    assert caught.value.column == column
    assert text in str(caught.value)
    assert repr(column) in str(caught.value) or f"'{column}'" in str(caught.value)


def test_naive_timestamps_are_refused_without_a_schema() -> None:
    with pytest.raises(ParquetSchemaError, match="'when' is a naive Datetime"):
        parquet_bytes(pl.DataFrame({"when": [datetime(2026, 1, 1)]}))
    with pytest.raises(ValueError, match="Compression 'gzip' is not supported"):
        parquet_bytes(pl.DataFrame({"a": [1]}), compression="gzip")  # type: ignore[arg-type]


def test_read_selected_columns_and_check_schema() -> None:
    body = parquet_bytes(interval_kpis(), schema=schema.INTERVAL_KPIS)
    picked = read_parquet_bytes(body, columns=["queue_id", "offered"])
    assert picked.columns == ["queue_id", "offered"]
    checked = read_parquet_bytes(body, schema=schema.INTERVAL_KPIS, columns=["offered", "aht_s"])
    assert checked.schema == pl.Schema({"offered": pl.Int64, "aht_s": pl.Float64})


def test_arrow_schema_of_nested_types() -> None:
    converted = arrow_schema(schema.QUEUES)
    assert converted.field("service_levels").type == pa.list_(
        pa.struct([("media_type", pa.string()), ("target", pa.float64()), ("duration_ms", pa.int64())])
    )
    assert converted.field("date_created").type == pa.timestamp("us", tz="UTC")
    queues = directory("q1").with_columns(date_created=pl.lit(datetime(2025, 1, 1, tzinfo=UTC)))
    assert read_parquet_bytes(parquet_bytes(queues, schema=schema.QUEUES)).equals(queues)


def test_a_partition_of_an_earlier_schema_reads_with_the_new_columns_null() -> None:
    current = schema.INTERVAL_KPIS
    frame = interval_kpis(3)
    older = frame.drop("talk_count", "wait_max_ms", "avg_talk_s")
    body = parquet_bytes(older)
    whole = read_parquet_bytes(body, current=current)
    assert whole.columns == list(current)
    assert whole["talk_count"].is_null().all() and whole["wait_max_ms"].dtype == pl.Int64
    assert whole.drop("talk_count", "wait_max_ms", "avg_talk_s").equals(older)
    some = read_parquet_bytes(body, columns=["offered", "talk_count"], current=current)
    assert some.columns == ["offered", "talk_count"] and some["talk_count"].is_null().all()
    assert some["offered"].to_list() == frame["offered"].to_list()
    with pytest.raises(pl.exceptions.ColumnNotFoundError):
        read_parquet_bytes(body, columns=["offered", "no_such_column"], current=current)
