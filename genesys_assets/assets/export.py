"""Export assets: the pivoted daily and weekly tables written to S3 as Hive-partitioned Parquet."""

from datetime import date

import dagster as dg
import polars as pl

from genesys_assets.assets.common import GROUP_EXPORT, OWNERS, column_schema, kpi_figures
from genesys_assets.partitions import SETTINGS, daily_partitions, weekly_partitions
from genesys_assets.resources import S3ExportResource
from genesys_assets.schema import EXPORT_DAILY, EXPORT_WEEKLY
from genesys_assets.transforms import export


def _written_metadata(objects: list, frame: pl.DataFrame) -> dict[str, dg.MetadataValue]:
    first = objects[0]
    return {
        "dagster/uri": dg.MetadataValue.text(first.uri if len(objects) == 1 else f"{len(objects)} objects"),
        "s3_uri": dg.MetadataValue.url(first.uri) if len(objects) == 1 else dg.MetadataValue.text(first.uri),
        "s3_bytes": dg.MetadataValue.int(sum(o.bytes for o in objects)),
        "sha256": dg.MetadataValue.text(first.sha256_b64),
        "dagster/row_count": dg.MetadataValue.int(frame.height),
        **kpi_figures(frame),
    }


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
    objects, frames = [], []
    for key, daily in sorted(queue_kpis_daily.items()):
        frame = export.export_daily(daily, genesys_queues, SETTINGS.timezone)
        objects.append(export_s3.write(frame, EXPORT_DAILY, "daily", key, run_id=context.run_id))
        frames.append(frame)
        context.log.info(f"wrote {objects[-1].uri} ({objects[-1].bytes} bytes, {frame.height} rows)")
    return dg.MaterializeResult(
        metadata={
            **_written_metadata(objects, pl.concat(frames)),
            "dagster/column_schema": column_schema(EXPORT_DAILY),
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
    objects, frames = [], []
    for week_key, weekly in sorted(queue_kpis_weekly.items()):
        monday = date.fromisoformat(week_key)
        days = [f for k, f in queue_kpis_daily.items() if 0 <= (date.fromisoformat(k) - monday).days < 7]
        frame = export.export_weekly(pl.concat(days), weekly, genesys_queues, SETTINGS.timezone)
        objects.append(export_s3.write(frame, EXPORT_WEEKLY, "weekly", week_key, run_id=context.run_id))
        frames.append(frame)
        context.log.info(f"wrote {objects[-1].uri} ({objects[-1].bytes} bytes, {frame.height} rows)")
    return dg.MaterializeResult(
        metadata={
            **_written_metadata(objects, pl.concat(frames)),
            "dagster/column_schema": column_schema(EXPORT_WEEKLY),
        }
    )
