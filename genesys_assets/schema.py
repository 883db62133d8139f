"""Column names and polars schemas of every table the pipeline writes.

One place for the shape of the data: the transforms build frames with these schemas, the I/O manager and
the S3 export write them, and the asset metadata describes them. Bump ``SCHEMA_VERSION`` whenever a column
is added, removed or changes type; it is written into every S3 object's tags.
"""

from __future__ import annotations

from typing import Final

import polars as pl

SCHEMA_VERSION: Final = "3"

UTC_US = pl.Datetime("us", "UTC")

# Metrics requested from the conversation aggregates API, in a fixed order.
AGGREGATE_METRICS: Final[tuple[str, ...]] = (
    "nOffered",
    "tAnswered",
    "tAbandon",
    "tFlowOut",
    "tHandle",
    "tTalkComplete",
    "tHeldComplete",
    "tAcw",
    "tWait",
    "nOverSla",
    "oServiceLevel",
    "tShortAbandon",
    "nTransferred",
    "nBlindTransferred",
    "nConsultTransferred",
    "tAlert",
    "tNotResponding",
    "nConnected",
    "nOutbound",
    "nOutboundAttempted",
    "nOutboundConnected",
    "nOutboundAbandoned",
)

SERVICE_LEVEL: Final = pl.Struct({"media_type": pl.String, "target": pl.Float64, "duration_ms": pl.Int64})

# Queue directory (`genesys_queues`).
QUEUES: Final = pl.Schema(
    {
        "queue_id": pl.String,
        "queue_name": pl.String,
        "division_id": pl.String,
        "division_name": pl.String,
        # One entry per media settings block: target as a fraction 0..1 (null if unset), threshold in ms.
        "service_levels": pl.List(SERVICE_LEVEL),
        "date_created": UTC_US,
    }
)

# Raw long table (`raw_queue_aggregates`): one row per queue x media type x direction x interval x metric.
RAW_AGGREGATES: Final = pl.Schema(
    {
        "local_date": pl.Date,
        "queue_id": pl.String,
        "media_type": pl.String,
        "direction": pl.String,
        "interval_start": UTC_US,
        "interval_end": UTC_US,
        "metric": pl.String,
        "count": pl.Int64,
        "sum": pl.Int64,
        "min": pl.Int64,
        "max": pl.Int64,
        "numerator": pl.Int64,
        "denominator": pl.Int64,
        "target": pl.Float64,
        "extracted_at": UTC_US,
    }
)

# Additive measures of the interval KPI table, in output order. Counts and millisecond sums.
KPI_MEASURES: Final[tuple[str, ...]] = (
    "offered",
    "answered",
    "answer_sum_ms",
    "abandoned",
    "flow_out",
    "handle_count",
    "handle_sum_ms",
    "talk_sum_ms",
    "hold_sum_ms",
    "acw_sum_ms",
    "wait_count",
    "wait_sum_ms",
    "sl_numerator",
    "sl_denominator",
    "short_abandoned",
    "abandon_sum_ms",
    "flow_out_sum_ms",
    "talk_count",
    "hold_count",
    "acw_count",
    "transferred",
    "blind_transferred",
    "consult_transferred",
    "alert_count",
    "alert_sum_ms",
    "not_responding_count",
    "not_responding_sum_ms",
    "connected",
    "outbound",
    "outbound_attempted",
    "outbound_connected",
    "outbound_abandoned",
    "over_sla",
)

# Maxima of the interval KPI table: rolled up with max, never summed; null on an estimated (gap) row.
KPI_MAXIMA: Final[tuple[str, ...]] = ("wait_max_ms",)

# Ratios derived from the measures; null where the denominator is zero (or the ratio is undefined for the
# media type, as abandons are for web messaging).
KPI_RATIOS: Final[tuple[str, ...]] = (
    "aht_s",
    "asa_s",
    "answer_rate",
    "abandon_rate",
    "service_level",
    "avg_talk_s",
    "avg_hold_s",
    "avg_acw_s",
    "avg_wait_s",
    "avg_abandon_s",
)

_MEASURE_TYPES = {name: pl.Int64 for name in (*KPI_MEASURES, *KPI_MAXIMA)}
_RATIO_TYPES = {name: pl.Float64 for name in KPI_RATIOS}

# Interval KPI table (`queue_interval_kpis`): full grid, one row per queue x media type x direction x local interval.
INTERVAL_KPIS: Final = pl.Schema(
    {
        "local_date": pl.Date,
        "queue_id": pl.String,
        "media_type": pl.String,
        "direction": pl.String,
        "interval_start": UTC_US,
        "interval_end": UTC_US,
        **_MEASURE_TYPES,
        **_RATIO_TYPES,
    }
)

# Daily table with gaps filled (`queue_kpis_daily`): the interval grid plus provenance.
FILL_METHODS: Final[tuple[str, ...]] = ("observed", "linear", "carried_forward", "carried_backward", "none")

DAILY_KPIS: Final = pl.Schema(
    {
        **INTERVAL_KPIS,
        "is_interpolated": pl.Boolean,
        "fill_method": pl.String,
        "is_provisional": pl.Boolean,
    }
)

# Weekly table (`queue_kpis_weekly`): one row per queue x media type x direction x local week (Monday start).
WEEKLY_KPIS: Final = pl.Schema(
    {
        "week_start": pl.Date,
        "queue_id": pl.String,
        "media_type": pl.String,
        "direction": pl.String,
        **_MEASURE_TYPES,
        **_RATIO_TYPES,
        "days_observed": pl.Int32,
        "days_interpolated": pl.Int32,
        "is_provisional": pl.Boolean,
    }
)

# Export tables written to S3. Identical for every partition of a grain, DST days included.
EXPORT_DAILY: Final = pl.Schema(
    {
        "queue_id": pl.String,
        "queue_name": pl.String,
        "media_type": pl.String,
        "direction": pl.String,
        "interval_start": UTC_US,
        "interval_end": UTC_US,
        "local_date": pl.Date,
        "local_time": pl.String,  # "HH:MM" wall-clock time of interval_start in the org's timezone
        "utc_offset": pl.String,  # "+01:00"
        **_MEASURE_TYPES,
        **_RATIO_TYPES,
        "is_interpolated": pl.Boolean,
        "fill_method": pl.String,
        "is_provisional": pl.Boolean,
    }
)

EXPORT_WEEKLY: Final = pl.Schema(
    {
        "week_start": pl.Date,
        "queue_id": pl.String,
        "queue_name": pl.String,
        "media_type": pl.String,
        "direction": pl.String,
        "local_date": pl.Date,
        "interval_start": UTC_US,  # local midnight of local_date, as an instant
        "utc_offset": pl.String,
        **_MEASURE_TYPES,
        **_RATIO_TYPES,
        "is_interpolated": pl.Boolean,
        "fill_method": pl.String,
        "is_provisional": pl.Boolean,
        "days_observed": pl.Int32,
        "days_interpolated": pl.Int32,
    }
)

# Each stored table's schema today, by asset name. A partition written by an earlier schema version reads
# with the columns it lacks as nulls (`lake.parquet.read_parquet_bytes`), so a lake upgraded in place keeps
# working until history is re-materialized.
TABLE_SCHEMAS: Final[dict[str, pl.Schema]] = {
    "genesys_queues": QUEUES,
    "raw_queue_aggregates": RAW_AGGREGATES,
    "queue_interval_kpis": INTERVAL_KPIS,
    "queue_kpis_daily": DAILY_KPIS,
    "queue_kpis_weekly": WEEKLY_KPIS,
}
