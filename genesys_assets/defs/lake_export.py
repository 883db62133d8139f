"""Export assets: the pivoted daily and weekly tables written to S3 as Hive-partitioned Parquet."""

from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import polars as pl

from genesys_assets.config import SETTINGS
from genesys_assets.defs.automation import DAILY_EXPORT_FRESHNESS, WEEKLY_EXPORT_FRESHNESS
from genesys_assets.defs.common import (
    GROUP_EXPORT,
    batch_figures,
    kpi_figures,
    range_partitioned,
    week_day_rollups,
)
from genesys_assets.defs.failures import permanent_failures_not_retried
from genesys_assets.defs.io_manager import StoredPartitions, table_schema
from genesys_assets.defs.partitions import daily_partitions, weekly_partitions
from genesys_assets.defs.resources import S3ExportResource
from genesys_assets.lake.s3 import ExportedObject
from genesys_assets.schema import EXPORT_DAILY, EXPORT_WEEKLY
from genesys_assets.transforms import export
from genesys_assets.transforms.batching import RowBudgetBatches

_WRITE_THREADS = 8


class _ExportWriter:
    """Writes one object per partition (a few threads: a range run writes hundreds), batch by batch, and
    puts each partition's own S3 object and figures on its materialization."""

    def __init__(self, context: dg.AssetExecutionContext, export_s3: S3ExportResource, grain: str) -> None:
        self.context = context
        self.export_s3 = export_s3
        self.grain = grain
        self.objects = 0
        self.bytes = 0

    def write(self, frames: dict[str, pl.DataFrame], schema: pl.Schema) -> None:
        def put(key: str) -> ExportedObject:
            return self.export_s3.write(frames[key], schema, self.grain, key, run_id=self.context.run.run_id)

        with (
            permanent_failures_not_retried(self.context),
            ThreadPoolExecutor(max_workers=max(1, min(_WRITE_THREADS, len(frames)))) as pool,
        ):
            written_objects = dict(zip(frames, pool.map(put, frames), strict=True))
            # Once every object of the batch is in place, one listing finds what else their folders hold.
            removed = self.export_s3.remove_strays(self.grain, list(frames))
        if removed:
            self.context.log.warning(
                f"Removed {len(removed)} stray object(s) from the partition folders: {removed[:5]}"
            )
        for key, written in written_objects.items():
            frame = frames[key]
            self.context.add_asset_metadata(
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
            self.objects += 1
            self.bytes += written.bytes
        uris = [written.uri for written in written_objects.values()]
        batch_bytes = sum(written.bytes for written in written_objects.values())
        shown = uris[0] if len(uris) == 1 else f"{uris[0]} .. {uris[-1]}"
        self.context.log.info(f"Wrote {len(uris)} {self.grain} object(s), {batch_bytes} bytes: {shown}")

    def result(
        self, schema: pl.Schema, extra: dict[str, dg.MetadataValue] | None = None
    ) -> dg.MaterializeResult:
        return dg.MaterializeResult(
            metadata={
                "dagster/column_schema": table_schema(schema),
                "run_objects": dg.MetadataValue.int(self.objects),
                "run_s3_bytes": dg.MetadataValue.int(self.bytes),
                **(extra or {}),
            }
        )


@dg.asset(
    group_name=GROUP_EXPORT,
    kinds={"polars", "s3"},
    **range_partitioned(daily_partitions),
    freshness_policy=DAILY_EXPORT_FRESHNESS,
)
def queue_export_daily(
    context: dg.AssetExecutionContext,
    queue_kpis_daily: StoredPartitions,
    genesys_queues: pl.DataFrame,
    export_s3: S3ExportResource,
) -> dg.MaterializeResult:
    """One row per queue x media type x direction x local interval, one column per metric, written to
    `s3://BUCKET/PREFIX/queue_export/grain=daily/date=YYYY-MM-DD/part-0.parquet`.

    The schema is the same for every partition, DST days included (timezone-aware `interval_start` plus
    `local_date`, `local_time`, `utc_offset`), so the whole prefix reads as one table in DuckDB, Athena or Spark.
    """
    writer = _ExportWriter(context, export_s3, "daily")
    # As many partitions as fit the row budget are read, built and written per pass.
    plan = RowBudgetBatches(context.partition_keys, SETTINGS.pipeline.batch_rows)
    for keys in plan:
        frames = export.export_daily_partitions(
            queue_kpis_daily.load(keys), genesys_queues, SETTINGS.pipeline.timezone
        )
        writer.write(frames, EXPORT_DAILY)
        plan.record(frame.height for frame in frames.values())
    return writer.result(EXPORT_DAILY, batch_figures(plan))


@dg.asset(
    group_name=GROUP_EXPORT,
    kinds={"polars", "s3"},
    **range_partitioned(weekly_partitions),
    freshness_policy=WEEKLY_EXPORT_FRESHNESS,
)
def queue_export_weekly(
    context: dg.AssetExecutionContext,
    queue_kpis_weekly: StoredPartitions,
    queue_kpis_daily: StoredPartitions,
    genesys_queues: pl.DataFrame,
    export_s3: S3ExportResource,
) -> dg.MaterializeResult:
    """One row per queue x media type x direction x local date of the week, with the week's `days_observed` and
    `days_interpolated`, written to `s3://BUCKET/PREFIX/queue_export/grain=weekly/week=YYYY-MM-DD/part-0.parquet`.

    Each daily partition is read alone, for the columns a day roll-up needs, and rolled up before the next
    is read (`week_day_rollups`).
    """
    writer = _ExportWriter(context, export_s3, "weekly")
    for week_key in context.partition_keys:
        frame = export.export_weekly(
            week_day_rollups(queue_kpis_daily, week_key),
            queue_kpis_weekly[week_key],
            genesys_queues,
            SETTINGS.pipeline.timezone,
        )
        writer.write({week_key: frame}, EXPORT_WEEKLY)
    return writer.result(EXPORT_WEEKLY)
