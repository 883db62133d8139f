"""The Parquet I/O manager in real Dagster runs: range runs, batches, windows with gaps, metadata, S3 mode."""

# Fixtures imported from s3_fixtures are named again as test arguments, which is how pytest uses them.

from datetime import date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from dagster_aws.s3 import S3Resource

from genesys_assets.defs.io_manager import (
    ALLOW_MISSING_PARTITIONS,
    PartitionBatches,
    PartitionedParquetIOManager,
    StoredPartitions,
)
from genesys_assets.lake.parquet import read_parquet_bytes

pytestmark = pytest.mark.e2e  # runs Dagster (and child processes)

DAILY = dg.DailyPartitionsDefinition(
    start_date="2026-01-01", end_date="2026-01-11", timezone="America/New_York"
)
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
WINDOW = dg.TimeWindowPartitionMapping(start_offset=-2, end_offset=1)


def day_frame(key: str) -> pl.DataFrame:
    """Rows of a toy daily table: one per hour of the first three hours, values from the date."""
    day = date.fromisoformat(key)
    return pl.DataFrame(
        {"day": [day] * 3, "hour": [0, 1, 2], "offered": [day.day * 10 + h for h in range(3)]}
    )


@dg.asset(partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run())
def daily_counts(context: dg.AssetExecutionContext) -> dict[str, pl.DataFrame]:
    """Toy upstream: one frame per partition key of the run (many keys in a range run)."""
    return {key: day_frame(key) for key in context.partition_keys}


@dg.asset(
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    ins={"daily_counts": dg.AssetIn(partition_mapping=WINDOW, metadata={ALLOW_MISSING_PARTITIONS: True})},
)
def windowed(context: dg.AssetExecutionContext, daily_counts: StoredPartitions) -> dict[str, pl.DataFrame]:
    """Toy gap-tolerant consumer: records which upstream days were seen around each day."""
    seen = sorted(daily_counts)
    return {
        key: pl.DataFrame(
            {
                "day": [key],
                "seen": [",".join(seen)],
                "offered": [sum(f["offered"].sum() for f in daily_counts.values())],
            }
        )
        for key in context.partition_keys
    }


@dg.asset(partitions_def=DAILY, ins={"daily_counts": dg.AssetIn(partition_mapping=WINDOW)})
def strict_windowed(daily_counts: StoredPartitions) -> dict[str, pl.DataFrame]:
    """Toy consumer that needs every partition of its window."""
    raise AssertionError("never reached when a partition is missing")


@dg.asset(ins={"daily_counts": dg.AssetIn(metadata={ALLOW_MISSING_PARTITIONS: True})})
def totals(daily_counts: StoredPartitions) -> pl.DataFrame:
    """Toy unpartitioned consumer of every stored partition."""
    return pl.DataFrame(
        {"days": [len(daily_counts)], "offered": [sum(f["offered"].sum() for f in daily_counts.values())]}
    )


@dg.asset
def queues() -> pl.DataFrame:
    """Toy unpartitioned table."""
    return pl.DataFrame({"queue_id": ["q1", "q2"], "name": ["Sales", "Support"]})


@dg.asset
def queue_count(queues: pl.DataFrame) -> pl.DataFrame:
    return pl.DataFrame({"n": [queues.height]})


def run_range(
    io_manager: PartitionedParquetIOManager,
    instance: dg.DagsterInstance,
    selection: list[Any],
    start: str,
    end: str,
) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions(
        assets=[daily_counts, windowed],
        jobs=[dg.define_asset_job("range_job", selection=selection)],
        resources={"io_manager": io_manager},
    )
    return defs.get_job_def("range_job").execute_in_process(
        instance=instance, tags={RANGE_START: start, RANGE_END: end}
    )


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """All error messages (with causes) of the failed steps."""
    texts = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None:
            texts.append(error.message)
            error = error.cause
    return "\n".join(texts)


def materializations(result: dg.ExecuteInProcessResult, asset: str) -> dict[str | None, dict[str, Any]]:
    found = {}
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        if mat.asset_key == dg.AssetKey(asset):
            found[mat.partition] = {name: value.value for name, value in mat.metadata.items()}
    return found


@pytest.fixture
def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.ephemeral()


