"""Daily and weekly partitions in the org's timezone: keys are local dates, weeks start on Monday.

A daily key's time window runs from local midnight to the next local midnight, so DST days are 23 or 25 real
hours long. The last daily key is the last completed local day (`end_offset=0`); the restatement schedule
keeps the most recent days current.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from genesys_assets.config import SETTINGS

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=SETTINGS.pipeline.start_date.isoformat(), timezone=SETTINGS.pipeline.timezone, end_offset=0
)
weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=SETTINGS.pipeline.start_date.isoformat(), timezone=SETTINGS.pipeline.timezone, day_offset=1
)

# queue_kpis_daily reads the interval KPI table over this many days on each side of its own day.
gap_window_mapping = dg.TimeWindowPartitionMapping(
    start_offset=-SETTINGS.pipeline.gap_window_days,
    end_offset=SETTINGS.pipeline.gap_window_days,
    allow_nonexistent_upstream_partitions=True,
)


# queue_interval_kpis reads the raw table over its trailing channel window (which channels had traffic).
channel_window_mapping = dg.TimeWindowPartitionMapping(
    start_offset=-(SETTINGS.pipeline.channel_window_days - 1),
    end_offset=0,
    allow_nonexistent_upstream_partitions=True,
)


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The local days of the partitions a run materializes: one, or a whole range in a single-run backfill."""
    return [date.fromisoformat(key) for key in context.partition_keys]


def contiguous_runs(keys: list[str], all_keys: list[str]) -> list[tuple[str, str]]:
    """`keys` as (first, last) pairs of runs of consecutive keys of `all_keys`, in `all_keys` order: the ranges a
    single-run backfill policy materializes as one run each."""
    position = {key: index for index, key in enumerate(all_keys)}
    ranges: list[tuple[str, str]] = []
    previous = None
    for key in sorted(keys, key=position.__getitem__):
        if ranges and previous is not None and position[key] == position[previous] + 1:
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
        previous = key
    return ranges
