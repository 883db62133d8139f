"""Flatten conversation-aggregates answers into the raw long table (`schema.RAW_AGGREGATES`).

Input: one `ConversationAggregateQueryResponse` body as JSON bytes (`parse_aggregate_answer`, what the
pipeline calls), for one query window of whole local days, grouped by queueId, mediaType and direction.
Output: one row per queue x media type x direction x interval x metric with the integer statistics, the
target as a 0..1 fraction, the local date of the interval start and the extraction instant.

Rules:

* **Partial groups are kept.** Genesys leaves a `groupBy` key out of a group when a metric does not carry
  that dimension, so a group whose `group` object lacks any of `queueId`, `mediaType` and `direction` (or
  has no `group` at all) holds data that is in no other group. Its rows are kept, with the missing key as
  null: the null is the marker of a partial group (`kpis.complete_group`), which the KPI tables never merge
  into a channel's rows and `transforms.dimensions` counts for the run's metadata and checks. A group whose
  key is *present* but null, empty or not a string is malformed and raises `AggregatesFormatError`.
* **Numbers.** Every statistic may arrive as a float (`1234.0`). count, sum, min, max, numerator and
  denominator are converted exactly to Int64; a non-integral, non-finite, boolean or non-numeric value
  raises. `target` is a float fraction by the rule of `genesys.records.normalise_percentage` (a value
  above 1 is a percentage; outside 0..100 it is null).
* **Intervals.** Each bucket string must be `start/end` of two offset-qualified instants, exactly
  `interval_minutes` long, inside `[window_start, window_end)`, and start on a bucket boundary counted
  from local midnight in the query's timezone (`localtime.interval_starts`). Anything else raises.
* **Contract violations pass through.** Values that parse but break the data contract (negative counts,
  numerator above denominator, duplicate group/interval/metric rows) are kept; the blocking asset checks
  (`transforms.contracts`) report them with the partition.
* Unknown fields (qualifier, ratio, percentiles, views, extra group keys) are ignored; a metric name
  outside `AGGREGATE_METRICS` is kept as its own rows.

One implementation with a checked fallback: `parse_aggregate_answer` reads the bytes into Arrow columns
with a fixed schema and builds the frame with vectorised gathers. An answer that reader cannot take as it
is goes to `parse_aggregate_results_checked`, which walks the parsed objects, converts the statistics in
bulk after a scan of their Python types, and takes the value-by-value path that names the offending group,
interval and metric only for an odd value. Both give the same frame for the same answer.
"""

from __future__ import annotations

import io
import math
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import chain
from typing import Any, Final

import orjson
import polars as pl
import pyarrow as pa

from genesys_assets import localtime
from genesys_assets.genesys.records import normalise_percentage_expr
from genesys_assets.schema import RAW_AGGREGATES, UTC_US

INT_STATS: Final[tuple[str, ...]] = ("count", "sum", "min", "max", "numerator", "denominator")
_EXACT_FLOAT_LIMIT: Final = 2**53
_INT64_MAX: Final = 2**63 - 1


class AggregatesFormatError(ValueError):
    """An aggregates answer cannot be read as the documented `ConversationAggregateQueryResponse` shape."""


@dataclass(frozen=True)
class _Bucket:
    start: datetime
    end: datetime
    local_date: date


# Group dimension of the answer -> column of the raw table, in groupBy order.
GROUP_COLUMNS: Final[dict[str, str]] = {
    "queueId": "queue_id",
    "mediaType": "media_type",
    "direction": "direction",
}
_GROUP_SCHEMA: Final = pl.Schema({column: pl.String for column in GROUP_COLUMNS.values()})


@dataclass(frozen=True)
class _Where:
    """Location of one metric entry, for error messages."""

    group: tuple[object, ...]
    interval: object
    metric: object

    def describe(self) -> str:
        return f"{_group_label(self.group)}, interval {self.interval!r}, metric {self.metric!r}"


def _aware_utc(instant: datetime, name: str) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {instant!r}.")
    return instant.astimezone(UTC)


