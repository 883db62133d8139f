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


def _write_partitions(
    context: dg.AssetExecutionContext,
    export_s3: S3ExportResource,
    frames: dict[str, pl.DataFrame],
    schema: pl.Schema,
    grain: str,
) -> dg.MaterializeResult:
    """Write one object per partition (a few threads: a range run writes hundreds), then put each
    partition's own S3 object and figures on its materialization, in partition order."""

    def write(key: str) -> ExportedObject:
        return export_s3.write(frames[key], schema, grain, key, run_id=context.run_id)

    with ThreadPoolExecutor(max_workers=max(1, min(_WRITE_THREADS, len(frames)))) as pool:
        written_objects = dict(zip(frames, pool.map(write, frames), strict=True))
    for key, written in written_objects.items():
        frame = frames[key]
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
    return dg.MaterializeResult(
        metadata={
            "dagster/column_schema": table_schema(schema),
            "run_objects": dg.MetadataValue.int(len(written_objects)),
            "run_s3_bytes": dg.MetadataValue.int(sum(o.bytes for o in written_objects.values())),
        }
    )


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
    # A month of partitions' tables is built per pass.
    frames: dict[str, pl.DataFrame] = {}
    for keys in batches(sorted(queue_kpis_daily)):
        frames.update(
            export.export_daily_partitions(
                {key: queue_kpis_daily[key] for key in keys}, genesys_queues, SETTINGS.timezone
            )
        )
    return _write_partitions(context, export_s3, frames, EXPORT_DAILY, "daily")


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
    frames: dict[str, pl.DataFrame] = {}
    for week_key, weekly in sorted(queue_kpis_weekly.items()):
        monday = date.fromisoformat(week_key)
        days = [f for k, f in queue_kpis_daily.items() if 0 <= (date.fromisoformat(k) - monday).days < 7]
        frames[week_key] = export.export_weekly(pl.concat(days), weekly, genesys_queues, SETTINGS.timezone)
    return _write_partitions(context, export_s3, frames, EXPORT_WEEKLY, "weekly")
