"""Assets that call the Genesys Cloud API: the queue directory and the raw conversation aggregates."""

import dataclasses
import time
from collections.abc import Generator, Iterator
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl

from genesys_assets.config import SETTINGS
from genesys_assets.defs import checks
from genesys_assets.defs.common import GENESYS_POOL, GROUP_RAW, OWNERS, range_partitioned
from genesys_assets.defs.failures import permanent_failures_not_retried
from genesys_assets.defs.io_manager import PartitionBatches
from genesys_assets.defs.partitions import daily_partitions, partition_days
from genesys_assets.defs.resources import GenesysResource
from genesys_assets.genesys import ChunkPlan, FetchProgress
from genesys_assets.schema import AGGREGATE_METRICS
from genesys_assets.transforms import dimensions
from genesys_assets.transforms.dimensions import PartialGroupRow
from genesys_assets.transforms.directory import queues_frame
from genesys_assets.transforms.flatten import parse_aggregate_answer
from genesys_assets.transforms.split import split_by_local_date


@dg.asset(
    group_name=GROUP_RAW,
    kinds={"genesys", "polars"},
    owners=OWNERS,
    pool=GENESYS_POOL,
    tags={"domain": "contact_center"},
)
def genesys_queues(context: dg.AssetExecutionContext, genesys: GenesysResource) -> dg.Output[pl.DataFrame]:
    """The routing queue directory: id, name, division, each channel's service-level target and the created
    date.

    Read from `GET /api/v2/routing/queues` (all pages). Filtered to `GENESYS_QUEUE_IDS` when that is set.
    Downstream tables take queue names from here. Which channels a queue serves is not read from its
    `mediaSettings` (every queue carries all five blocks): it comes from traffic.
    """
    with permanent_failures_not_retried(context), genesys.get_client(context.log) as client:
        queues = client.list_queues(queue_ids=SETTINGS.pipeline.queue_ids or None)
        stats = client.stats
    frame = queues_frame(queues)
    return dg.Output(
        frame,
        metadata={
            "queue_count": dg.MetadataValue.int(frame.height),
            "api_calls": dg.MetadataValue.int(stats.api_calls),
            "http_429": dg.MetadataValue.int(stats.http_429),
        },
    )


