"""Pure data-contract checks behind the Dagster asset checks.

Each function inspects one frame and returns a `CheckOutcome`: whether it passed, a one-line description
with the numbers, how many rows fail and a small JSON-friendly sample of them (dates and instants as ISO
strings). The checks module decides the severity; the intended use is:

* errors that do not block (the data is kept, the figure understated): `check_kpi_metrics_in_complete_groups`;
* blocking (errors): `check_non_negative`, `check_service_level_bounds`, `check_unique_keys`, `check_intervals_in_day`,
  `check_dates_in_week`, `check_grid_complete`, `check_weekly_matches_daily`;
* warnings: `check_answered_abandoned_vs_offered` (answered + abandoned far above offered over a whole day, which
  per interval is normal because each metric lands in its own event's bucket), `check_interpolated_share`,
  `check_provisional_rows`.

Tables are recognised by their columns: the raw long table has `metric`, the KPI tables have the measure
columns (`schema.KPI_MEASURES`), the weekly tables have `week_start`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

import polars as pl

from genesys_assets import localtime
from genesys_assets.schema import KPI_MAXIMA, KPI_MEASURES
from genesys_assets.transforms.dimensions import partial_groups
from genesys_assets.transforms.flatten import INT_STATS
from genesys_assets.transforms.kpis import CHANNEL_KEYS

SAMPLE_SIZE: Final = 5


@dataclass(frozen=True)
class CheckOutcome:
    """Result of one contract check: `sample` holds up to `SAMPLE_SIZE` failing rows as plain dicts."""

    passed: bool
    description: str
    failing_rows: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _sample(rows: pl.DataFrame, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    picked = rows.head(SAMPLE_SIZE)
    if columns is not None:
        picked = picked.select([c for c in columns if c in picked.columns])
    return [{key: _plain(value) for key, value in row.items()} for row in picked.to_dicts()]


def _outcome(failing: pl.DataFrame, ok: str, bad: str, columns: Sequence[str] | None = None) -> CheckOutcome:
    if failing.height == 0:
        return CheckOutcome(True, ok)
    return CheckOutcome(False, bad.format(n=failing.height), failing.height, _sample(failing, columns))


def _is_raw(frame: pl.DataFrame) -> bool:
    return "metric" in frame.columns


def _key_columns(frame: pl.DataFrame) -> list[str]:
    if _is_raw(frame):
        return [*CHANNEL_KEYS, "interval_start", "metric"]
    if "week_start" in frame.columns and "local_date" in frame.columns:
        return [*CHANNEL_KEYS, "local_date"]
    if "week_start" in frame.columns:
        return ["week_start", *CHANNEL_KEYS]
    return [*CHANNEL_KEYS, "interval_start"]


def _context(frame: pl.DataFrame) -> list[str]:
    names = ("local_date", "week_start", *_key_columns(frame))
    return [c for c in dict.fromkeys(names) if c in frame.columns]


def check_non_negative(frame: pl.DataFrame, columns: Sequence[str] | None = None) -> CheckOutcome:
    """Counts, millisecond sums, numerators and denominators are never negative.

    Default columns: the raw statistics (count, sum, min, max, numerator, denominator) of the raw table,
    or the KPI measures of the KPI and export tables. Nulls (unknown values) pass.
    """
    if columns is None:
        candidates = INT_STATS if _is_raw(frame) else (*KPI_MEASURES, *KPI_MAXIMA)
        columns = [c for c in candidates if c in frame.columns]
    if not columns:
        return CheckOutcome(True, "No count or sum columns to check.")
    failing = frame.filter(pl.any_horizontal([pl.col(c) < 0 for c in columns]))
    return _outcome(
        failing,
        f"No negative values in {', '.join(columns)} ({frame.height} rows).",
        "{n} rows hold negative counts or sums in " + ", ".join(columns) + ".",
        [*_context(frame), *columns],
    )


def check_service_level_bounds(frame: pl.DataFrame) -> CheckOutcome:
    """Service-level numerator never exceeds its denominator (raw oServiceLevel rows or sl_* measures)."""
    if _is_raw(frame):
        failing = frame.filter(
            (pl.col("metric") == "oServiceLevel") & (pl.col("numerator") > pl.col("denominator"))
        )
        columns = [*_context(frame), "numerator", "denominator"]
    else:
        failing = frame.filter(pl.col("sl_numerator") > pl.col("sl_denominator"))
        columns = [*_context(frame), "sl_numerator", "sl_denominator"]
    return _outcome(
        failing,
        "Service-level numerator <= denominator on every row.",
        "{n} rows have a service-level numerator above its denominator.",
        columns,
    )


def check_unique_keys(frame: pl.DataFrame, keys: Sequence[str] | None = None) -> CheckOutcome:
    """No two rows share a key (raw: queue, media, interval, metric; interval tables: queue, media, interval;
    weekly: week, queue, media; weekly export: queue, media, local date). failing_rows counts surplus rows."""
    key_list = list(keys) if keys is not None else _key_columns(frame)
    # Only rows whose key hash repeats can be duplicates; the exact grouping runs on those alone, so a year of
    # raw rows costs 8 bytes a row of hashes instead of a grouping of every row.
    repeated = frame.select(pl.struct(key_list).hash().is_duplicated()).to_series()
    candidates = frame.filter(repeated) if repeated.any() else frame.clear()
    duplicated = candidates.group_by(key_list).agg(pl.len().alias("rows")).filter(pl.col("rows") > 1)
    surplus = int(duplicated["rows"].sum() - duplicated.height) if duplicated.height else 0
    if surplus == 0:
        return CheckOutcome(True, f"Keys ({', '.join(key_list)}) are unique over {frame.height} rows.")
    return CheckOutcome(
        False,
        f"{duplicated.height} keys ({', '.join(key_list)}) occur more than once ({surplus} surplus rows).",
        surplus,
        _sample(duplicated.sort(key_list)),
    )


def check_intervals_in_day(frame: pl.DataFrame, day: date, timezone: str) -> CheckOutcome:
    """Every row belongs to the partition's local day: local_date is the day and the interval lies in
    [local midnight, next local midnight) with its start before its end."""
    start, end = localtime.day_bounds(day, timezone)
    failing = frame.filter(
        (pl.col("local_date") != day)
        | (pl.col("interval_start") < start)
        | (pl.col("interval_end") > end)
        | (pl.col("interval_start") >= pl.col("interval_end"))
    )
    return _outcome(
        failing,
        f"All {frame.height} rows lie inside local day {day.isoformat()} ({timezone}).",
        "{n} rows lie outside local day " + f"{day.isoformat()} ({timezone}).",
        [*_context(frame), "interval_end"],
    )


def check_dates_in_week(frame: pl.DataFrame, week_start: date) -> CheckOutcome:
    """Every row belongs to the partition's week: week_start matches and local_date (if any) is inside."""
    conditions = [pl.col("week_start") != week_start] if "week_start" in frame.columns else []
    if "local_date" in frame.columns:
        conditions.append(localtime.week_start_expr(pl.col("local_date")) != week_start)
    if not conditions:
        return CheckOutcome(True, "No date columns to check.")
    failing = frame.filter(pl.any_horizontal(conditions))
    return _outcome(
        failing,
        f"All {frame.height} rows lie in the week of {week_start.isoformat()}.",
        "{n} rows lie outside the week of " + f"{week_start.isoformat()}.",
        _context(frame),
    )