class _BucketIndex:
    """Parses and validates bucket strings against the window's grid, caching each distinct string."""

    def __init__(
        self, window_start: datetime, window_end: datetime, interval_minutes: int, timezone: str
    ) -> None:
        if interval_minutes <= 0:
            raise ValueError(f"interval_minutes must be positive, got {interval_minutes}.")
        if window_end <= window_start:
            raise ValueError(f"Empty query window {window_start.isoformat()}/{window_end.isoformat()}.")
        self.window_start = window_start
        self.window_end = window_end
        self.minutes = interval_minutes
        self.step = timedelta(minutes=interval_minutes)
        self.timezone = timezone
        self.tz = localtime.zone(timezone)
        self.allowed: dict[datetime, date] = {}
        first = localtime.local_date_of(window_start, timezone)
        last = localtime.local_date_of(window_end - timedelta(microseconds=1), timezone)
        for day in localtime.iter_days(first, last):
            for start in localtime.interval_starts(day, timezone, interval_minutes):
                self.allowed[start] = day
        self.codes: dict[str, int] = {}
        self.buckets: list[_Bucket] = []

    def code(self, text: object, group: str) -> int:
        """Index of a validated bucket; raises AggregatesFormatError naming the group and the problem."""
        if isinstance(text, str):
            known = self.codes.get(text)
            if known is not None:
                return known
        bucket = self._parse(text, group)
        code = len(self.buckets)
        self.buckets.append(bucket)
        self.codes[text] = code  # type: ignore[index]  # _parse rejects non-strings
        return code

    def _parse(self, text: object, group: str) -> _Bucket:
        if not isinstance(text, str) or text.count("/") != 1:
            raise AggregatesFormatError(
                f"Aggregates answer, {group}: interval {text!r} is not an ISO-8601 'start/end' pair; "
                "every data[] entry needs an interval such as "
                "'2026-03-01T05:00:00.000Z/2026-03-01T05:30:00.000Z'."
            )
        start_text, end_text = text.split("/")
        try:
            start = localtime.parse_iso_instant(start_text)
            end = localtime.parse_iso_instant(end_text)
        except ValueError as exc:
            raise AggregatesFormatError(
                f"Aggregates answer, {group}: interval {text!r} does not hold two offset-qualified "
                f"ISO-8601 instants ({exc})."
            ) from None
        if end - start != self.step:
            lasts_ms = (end - start) // timedelta(milliseconds=1)
            raise AggregatesFormatError(
                f"Aggregates answer, {group}: interval {text!r} lasts {lasts_ms} ms ({end - start}), but the "
                f"query's granularity is {self.step // timedelta(milliseconds=1)} ms ({self.step}, "
                f"{self.minutes} minutes); the answer does not belong to this query."
            )
        if start < self.window_start or end > self.window_end:
            raise AggregatesFormatError(
                f"Aggregates answer, {group}: interval {text!r} lies outside the queried window "
                f"{localtime.iso_interval(self.window_start, self.window_end)}; the answer does not belong "
                "to this query."
            )
        local_date = self.allowed.get(start)
        if local_date is None:
            wall = start.astimezone(self.tz)
            raise AggregatesFormatError(
                f"Aggregates answer, {group}: interval {text!r} starts at {wall:%Y-%m-%d %H:%M} "
                f"{self.timezone}, which is not on a {self.minutes}-minute boundary counted from local "
                "midnight; the query must be sent with the same timeZone and granularity."
            )
        return _Bucket(start, end, local_date)


def _group_label(values: tuple[object, ...]) -> str:
    return "group " + " ".join(
        f"{key}={value!r}" if value is not None else f"(no {key})"
        for key, value in zip(GROUP_COLUMNS, values, strict=False)
    )


def _group_keys(result: object, index: int) -> tuple[str | None, ...]:
    """The `GROUP_COLUMNS` values of a result group, None for each key a partial group leaves out."""
    if not isinstance(result, Mapping):
        raise AggregatesFormatError(
            f"Aggregates answer: results[{index}] is a {type(result).__name__}, not an object with "
            "'group' and 'data'."
        )
    group = result.get("group")
    if group is None:
        return (None,) * len(GROUP_COLUMNS)
    if not isinstance(group, Mapping):
        raise AggregatesFormatError(
            f"Aggregates answer: results[{index}].group is a {type(group).__name__}, not an object of "
            "dimension names to values."
        )
    values = tuple(group.get(key) for key in GROUP_COLUMNS)
    for key, value in zip(GROUP_COLUMNS, values, strict=True):
        if key in group and (not isinstance(value, str) or not value):
            raise AggregatesFormatError(
                f"Aggregates answer: results[{index}] ({_group_label(values)}) has {key} {value!r}; a group "
                "that carries the key must give it a non-empty string (a partial group leaves the key out)."
            )
    return values


