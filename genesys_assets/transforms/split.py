"""Splitting a frame that covers a range of local days into one frame per daily partition key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from genesys_assets.schema import RAW_AGGREGATES


def split_by_local_date(
    frame: pl.DataFrame | None, days: Sequence[date], schema: pl.Schema = RAW_AGGREGATES
) -> dict[str, pl.DataFrame]:
    """A frame per day (ISO key), empty where the day had no rows: a quiet day is still an observed day.

    Rows whose `local_date` is not one of the days are an error: they would be silently dropped otherwise.
    """
    if frame is None:
        frame = pl.DataFrame(schema=schema)
    wanted = set(days)
    stray = frame.filter(~pl.col("local_date").is_in(list(wanted)))
    if stray.height:
        found = sorted(set(stray["local_date"].to_list()))
        raise ValueError(
            f"Rows fall on local dates {found[:5]} outside the partitions being written ({min(days)}..{max(days)})."
        )
    parts = {
        key[0]: part
        for key, part in frame.partition_by("local_date", as_dict=True, maintain_order=True).items()
    }
    return {day.isoformat(): parts.get(day, pl.DataFrame(schema=frame.schema)) for day in days}