def check_grid_complete(frame: pl.DataFrame, grid: pl.DataFrame) -> CheckOutcome:
    """Every expected row (queue x media type x direction x local interval of
    `kpis.expected_grid`) is present."""
    keys = ["local_date", *CHANNEL_KEYS, "interval_start"]
    missing = grid.select(keys).join(frame.select(keys), on=keys, how="anti", nulls_equal=True)
    return _outcome(
        missing.sort(keys),
        f"All {grid.height} expected queue x media x direction x interval rows are present.",
        "{n} expected queue x media x direction x interval rows are missing" + f" (of {grid.height}).",
    )


def check_weekly_matches_daily(weekly: pl.DataFrame, daily: pl.DataFrame, week_start: date) -> CheckOutcome:
    """The weekly rows equal the sums of their daily rows (measures and day counts; maxima the largest),
    pair for pair.

    `daily` holds the week's `DAILY_KPIS` rows or their day roll-ups (`weekly.day_rollup`, one row per
    channel and local date); the outcome is the same. The sums are taken here from those rows directly, not
    through `weekly.weekly_kpis`, so a fault in the week's rollup shows; the assets pass the day roll-ups,
    which both sides share, so a fault inside `day_rollup` itself would not. A measure no daily row knows
    counts as 0 on both sides.
    """
    in_week = daily.filter(localtime.week_start_expr(pl.col("local_date")) == week_start)
    columns = [*KPI_MEASURES, *KPI_MAXIMA, "days_observed", "days_interpolated"]
    keys = list(CHANNEL_KEYS)
    expected = in_week.group_by(keys).agg(
        *[pl.col(m).sum().cast(pl.Int64) for m in KPI_MEASURES],
        *[pl.col(m).max().fill_null(0).cast(pl.Int64) for m in KPI_MAXIMA],
        pl.col("local_date").filter(~pl.col("is_interpolated")).n_unique().alias("days_observed"),
        pl.col("local_date").filter(pl.col("is_interpolated")).n_unique().alias("days_interpolated"),
    )
    stored = weekly.filter(pl.col("week_start") == week_start).select(
        *keys,
        *[pl.col(m).fill_null(0).cast(pl.Int64) for m in (*KPI_MEASURES, *KPI_MAXIMA)],
        pl.col("days_observed", "days_interpolated").cast(pl.UInt32),
    )
    joined = expected.with_columns(pl.col("days_observed", "days_interpolated").cast(pl.UInt32)).join(
        stored,
        on=keys,
        how="full",
        coalesce=True,
        suffix="_weekly",
    )
    differs = pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_weekly")) for c in columns])
    failing = joined.filter(differs)
    return _outcome(
        failing,
        f"All {weekly.height} weekly rows equal the sums of their daily rows.",
        "{n} queue x media rows of the week differ from the sums of their daily rows"
        + f" (week of {week_start.isoformat()}).",
    )


