"""Small frames for the transform tests: the queue directory, channels of days, raw rows, a KPI day.

One builder each, so every test module lays out its input the same way, in the schemas of `schema.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import polars as pl

from genesys_assets import localtime
from genesys_assets.schema import INTERVAL_KPIS, QUEUES, RAW_AGGREGATES
from genesys_assets.transforms.kpis import expected_grid, with_ratios

NY = "America/New_York"
BERLIN = "Europe/Berlin"

Channel = tuple[str, str] | tuple[str, str, str]  # (queue, media type[, direction]); inbound by default


def _channel(channel: Channel) -> tuple[str, str, str]:
    return (channel[0], channel[1], channel[2] if len(channel) == 3 else "inbound")


def directory(*queue_ids: str, created: datetime | None = None) -> pl.DataFrame:
    """A QUEUES frame: each queue with the five settings blocks every real queue carries."""
    levels = [
        {"media_type": m, "target": 0.8, "duration_ms": 20_000}
        for m in ("voice", "callback", "chat", "email", "message")
    ]
    return pl.DataFrame(
        {
            "queue_id": list(queue_ids),
            "queue_name": [f"Queue {q}" for q in queue_ids],
            "division_id": ["d1"] * len(queue_ids),
            "division_name": ["Home"] * len(queue_ids),
            "service_levels": [levels] * len(queue_ids),
            "date_created": [created] * len(queue_ids),
        },
        schema=QUEUES,
    )


def pairs(days: date | Sequence[date], *channels: Channel) -> pl.DataFrame:
    """The channels of each day (`kpis.active_pairs` shape): local_date, queue_id, media_type, direction."""
    day_list = [days] if isinstance(days, date) else list(days)
    rows = [(day, *_channel(c)) for day in day_list for c in channels]
    return pl.DataFrame(
        rows,
        schema={
            "local_date": pl.Date,
            "queue_id": pl.String,
            "media_type": pl.String,
            "direction": pl.String,
        },
        orient="row",
    )


def raw_rows(
    day: date, tz: str, rows: Sequence[tuple[Channel, int, str, dict[str, int]]], minutes: int = 30
) -> pl.DataFrame:
    """(channel, interval index of the day, metric, stats) -> RAW_AGGREGATES rows."""
    starts = localtime.interval_starts(day, tz, minutes)
    records = []
    for channel, index, metric, stats in rows:
        queue, media, direction = _channel(channel)
        record: dict[str, object] = dict.fromkeys(RAW_AGGREGATES)
        record.update(
            local_date=day,
            queue_id=queue,
            media_type=media,
            direction=direction,
            interval_start=starts[index],
            interval_end=starts[index] + timedelta(minutes=minutes),
            metric=metric,
            extracted_at=datetime(2026, 12, 1, tzinfo=UTC),
            **stats,
        )
        records.append(record)
    return pl.DataFrame(records, schema=RAW_AGGREGATES)


def kpi_day(
    day: date,
    offered: int | pl.Expr,
    tz: str = NY,
    channels: Sequence[Channel] = (("q1", "voice"),),
    minutes: int = 30,
) -> pl.DataFrame:
    """An INTERVAL_KPIS frame of one day's grid: offered as given, the other measures derived from it."""
    grid = expected_grid(pairs(day, *channels), [day], tz, minutes)
    offered_expr = offered if isinstance(offered, pl.Expr) else pl.lit(offered, dtype=pl.Int64)
    frame = (
        grid.with_columns(offered_expr.cast(pl.Int64).alias("offered"))
        .with_columns(
            answered=pl.col("offered") // 2,
            answer_sum_ms=pl.col("offered") // 2 * 12_000,
            abandoned=pl.col("offered") // 4,
            flow_out=pl.lit(0, dtype=pl.Int64),
            handle_count=pl.col("offered") // 2,
            handle_sum_ms=pl.col("offered") // 2 * 300_000,
            talk_sum_ms=pl.col("offered") * 100_000,
            hold_sum_ms=pl.lit(0, dtype=pl.Int64),
            acw_sum_ms=pl.col("offered") * 10_000,
            wait_count=pl.col("offered"),
            wait_sum_ms=pl.col("offered") * 1_000,
            sl_numerator=pl.col("offered") // 3,
            sl_denominator=pl.col("offered") // 2 + pl.col("offered") // 4,
            short_abandoned=pl.col("offered") // 8,
            abandon_sum_ms=pl.col("offered") // 4 * 30_000,
            flow_out_sum_ms=pl.lit(0, dtype=pl.Int64),
            talk_count=pl.col("offered") // 2,
            hold_count=pl.col("offered") // 5,
            hold_sum_ms_=pl.lit(0, dtype=pl.Int64),
            acw_count=pl.col("offered") // 2,
            transferred=pl.col("offered") // 6,
            blind_transferred=pl.col("offered") // 12,
            consult_transferred=pl.col("offered") // 6 - pl.col("offered") // 12,
            alert_count=pl.col("offered") // 2 + pl.col("offered") // 7,
            alert_sum_ms=(pl.col("offered") // 2 + pl.col("offered") // 7) * 6_000,
            not_responding_count=pl.col("offered") // 7,
            not_responding_sum_ms=pl.col("offered") // 7 * 8_000,
            connected=pl.col("offered") // 2,
            outbound=pl.lit(0, dtype=pl.Int64),
            outbound_attempted=pl.lit(0, dtype=pl.Int64),
            outbound_connected=pl.lit(0, dtype=pl.Int64),
            outbound_abandoned=pl.lit(0, dtype=pl.Int64),
            over_sla=pl.col("offered") // 2 - pl.col("offered") // 3,
            wait_max_ms=pl.when(pl.col("offered") > 0).then(pl.col("offered") * 2_000).otherwise(None),
        )
        .with_columns(hold_sum_ms=pl.col("hold_count") * 40_000)
        .drop("hold_sum_ms_")
    )
    return with_ratios(frame).select(pl.col(n).cast(t) for n, t in INTERVAL_KPIS.items())