def _integral_column(name: str, values: list[Any], where: Callable[[int], _Where]) -> pl.Series:
    """An Int64 column from JSON numbers (ints or integral floats), exactly; raises on anything else."""
    types = set(map(type, values))
    types.discard(type(None))
    if types <= {int}:
        try:
            return pl.Series(name, values, dtype=pl.Int64, strict=True)
        except (OverflowError, TypeError, pl.exceptions.PolarsError):
            pass  # an int beyond Int64: located below
    elif types <= {int, float}:
        floats = pl.Series(name, values, dtype=pl.Float64, strict=True)
        finite_integral = floats.is_finite() & (floats == floats.floor()) & (floats.abs() < 2.0**63)
        if finite_integral.fill_null(True).all():
            if not (floats.abs() >= _EXACT_FLOAT_LIMIT).any():
                return floats.cast(pl.Int64)
            # Python ints beyond 2**53 lost digits in the float column: convert those rows exactly.
            exact = [None if v is None else int(v) for v in values]
            return pl.Series(name, exact, dtype=pl.Int64, strict=True)
    for row, value in enumerate(values):
        if value is None:
            continue
        ok = (type(value) is int and -_INT64_MAX - 1 <= value <= _INT64_MAX) or (
            type(value) is float and math.isfinite(value) and value.is_integer() and abs(value) < 2.0**63
        )
        if not ok:
            kind = "not a number" if type(value) not in (int, float) else "not a whole number within Int64"
            raise AggregatesFormatError(
                f"Aggregates answer, {where(row).describe()}: stats.{name} is {value!r}, {kind}; counts, "
                "durations in milliseconds, numerators and denominators must be integers (integral floats "
                "such as 1234.0 are accepted)."
            )
    raise AssertionError(f"column {name} failed conversion without an offending value")  # pragma: no cover


def _target_column(values: list[Any], where: Callable[[int], _Where]) -> pl.Series:
    """Float64 targets as 0..1 fractions (values above 1 are percentages); raises on non-numbers."""
    types = set(map(type, values))
    types.discard(type(None))
    if types <= {int, float}:
        targets = pl.Series("target", values, dtype=pl.Float64, strict=True)
        if targets.is_finite().fill_null(True).all():
            return _normalised_target(targets)
    for row, value in enumerate(values):
        if value is not None and (type(value) not in (int, float) or not math.isfinite(value)):
            raise AggregatesFormatError(
                f"Aggregates answer, {where(row).describe()}: stats.target is {value!r}, not a finite "
                "number; the service-level target must be a fraction 0..1 or a percentage."
            )
    raise AssertionError("target column failed conversion without an offending value")  # pragma: no cover


_STATS_SCHEMA: Final = pl.Schema({key: pl.Float64 for key in (*INT_STATS, "target")})
_NUMBER_TYPES: Final = frozenset({int, float, type(None)})


def _normalised_target(targets: pl.Series) -> pl.Series:
    return pl.select(normalise_percentage_expr(pl.lit(targets))).to_series().alias("target")


def _fast_stat_columns(stats: list[Any]) -> list[pl.Series] | None:
    """The statistics columns converted in bulk, or None when anything needs the checked path.

    Taken only when every stats entry is a dict holding only ints, floats and nulls (checked first, since the
    bulk conversion would coerce booleans and numeric strings; this also sends odd types in ignored fields to
    the checked path). Anything else goes through `_checked_stat_columns`, which converts exactly or raises
    with the offending group, interval and metric.
    """
    if set(map(type, stats)) != {dict}:
        return None
    if not set(map(type, chain.from_iterable(map(dict.values, stats)))) <= _NUMBER_TYPES:
        return None
    try:
        table = pl.from_dicts(stats, schema=_STATS_SCHEMA, strict=True)
    except (OverflowError, TypeError, ValueError, pl.exceptions.PolarsError):
        return None
    return _stat_columns_from_floats(table)