def test_range_run_writes_every_partition_and_window_skips_the_gap(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    manager = PartitionedParquetIOManager(base_dir=str(tmp_path / "lake"))
    # Two single-run ranges around an outage day, 2026-01-03.
    for start, end in (("2026-01-01", "2026-01-02"), ("2026-01-04", "2026-01-06")):
        result = run_range(manager, instance, [daily_counts], start, end)
        assert result.success

    folder = tmp_path / "lake" / "daily_counts"
    assert sorted(p.name for p in folder.iterdir()) == [
        "2026-01-01.parquet",
        "2026-01-02.parquet",
        "2026-01-04.parquet",
        "2026-01-05.parquet",
        "2026-01-06.parquet",
    ]
    stored = read_parquet_bytes((folder / "2026-01-05.parquet").read_bytes())
    assert stored.equals(day_frame("2026-01-05"))

    mats = materializations(result, "daily_counts")
    assert sorted(mats) == ["2026-01-04", "2026-01-05", "2026-01-06"]
    for key, meta in mats.items():
        assert meta["dagster/row_count"] == 3
        assert meta["dagster/uri"] == str(folder / f"{key}.parquet")
        assert [c.name for c in meta["dagster/column_schema"].columns] == ["day", "hour", "offered"]

    # One day with a window of -2..+1 around it, 2026-01-03 missing but allowed.
    single = dg.materialize(
        [daily_counts, windowed],
        selection=[windowed],
        partition_key="2026-0104"[:0] + "2026-01-04",
        resources={"io_manager": manager},
        instance=instance,
    )
    assert single.success
    frame = read_parquet_bytes((tmp_path / "lake" / "windowed" / "2026-01-04.parquet").read_bytes())
    assert frame["seen"].to_list() == ["2026-01-02,2026-01-04,2026-01-05"]
    assert materializations(single, "windowed")["2026-01-04"]["dagster/row_count"] == 1
    logged = [entry.user_message for entry in instance.all_logs(single.run_id)]
    assert any("Skipped missing partition(s) 2026-01-03 of daily_counts" in text for text in logged)

    # A range run of the consumer loads the union window (clipped at the start date), still skipping the gap.
    ranged = run_range(manager, instance, [windowed], "2026-01-02", "2026-01-04")
    assert ranged.success
    for key in ("2026-01-02", "2026-01-03", "2026-01-04"):
        frame = read_parquet_bytes((tmp_path / "lake" / "windowed" / f"{key}.parquet").read_bytes())
        assert frame["seen"].to_list() == ["2026-01-01,2026-01-02,2026-01-04,2026-01-05"]


def test_missing_partition_without_permission_names_asset_partition_and_fix(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    manager = PartitionedParquetIOManager(base_dir=str(tmp_path))
    assert run_range(manager, instance, [daily_counts], "2026-01-01", "2026-01-02").success
    result = dg.materialize(
        [daily_counts, strict_windowed],
        selection=[strict_windowed],
        partition_key="2026-01-02",
        resources={"io_manager": manager},
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    text = failure_text(result)
    assert "asset daily_counts has no stored partition(s) 2026-01-03" in text
    assert "materialize those partitions of daily_counts" in text
    assert "allow_missing_partitions" in text


def test_returned_keys_must_match_the_run(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    @dg.asset(partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run(), name="daily_counts")
    def wrong_keys(context: dg.AssetExecutionContext) -> dict[str, pl.DataFrame]:
        keys = list(context.partition_keys)[1:]
        return {**{key: day_frame(key) for key in keys}, "2026-02-01": day_frame("2026-02-01")}

    defs = dg.Definitions(
        assets=[wrong_keys],
        jobs=[dg.define_asset_job("range_job", selection=[wrong_keys])],
        resources={"io_manager": PartitionedParquetIOManager(base_dir=str(tmp_path))},
    )
    result = defs.get_job_def("range_job").execute_in_process(
        instance=instance, tags={RANGE_START: "2026-01-01", RANGE_END: "2026-01-03"}, raise_on_error=False
    )
    text = failure_text(result)
    assert "missing partitions 2026-01-01" in text
    assert "partitions not in this run 2026-02-01" in text
    assert not (tmp_path / "daily_counts").exists()


def test_batches_are_written_as_produced_and_inputs_read_on_demand(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    produced: list[str] = []

    @dg.asset(partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run(), name="daily_counts")
    def in_batches(context: dg.AssetExecutionContext) -> dg.Output[PartitionBatches]:
        keys = list(context.partition_keys)

        def batches() -> Any:
            for start in range(0, len(keys), 2):
                batch = keys[start : start + 2]
                # Every earlier batch is already stored when the next one is produced.
                stored = sorted(p.stem for p in (tmp_path / "daily_counts").glob("*.parquet"))
                assert stored == sorted(produced)
                produced.extend(batch)
                yield {key: day_frame(key) for key in batch}
            return {"produced": len(produced)}  # the run's figures, read when the generator ends

        return dg.Output(PartitionBatches(batches()))

    reads: list[str] = []

    @dg.asset(
        partitions_def=DAILY,
        ins={"daily_counts": dg.AssetIn(partition_mapping=WINDOW, metadata={ALLOW_MISSING_PARTITIONS: True})},
    )
    def first_of_window(
        context: dg.AssetExecutionContext, daily_counts: StoredPartitions
    ) -> dict[str, pl.DataFrame]:
        keys = list(daily_counts)
        reads.extend(daily_counts.load(keys[:1]))
        return {context.partition_key: daily_counts[keys[0]]}

    manager = PartitionedParquetIOManager(base_dir=str(tmp_path))
    defs = dg.Definitions(
        assets=[in_batches, first_of_window],
        jobs=[dg.define_asset_job("range_job", selection=[in_batches])],
        resources={"io_manager": manager},
    )
    result = defs.get_job_def("range_job").execute_in_process(
        instance=instance, tags={RANGE_START: "2026-01-01", RANGE_END: "2026-01-05"}
    )
    assert produced == [f"2026-01-0{d}" for d in range(1, 6)]
    mats = materializations(result, "daily_counts")
    assert sorted(mats) == produced
    assert {meta["produced"] for meta in mats.values()} == {5}  # the run's figures, on every partition
    assert {meta["dagster/row_count"] for meta in mats.values()} == {3}

    window = dg.materialize(
        [in_batches, first_of_window],
        selection=[first_of_window],
        partition_key="2026-01-04",
        resources={"io_manager": manager},
        instance=instance,
    )
    assert window.success and reads == ["2026-01-02"]  # one of the four stored window days was read


def test_batches_must_cover_the_run_once(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    def run_batches(*batches: list[str]) -> str:
        @dg.asset(partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run(), name="daily_counts")
        def batched() -> dg.Output[PartitionBatches]:
            return dg.Output(PartitionBatches([{key: day_frame(key) for key in batch} for batch in batches]))

        defs = dg.Definitions(
            assets=[batched],
            jobs=[dg.define_asset_job("range_job", selection=[batched])],
            resources={"io_manager": PartitionedParquetIOManager(base_dir=str(tmp_path))},
        )
        result = defs.get_job_def("range_job").execute_in_process(
            instance=instance, tags={RANGE_START: "2026-01-01", RANGE_END: "2026-01-03"}, raise_on_error=False
        )
        assert not result.success
        return failure_text(result)

    assert "produced no frame for partitions 2026-01-03" in run_batches(["2026-01-01"], ["2026-01-02"])
    twice = run_batches(["2026-01-01", "2026-01-02"], ["2026-01-02", "2026-01-03"])
    assert "not in this run or were produced twice: 2026-01-02" in twice
    assert "not in this run or were produced twice: 2026-02-01" in run_batches(["2026-02-01"])
    # Earlier batches of a failed step are whole files; no materialization was recorded for them.
    assert sorted(p.name for p in (tmp_path / "daily_counts").iterdir()) == [
        "2026-01-01.parquet",
        "2026-01-02.parquet",
    ]


def test_failed_encoding_keeps_the_stored_partition(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    manager = PartitionedParquetIOManager(base_dir=str(tmp_path))
    assert run_range(manager, instance, [daily_counts], "2026-01-01", "2026-01-02").success
    before = {p.name: p.read_bytes() for p in (tmp_path / "daily_counts").iterdir()}

    @dg.asset(partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run(), name="daily_counts")
    def naive_times(context: dg.AssetExecutionContext) -> dict[str, pl.DataFrame]:
        good = {key: day_frame(key) for key in context.partition_keys}
        good["2026-01-02"] = pl.DataFrame({"at": [datetime(2026, 1, 2, 5)]})  # naive: refused
        return good

    defs = dg.Definitions(
        assets=[naive_times],
        jobs=[dg.define_asset_job("range_job", selection=[naive_times])],
        resources={"io_manager": manager},
    )
    result = defs.get_job_def("range_job").execute_in_process(
        instance=instance, tags={RANGE_START: "2026-01-01", RANGE_END: "2026-01-02"}, raise_on_error=False
    )
    assert "asset daily_counts, partition 2026-01-02: Column 'at' is a naive Datetime" in failure_text(result)
    after = {p.name: p.read_bytes() for p in (tmp_path / "daily_counts").iterdir()}
    assert after == before  # nothing rewritten, no temporary files left


def test_unpartitioned_assets_and_all_partition_reads(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    manager = PartitionedParquetIOManager(base_dir=str(tmp_path), compression="zstd")
    result = dg.materialize([queues, queue_count], resources={"io_manager": manager}, instance=instance)
    assert result.success
    assert read_parquet_bytes((tmp_path / "queues.parquet").read_bytes())["queue_id"].to_list() == [
        "q1",
        "q2",
    ]
    assert read_parquet_bytes((tmp_path / "queue_count.parquet").read_bytes())["n"].to_list() == [2]
    meta = materializations(result, "queues")[None]
    assert meta["dagster/row_count"] == 2
    assert meta["dagster/uri"] == str(tmp_path / "queues.parquet")

    missing = dg.materialize(
        [queues, queue_count],
        selection=[queue_count],
        resources={"io_manager": PartitionedParquetIOManager(base_dir=str(tmp_path / "empty"))},
        instance=instance,
        raise_on_error=False,
    )
    assert "asset queues has not been stored yet" in failure_text(missing)
    assert "materialize queues first" in failure_text(missing)


def test_s3_mode_range_run_and_window(
    moto_s3: str, s3_client: Any, s3_bucket: str, instance: dg.DagsterInstance
) -> None:
    manager = PartitionedParquetIOManager(
        base_dir=f"s3://{s3_bucket}/lake", s3=S3Resource(endpoint_url=moto_s3, region_name="us-east-1")
    )
    assert run_range(manager, instance, [daily_counts], "2026-01-01", "2026-01-04").success
    keys = sorted(item["Key"] for item in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert keys == [f"lake/daily_counts/2026-01-0{d}.parquet" for d in range(1, 5)]
    head = s3_client.head_object(Bucket=s3_bucket, Key=keys[0], ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "AES256" and head["ChecksumSHA256"]

    s3_client.delete_object(Bucket=s3_bucket, Key="lake/daily_counts/2026-01-02.parquet")
    result = dg.materialize(
        [daily_counts, windowed],
        selection=[windowed],
        partition_key="2026-01-03",
        resources={"io_manager": manager},
        instance=instance,
    )
    assert result.success
    assert materializations(result, "windowed")["2026-01-03"]["dagster/uri"] == (
        f"s3://{s3_bucket}/lake/windowed/2026-01-03.parquet"
    )
    body = s3_client.get_object(Bucket=s3_bucket, Key="lake/windowed/2026-01-03.parquet")["Body"].read()
    assert read_parquet_bytes(body)["seen"].to_list() == ["2026-01-01,2026-01-03,2026-01-04"]

    # The default S3Resource() follows AWS_ENDPOINT_URL set by the moto_s3 fixture.
    from_env = PartitionedParquetIOManager(base_dir=f"s3://{s3_bucket}/lake")
    totals_run = dg.materialize(
        [daily_counts, totals], selection=[totals], resources={"io_manager": from_env}, instance=instance
    )
    assert totals_run.success
    body = s3_client.get_object(Bucket=s3_bucket, Key="lake/totals.parquet")["Body"].read()
    assert read_parquet_bytes(body)["days"].to_list() == [3]


def test_reduced_reads_one_partition_at_a_time_and_keeps_only_the_results() -> None:
    events: list[str] = []

    def read(key: str, columns: object) -> pl.DataFrame:
        events.append(f"read {key} {columns}")
        return pl.DataFrame({"v": [1] * len(key)})

    def reduce(frame: pl.DataFrame) -> int:
        events.append(f"reduce {frame.height}")
        return frame.height

    stored = StoredPartitions(["a", "bb", "ccc"], read)
    # Missing keys are skipped, repeats read once, in the order asked for.
    assert stored.reduced(["ccc", "missing", "a", "ccc"], reduce, columns=["v"]) == [3, 1]
    assert events == ["read ccc ['v']", "reduce 3", "read a ['v']", "reduce 1"]
    assert stored.reduced([], reduce) == []