def check_kpi_metrics_in_complete_groups(raw: pl.DataFrame) -> CheckOutcome:
    """No metric that feeds a KPI column arrives in a partial group (a group that lacks queueId, mediaType or
    direction, kept in the raw table with that key null).

    Such a metric's figures are in no channel's rows, so the KPI columns it feeds understate their channels.
    failing_rows counts the partial-group rows of those metrics; the sample names the missing dimensions,
    the metric and its summed count.
    """
    found = partial_groups(raw)
    feeding = [row for row in found if row.feeds_kpi]
    other_rows = sum(row.rows for row in found if not row.feeds_kpi)
    if not feeding:
        return CheckOutcome(
            True,
            "No KPI metric arrives in a partial group"
            + (f" ({other_rows} partial-group rows of other metrics are kept raw)." if other_rows else "."),
        )
    rows = sum(row.rows for row in feeding)
    named = ", ".join(f"{row.metric} without {'/'.join(row.missing)}" for row in feeding[:SAMPLE_SIZE])
    return CheckOutcome(
        False,
        f"{rows} raw rows of KPI metrics arrived in partial groups ({named}); they are kept in "
        "raw_queue_aggregates with the missing key null and are in no channel's KPI rows, so those columns "
        "understate their channels. Read these figures from raw_queue_aggregates (rows with that key null) "
        "and report them at the level Genesys gives them; never add them into one direction's rows.",
        rows,
        [row.as_dict() for row in feeding[:SAMPLE_SIZE]],
    )


def check_answered_abandoned_vs_offered(
    frame: pl.DataFrame, *, max_ratio: float = 1.25, slack: int = 5
) -> CheckOutcome:
    """Warning: over a whole local day, answered + abandoned exceeds `max_ratio` x offered + `slack`.

    Per interval this is normal (offered counts at queue entry, answered and abandoned at the end of the
    wait); over a day only calls that straddle midnight shift, so a large excess suggests a data problem.
    Rows with unknown (null) measures are left out.
    """
    by_day = (
        frame.group_by("local_date", *CHANNEL_KEYS)
        .agg(pl.col("offered").sum(), pl.col("answered").sum(), pl.col("abandoned").sum())
        .filter(pl.col("answered") + pl.col("abandoned") > pl.col("offered") * max_ratio + slack)
        .sort("local_date", *CHANNEL_KEYS)
    )
    return _outcome(
        by_day,
        f"Answered + abandoned stays within {max_ratio:g} x offered + {slack} per queue x media x day.",
        "{n} queue x media x days have answered + abandoned above "
        + f"{max_ratio:g} x offered + {slack} (metrics land in the bucket of their own event; check the data).",
    )


def check_interpolated_share(frame: pl.DataFrame, *, max_share: float = 0.2) -> CheckOutcome:
    """Warning: the share of estimated data is above `max_share`.

    Daily/export tables: share of rows with `is_interpolated`; weekly table: share of interpolated days
    among observed + interpolated days. failing_rows counts the interpolated rows (or days).
    """
    if "is_interpolated" in frame.columns:
        total = frame.height
        interpolated = frame.filter(pl.col("is_interpolated"))
        count = interpolated.height
    else:
        total = int(frame["days_observed"].sum() + frame["days_interpolated"].sum())
        interpolated = frame.filter(pl.col("days_interpolated") > 0)
        count = int(frame["days_interpolated"].sum())
    share = count / total if total else 0.0
    if share <= max_share:
        return CheckOutcome(True, f"Interpolated share {share:.1%} is within {max_share:.0%}.")
    return CheckOutcome(
        False,
        f"Interpolated share {share:.1%} ({count} of {total}) is above {max_share:.0%}; backfill the gaps.",
        count,
        _sample(interpolated, [*_context(frame), "fill_method", "days_interpolated"]),
    )


def check_provisional_rows(frame: pl.DataFrame) -> CheckOutcome:
    """Warning: rows still inside the restatement window (`is_provisional`); they may change."""
    failing = frame.filter(pl.col("is_provisional"))
    return _outcome(
        failing,
        "No provisional rows: every day is past the restatement window.",
        "{n} rows are provisional: Genesys may still restate them; later runs will refresh them.",
        _context(frame),
    )