def _stat_columns_from_floats(table: pl.DataFrame) -> list[pl.Series] | None:
    """Int64 statistics and 0..1 targets from Float64 columns; None unless every value converts exactly.

    Every integer statistic must be a finite whole number below 2**53 in magnitude (so the float round trip
    is exact), and every target finite.
    """
    columns: list[pl.Series] = []
    for key in INT_STATS:
        floats = table[key]
        whole = floats.is_finite() & (floats == floats.floor()) & (floats.abs() < float(_EXACT_FLOAT_LIMIT))
        if not whole.fill_null(True).all():
            return None
        columns.append(floats.cast(pl.Int64))
    targets = table["target"]
    if not targets.is_finite().fill_null(True).all():
        return None
    columns.append(_normalised_target(targets))
    return columns


def _checked_stat_columns(stats: list[Any], where: Callable[[int], _Where]) -> list[pl.Series]:
    """The statistics columns converted value by value: exact, and raising on the first bad value."""
    for row, entry in enumerate(stats):
        if not isinstance(entry, Mapping):
            raise AggregatesFormatError(
                f"Aggregates answer, {where(row).describe()}: 'stats' is a {type(entry).__name__}, "
                "not an object of statistics."
            )
    columns = [_integral_column(key, [s.get(key) for s in stats], where) for key in INT_STATS]
    columns.append(_target_column([s.get("target") for s in stats], where))
    return columns


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=RAW_AGGREGATES)


def parse_aggregate_results_checked(
    results: Sequence[Mapping[str, Any]] | None,
    *,
    window_start: datetime,
    window_end: datetime,
    interval_minutes: int,
    timezone: str,
    extracted_at: datetime,
) -> pl.DataFrame:
    """Flatten the `results` of one aggregates query window into a `RAW_AGGREGATES` frame.

    `window_start`/`window_end` are the half-open UTC bounds the query was sent with (local midnights,
    `localtime.days_bounds`), `interval_minutes` its granularity and `timezone` its `timeZone`.
    `extracted_at` is stamped on every row. An empty or missing `results` gives an empty frame (a valid
    answer: no activity). Rows keep the answer's order. Raises `AggregatesFormatError` for answers that
    cannot be read (see the module docstring); contract violations in readable values pass through.
    """
    window_start = _aware_utc(window_start, "window_start")
    window_end = _aware_utc(window_end, "window_end")
    extracted_at = _aware_utc(extracted_at, "extracted_at")
    buckets = _BucketIndex(window_start, window_end, interval_minutes, timezone)
    if not results:
        return _empty()

    # One entry per group: its `GROUP_COLUMNS` values (None where a partial group leaves a key out).
    group_values: list[tuple[str | None, ...]] = []
    # One entry per data[] bucket of a kept group.
    entry_group: list[int] = []
    entry_bucket: list[int] = []
    entry_metric_count: list[int] = []
    entry_interval_text: list[object] = []
    # One entry per metric row.
    metric_entries: list[Any] = []

    for result_index, result in enumerate(results):
        keys = _group_keys(result, result_index)
        label = _group_label(keys)
        data = result.get("data") or ()
        if not isinstance(data, Sequence) or isinstance(data, str):
            raise AggregatesFormatError(f"Aggregates answer, {label}: 'data' is not a list of buckets.")
        group_index = len(group_values)
        group_values.append(keys)
        for entry in data:
            if type(entry) is not dict and not isinstance(entry, Mapping):
                raise AggregatesFormatError(f"Aggregates answer, {label}: a data[] entry is not an object.")
            interval_text = entry.get("interval")
            metrics = entry.get("metrics") or ()
            if type(metrics) is not list and (not isinstance(metrics, Sequence) or isinstance(metrics, str)):
                raise AggregatesFormatError(
                    f"Aggregates answer, {label}, interval {interval_text!r}: 'metrics' is not a list."
                )
            entry_group.append(group_index)
            entry_bucket.append(buckets.code(interval_text, label))
            entry_metric_count.append(len(metrics))
            entry_interval_text.append(interval_text)
            metric_entries.extend(metrics)

    if not metric_entries:
        return _empty()

    # Row -> entry lookups for error messages only (cumulative metric counts, searched on demand).
    ends: list[int] = []
    total = 0
    for count in entry_metric_count:
        total += count
        ends.append(total)

    def where(row: int, metric: object = None) -> _Where:
        entry = bisect_right(ends, row)
        group = entry_group[entry]
        if metric is None:
            candidate = metric_entries[row]
            metric = candidate.get("metric") if isinstance(candidate, Mapping) else None
        return _Where(group_values[group], entry_interval_text[entry], metric)

    try:
        names = [m["metric"] for m in metric_entries]
        stats = [m["stats"] for m in metric_entries]
    except (KeyError, TypeError):
        for row, m in enumerate(metric_entries):
            if not isinstance(m, Mapping) or "metric" not in m or "stats" not in m:
                raise AggregatesFormatError(
                    f"Aggregates answer, {where(row, metric='?').describe()}: a metrics[] entry must be an "
                    "object with 'metric' and 'stats'."
                ) from None
        raise  # pragma: no cover

    try:
        metric = pl.Series("metric", names, dtype=pl.String, strict=True)
    except (TypeError, pl.exceptions.PolarsError):
        metric = None
    if metric is None or metric.null_count() or (metric == "").any():
        for row, name in enumerate(names):
            if not isinstance(name, str) or not name:
                raise AggregatesFormatError(
                    f"Aggregates answer, {where(row, metric=name).describe()}: the metric name must be a "
                    "non-empty string."
                )

    stat_series = _fast_stat_columns(stats)
    if stat_series is None:
        stat_series = _checked_stat_columns(stats, where)

    row_entry = (
        pl.DataFrame({"entry": range(len(entry_metric_count)), "n": entry_metric_count})
        .select(pl.col("entry").repeat_by("n").explode())
        .to_series()
        .cast(pl.UInt32)
    )
    return _assemble(
        buckets,
        pl.DataFrame(group_values, schema=_GROUP_SCHEMA, orient="row"),
        pl.Series("group", entry_group, dtype=pl.UInt32),
        pl.Series("bucket", entry_bucket, dtype=pl.UInt32),
        row_entry,
        metric,
        stat_series,
        extracted_at,
    )


