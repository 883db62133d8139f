"""Export assets: the pivoted daily and weekly tables written to S3 as Hive-partitioned Parquet."""

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import dagster as dg
import polars as pl

from genesys_assets.assets.common import GROUP_EXPORT, OWNERS, batches, kpi_figures
from genesys_assets.io_manager import table_schema
from genesys_assets.lake.s3_export import ExportedObject
from genesys_assets.partitions import SETTINGS, daily_partitions, weekly_partitions
from genesys_assets.resources import S3ExportResource
from genesys_assets.schema import EXPORT_DAILY, EXPORT_WEEKLY
from genesys_assets.transforms import export

_WRITE_THREADS = 8


def _record_object(
    context: dg.AssetExecutionContext, key: str, written: ExportedObject, frame: pl.DataFrame
) -> None:
    """The partition's own S3 object and figures on its materialization (also in a range run)."""
    context.add_asset_metadata(
        {
            "dagster/uri": dg.MetadataValue.text(written.uri),
            "s3_uri": dg.MetadataValue.url(written.uri),
            "s3_bytes": dg.MetadataValue.int(written.bytes),
            "sha256": dg.MetadataValue.text(written.sha256_b64),
            "dagster/row_count": dg.MetadataValue.int(frame.height),
            **kpi_figures(frame),
        },
        partition_key=key,
    )
    context.log.info(f"wrote {written.uri} ({written.bytes} bytes, {frame.height} rows)")


@dg.asset(
    group_name=GROUP_EXPORT,
    kinds={"polars", "s3"},
    owners=OWNERS,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def queue_export_daily(
    context: dg.AssetExecutionContext,
    queue_kpis_daily: dict[str, pl.DataFrame],
    genesys_queues: pl.DataFrame,
    export_s3: S3ExportResource,
) -> dg.MaterializeResult:
    """One row per queue x media type x local interval, one column per metric, written to
    `s3://BUCKET/PREFIX/queue_export/grain=daily/date=YYYY-MM-DD/part-0.parquet`.

    The schema is the same for every partition, DST days included (timezone-aware `interval_start` plus
    `local_date`, `local_time`, `utc_offset`), so the whole prefix reads as one table in DuckDB, Athena or Spark.
    """
    # A month of partitions' tables is built per pass; the objects are encoded and written by a few threads
    # (a range run of a year writes hundreds), then recorded in partition order.
    frames: dict[str, pl.DataFrame] = {}
    for keys in batches(sorted(queue_kpis_daily)):
        frames.update(
            export.export_daily_partitions(
                {key: queue_kpis_daily[key] for key in keys}, genesys_queues, SETTINGS.timezone
            )
        )

    def write(key: str) -> ExportedObject:
        return export_s3.write(frames[key], EXPORT_DAILY, "daily", key, run_id=context.run_id)

    with ThreadPoolExecutor(max_workers=min(_WRITE_THREADS, len(frames))) as pool:
        written_objects = dict(zip(frames, pool.map(write, frames), strict=True))
    total_bytes = 0
    for key, written in written_objects.items():
        _record_object(context, key, written, frames[key])
        total_bytes += written.bytes
    return dg.MaterializeResult(
        metadata={
            "dagster/column_schema": table_schema(EXPORT_DAILY),
            "run_objects": dg.MetadataValue.int(len(queue_kpis_daily)),
            "run_s3_bytes": dg.MetadataValue.int(total_bytes),
        }
    )


@dg.asset(
    group_name=GROUP_EXPORT,
    kinds={"polars", "s3"},
    owners=OWNERS,
    partitions_def=weekly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def queue_export_weekly(
    context: dg.AssetExecutionContext,
    queue_kpis_weekly: dict[str, pl.DataFrame],
    queue_kpis_daily: dict[str, pl.DataFrame],
    genesys_queues: pl.DataFrame,
    export_s3: S3ExportResource,
) -> dg.MaterializeResult:
    """One row per queue x media type x local date of the week, with the week's `days_observed` and
    `days_interpolated`, written to `s3://BUCKET/PREFIX/queue_export/grain=weekly/week=YYYY-MM-DD/part-0.parquet`.
    """
    total_bytes = 0
    for week_key, weekly in sorted(queue_kpis_weekly.items()):
        monday = date.fromisoformat(week_key)
        days = [f for k, f in queue_kpis_daily.items() if 0 <= (date.fromisoformat(k) - monday).days < 7]
        frame = export.export_weekly(pl.concat(days), weekly, genesys_queues, SETTINGS.timezone)
        written = export_s3.write(frame, EXPORT_WEEKLY, "weekly", week_key, run_id=context.run_id)
        _record_object(context, week_key, written, frame)
        total_bytes += written.bytes
    return dg.MaterializeResult(
        metadata={
            "dagster/column_schema": table_schema(EXPORT_WEEKLY),
            "run_objects": dg.MetadataValue.int(len(queue_kpis_weekly)),
            "run_s3_bytes": dg.MetadataValue.int(total_bytes),
        }
    )
