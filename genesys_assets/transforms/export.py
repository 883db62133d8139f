"""The export tables written to S3 (`schema.EXPORT_DAILY`, `schema.EXPORT_WEEKLY`).

One schema per grain for every partition, DST days included: the instant (`interval_start`, UTC) plus the
local reading of it (`local_date`, `local_time` "HH:MM", `utc_offset` "+01:00"), so a Hive-partitioned
prefix reads as one table. Queue names come from the directory; an id the directory no longer lists (a
deleted queue, a division the client cannot see) is named "unknown queue <id>". Counts without activity are
0 and ratios over a zero denominator null, as in the tables they come from.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from genesys_assets import localtime
from genesys_assets.schema import EXPORT_DAILY, EXPORT_WEEKLY, UTC_US
from genesys_assets.transforms.kpis import CHANNEL_KEYS, with_ratios
from genesys_assets.transforms.weekly import day_rollup


def _queue_names(queues: pl.DataFrame) -> pl.DataFrame:
    return queues.select("queue_id", "queue_name").unique("queue_id", keep="first", maintain_order=True)


def _with_queue_name(frame: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    """The frame (in its order) with each row's queue name from `names` (`_queue_names`)."""
    named = frame.join(names, on="queue_id", how="left", maintain_order="left")
    return named.with_columns(
        queue_name=pl.coalesce(pl.col("queue_name"), pl.lit("unknown queue ") + pl.col("queue_id"))
    )


def _utc_offset(instant: pl.Expr, timezone: str) -> pl.Expr:
    return instant.dt.convert_time_zone(timezone).dt.strftime("%:z")


def _local_readings(starts: pl.Series, timezone: str) -> pl.DataFrame:
    """The local wall time ("HH:MM") and UTC offset of each distinct interval start: a day has 46 to 100 of
    them, so they are formatted once and joined onto the rows."""
    localtime.zone(timezone)  # fail early with the timezone's own message
    return (
        starts.unique()
        .to_frame("interval_start")
        .with_columns(
            local_time=pl.col("interval_start").dt.convert_time_zone(timezone).dt.strftime("%H:%M"),
            utc_offset=_utc_offset(pl.col("interval_start"), timezone),
        )
    )


def export_daily_partitions(
    frames: Mapping[str, pl.DataFrame], queues: pl.DataFrame, timezone: str
) -> dict[str, pl.DataFrame]:
    """`DAILY_KPIS` rows of each partition -> `EXPORT_DAILY`: queue name, local wall time and UTC offset of
    each interval, sorted by queue_id, media_type, direction, interval_start.

    The queue names and local readings are small lookup tables joined onto each partition's rows.
    """
    names = _queue_names(queues)
    exported = {}
    for key, frame in frames.items():
        readings = _local_readings(frame["interval_start"], timezone)
        named = _with_queue_name(frame, names).join(
            readings, on="interval_start", how="left", maintain_order="left"
        )
        exported[key] = named.select(pl.col(name).cast(dtype) for name, dtype in EXPORT_DAILY.items()).sort(
            *CHANNEL_KEYS, "interval_start"
        )
    return exported


def export_daily(daily: pl.DataFrame, queues: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """`export_daily_partitions` of one day's rows."""
    return export_daily_partitions({"day": daily}, queues, timezone)["day"]


def _local_midnights(days: list[date], timezone: str) -> pl.DataFrame:
    return pl.DataFrame(
        {"local_date": days, "interval_start": [localtime.local_midnight(day, timezone) for day in days]},
        schema={"local_date": pl.Date, "interval_start": UTC_US},
    )


def export_weekly(
    daily: pl.DataFrame, weekly: pl.DataFrame, queues: pl.DataFrame, timezone: str
) -> pl.DataFrame:
    """`EXPORT_WEEKLY`: one row per queue x media type x direction x local date of the week.

    `daily` holds the week's `DAILY_KPIS` rows or their day roll-ups (`weekly.day_rollup`); both give the
    same table. Each row holds the day's summed measures (null only when no interval of the day is known)
    and maxima with ratios recomputed from them; `interval_start` is the local midnight instant and
    `utc_offset` its offset; `is_interpolated`/`is_provisional` are true if any interval of the day is;
    `fill_method` is the day's least certain method (`weekly.day_fill_method`); `days_observed`/`days_interpolated`
    come from the matching `WEEKLY_KPIS` row. Sorted by queue_id, media_type, direction, local_date.
    """
    localtime.zone(timezone)
    days = day_rollup(daily)
    days = with_ratios(days).with_columns(week_start=localtime.week_start_expr(pl.col("local_date")))
    midnights = _local_midnights(days["local_date"].unique().sort().to_list(), timezone)
    days = days.join(midnights, on="local_date", how="left").with_columns(
        utc_offset=_utc_offset(pl.col("interval_start"), timezone)
    )
    counts = weekly.select("week_start", *CHANNEL_KEYS, "days_observed", "days_interpolated")
    days = days.join(counts, on=["week_start", *CHANNEL_KEYS], how="left")
    frame = _with_queue_name(days, _queue_names(queues))
    return (
        frame.select(pl.col(name).cast(dtype) for name, dtype in EXPORT_WEEKLY.items())
        .sort(*CHANNEL_KEYS, "local_date")
        .match_to_schema(EXPORT_WEEKLY)
    )