def _assemble(
    buckets: _BucketIndex,
    groups: pl.DataFrame,
    entry_group: pl.Series,
    entry_bucket: pl.Series,
    row_entry: pl.Series,
    metric: pl.Series,
    stat_series: list[pl.Series],
    extracted_at: datetime,
) -> pl.DataFrame:
    """The `RAW_AGGREGATES` frame: one row per metric entry, its bucket and group gathered by index."""
    *int_series, target = stat_series
    bucket_table = pl.DataFrame(
        {
            "local_date": [b.local_date for b in buckets.buckets],
            "interval_start": [b.start for b in buckets.buckets],
            "interval_end": [b.end for b in buckets.buckets],
        },
        schema={"local_date": pl.Date, "interval_start": UTC_US, "interval_end": UTC_US},
    )
    row_group = entry_group.gather(row_entry)
    row_bucket = entry_bucket.gather(row_entry)
    frame = pl.DataFrame(
        [
            *bucket_table.select(pl.all().gather(row_bucket)).get_columns(),
            *groups.select(pl.all().gather(row_group)).get_columns(),
            metric.alias("metric"),
            *int_series,
            target,
        ]
    ).with_columns(extracted_at=pl.lit(extracted_at, dtype=UTC_US))
    return frame.select(pl.col(name).cast(dtype) for name, dtype in RAW_AGGREGATES.items())


def parse_aggregate_answer(
    body: bytes,
    *,
    window_start: datetime,
    window_end: datetime,
    interval_minutes: int,
    timezone: str,
    extracted_at: datetime,
) -> pl.DataFrame:
    """Flatten one aggregates answer body (a synchronous query's, or one page of an aggregates job).

    The same frame as `parse_aggregate_results_checked` of the body's `results`, without building Python
    objects for it: the JSON is read straight into Arrow columns with a fixed schema. An answer the columnar
    reader cannot take as it is (a null or empty key, an odd statistic, a bucket off the grid, a value that is
    not JSON) is parsed again into Python objects and flattened by `parse_aggregate_results_checked`, which
    converts it exactly or raises `AggregatesFormatError` naming the offending group, interval and metric. A
    body that is not JSON raises `orjson.JSONDecodeError`, so the HTTP layer can retry a truncated answer.
    """
    window_start = _aware_utc(window_start, "window_start")
    window_end = _aware_utc(window_end, "window_end")
    extracted_at = _aware_utc(extracted_at, "extracted_at")
    buckets = _BucketIndex(window_start, window_end, interval_minutes, timezone)
    frame = _columnar_answer(body, buckets, extracted_at)
    if frame is not None:
        return frame
    answer = orjson.loads(body)
    if not isinstance(answer, dict):
        raise AggregatesFormatError(
            f"Aggregates answer: the body is a JSON {type(answer).__name__}, not an object with 'results'."
        )
    return parse_aggregate_results_checked(
        answer.get("results"),
        window_start=window_start,
        window_end=window_end,
        interval_minutes=interval_minutes,
        timezone=timezone,
        extracted_at=extracted_at,
    )