@dg.asset(
    group_name=GROUP_RAW,
    kinds={"genesys", "polars"},
    **range_partitioned(daily_partitions),
    pool=GENESYS_POOL,
    tags={"domain": "contact_center"},
    check_specs=checks.RAW_CHECKS,
)
def raw_queue_aggregates(
    context: dg.AssetExecutionContext, genesys: GenesysResource
) -> Iterator[dg.Output[PartitionBatches] | dg.AssetCheckEvaluation | dg.Output[None]]:
    """Conversation aggregates per queue x media type x direction x interval, one long row per metric.

    One query covers every queue (`groupBy: [queueId, mediaType, direction]`; with `GENESYS_QUEUE_IDS`, one
    query per 100 queues) with local-midnight bounds and the org's `timeZone`. A range backfill is one run:
    the client plans the fewest calls the API limits allow (synchronous chunks or async aggregates jobs),
    fetches the next chunk while the current one is stored, and each chunk is split into its local days and
    written as it arrives. Counts, sums, numerators and denominators are kept so every KPI downstream is
    exact. A day with no activity is an empty partition, not a gap. Nothing is dropped: a partial group
    (one Genesys sent without a grouping key) is kept with that key null and counted in `partial_groups`, and
    a media type or direction outside Genesys's enums is kept, logged once and counted.
    """
    days = partition_days(context)
    extracted_at = datetime.now(UTC)
    results = checks.PartitionChecks(context, checks.RAW_CHECKS)
    started = time.monotonic()

    def survey(
        answer: pl.DataFrame,
        partial: dict[tuple[tuple[str, ...], str], PartialGroupRow],
        unknown: dict[str, set[str]],
    ) -> None:
        # Nothing an answer holds is dropped: partial groups and values outside Genesys's enums are kept,
        # logged once per run and counted (into `partial` and `unknown`) for the metadata.
        for row in dimensions.partial_groups(answer):
            key = (row.missing, row.metric)
            if key not in partial:
                context.log.warning(
                    f"Partial groups without {'/'.join(row.missing)} carry {row.metric}; kept in "
                    "raw_queue_aggregates with that key null"
                    + (", so KPI columns fed by it understate their channels." if row.feeds_kpi else ".")
                )
            seen = partial.get(key)
            partial[key] = (
                row
                if seen is None
                else dataclasses.replace(seen, rows=seen.rows + row.rows, count=seen.count + row.count)
            )
        for column, values in dimensions.unknown_values(answer).items():
            new = set(values) - unknown.setdefault(column, set())
            if new:
                context.log.warning(
                    f"{column} value(s) {sorted(new)} are not in Genesys's documented enum; kept as their "
                    "own channel."
                )
                unknown[column] |= new

    def report(progress: FetchProgress) -> None:
        elapsed = time.monotonic() - started
        left = elapsed / progress.chunks_done * (progress.chunks_total - progress.chunks_done)
        context.log.info(f"{progress}; {elapsed:.1f} s elapsed, about {left:.0f} s left")

    def read_answer(chunk: ChunkPlan, body: bytes) -> pl.DataFrame:
        return parse_aggregate_answer(
            body,
            window_start=chunk.window_start,
            window_end=chunk.window_end,
            interval_minutes=SETTINGS.pipeline.interval_minutes,
            timezone=SETTINGS.pipeline.timezone,
            extracted_at=extracted_at,
        )

    def batches() -> Generator[dict[str, pl.DataFrame], None, dict[str, dg.MetadataValue]]:
        # Each answer is read from its JSON bytes straight into columns, split into its local days (a chunk
        # holds whole days) and written before the next is processed, so a year is never held at once. The
        # run's figures are returned when the last chunk is written.
        metric_rows = query_chunks = 0
        partial: dict[tuple[tuple[str, ...], str], PartialGroupRow] = {}
        unknown: dict[str, set[str]] = {}
        with permanent_failures_not_retried(context), genesys.get_client(context.log) as client:
            for chunk in client.iter_aggregates(
                days[0],
                days[-1],
                timezone=SETTINGS.pipeline.timezone,
                granularity=SETTINGS.pipeline.granularity,
                queue_ids=SETTINGS.pipeline.queue_ids or None,
                metrics=AGGREGATE_METRICS,
                on_progress=report,
                read_answer=read_answer,
                combine=pl.concat,
                in_flight=client.settings.queries_in_flight,
                max_rows_held=SETTINGS.pipeline.batch_rows,
            ):
                chunk_days = [day for day in days if chunk.first_day <= day <= chunk.last_day]
                frames = split_by_local_date(chunk.answer, chunk_days)
                for key, frame in frames.items():
                    results.record(key, checks.raw_rules(frame, date.fromisoformat(key)))
                survey(chunk.answer, partial, unknown)
                metric_rows += chunk.answer.height
                query_chunks += 1
                context.log.info(
                    f"Flattened chunk {query_chunks} ({chunk.first_day}..{chunk.last_day}): "
                    f"{chunk.answer.height} metric rows"
                )
                yield frames
            stats = client.stats
        return {
            "days": dg.MetadataValue.int(len(days)),
            "metric_rows": dg.MetadataValue.int(metric_rows),
            "api_calls": dg.MetadataValue.int(stats.api_calls),
            "http_429": dg.MetadataValue.int(stats.http_429),
            "retries": dg.MetadataValue.int(stats.retries),
            "query_chunks": dg.MetadataValue.int(query_chunks),
            "partial_group_rows": dg.MetadataValue.int(sum(row.rows for row in partial.values())),
            "partial_groups": dg.MetadataValue.json([row.as_dict() for row in partial.values()]),
            "unknown_dimension_values": dg.MetadataValue.int(sum(len(v) for v in unknown.values())),
            "unknown_values": dg.MetadataValue.json({k: sorted(v) for k, v in unknown.items() if v}),
            "granularity": dg.MetadataValue.text(SETTINGS.pipeline.granularity),
            "timezone": dg.MetadataValue.text(SETTINGS.pipeline.timezone),
        }

    yield dg.Output(PartitionBatches(batches()))
    yield from results.events()