def _answer_schema() -> pa.Schema:
    stats = pa.struct([(key, pa.float64()) for key in (*INT_STATS, "target")])
    metric = pa.struct([("metric", pa.string()), ("stats", stats)])
    entry = pa.struct([("interval", pa.string()), ("metrics", pa.list_(metric))])
    group = pa.struct([(key, pa.string()) for key in GROUP_COLUMNS])
    result = pa.struct([("group", group), ("data", pa.list_(entry))])
    return pa.schema([("results", pa.list_(result))])


_EXPLICIT_NULL_KEY: Final = re.compile(
    rb'"(?:' + b"|".join(key.encode() for key in GROUP_COLUMNS) + rb')"\s*:\s*null'
)


def _columnar_answer(body: bytes, buckets: _BucketIndex, extracted_at: datetime) -> pl.DataFrame | None:
    """The answer flattened from Arrow columns, or None when it needs the checked path."""
    import pyarrow.compute as pc  # loaded on the first answer, not with the code location
    import pyarrow.json as pa_json

    try:
        table = pa_json.read_json(
            io.BytesIO(body),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=max(len(body) + 64, 1 << 16)),
            parse_options=pa_json.ParseOptions(
                explicit_schema=_answer_schema(),
                unexpected_field_behavior="ignore",
                # A body on one line (what Genesys sends) takes the reader's faster path, about a quarter
                # less CPU; a pretty-printed body is read with line breaks allowed inside its values.
                newlines_in_values=b"\n" in body,
            ),
        )
    except (pa.ArrowException, ValueError, OverflowError):  # OverflowError: a body beyond 2 GiB
        return None
    if table.num_rows != 1:
        return None
    results = table.column("results").combine_chunks()
    if results.null_count:
        return _empty()
    results_flat = pc.list_flatten(results)
    if results_flat.null_count:
        return None  # a null results[] element
    group, data = results_flat.flatten()
    # StructArray.flatten gives every key of a result without a group as null, as the checked path does.
    keys = group.flatten()
    if any(column.null_count for column in keys) and _EXPLICIT_NULL_KEY.search(body):
        # A key the columns read as null is absent (a partial group, kept with the key null) unless the body
        # writes it as null (malformed, reported by the checked path).
        return None
    if any(pc.any(pc.equal(column, "")).as_py() for column in keys):
        return None  # an empty key: malformed, reported by the checked path
    entries = pc.list_flatten(data)
    if len(entries) == 0 or entries.null_count:
        return _empty() if len(entries) == 0 else None
    interval, metrics = entries.flatten()
    if interval.null_count:
        return None
    interval_text = pl.Series("interval", interval)
    codes: dict[str, int] = {}
    try:  # every bucket is validated, those without metrics too, as on the checked path
        for text in interval_text.unique(maintain_order=True):
            codes[text] = buckets.code(text, "group")
    except AggregatesFormatError:
        return None
    rows = pc.list_flatten(metrics)
    if len(rows) == 0:
        return _empty()
    if rows.null_count:
        return None
    name, stats = rows.flatten()
    if name.null_count or stats.null_count or pc.any(pc.equal(name, "")).as_py():
        return None
    stat_series = _stat_columns_from_floats(pl.from_arrow(pa.RecordBatch.from_struct_array(stats)))
    if stat_series is None:
        return None
    entry_bucket = interval_text.replace_strict(codes, return_dtype=pl.UInt32)
    return _assemble(
        buckets,
        pl.DataFrame(dict(zip(GROUP_COLUMNS.values(), keys, strict=True)), schema=_GROUP_SCHEMA),
        pl.Series("group", pc.list_parent_indices(data), dtype=pl.UInt32),
        entry_bucket,
        pl.Series("entry", pc.list_parent_indices(metrics), dtype=pl.UInt32),
        pl.Series("metric", name, dtype=pl.String),
        stat_series,
        extracted_at,
    )
