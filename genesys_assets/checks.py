"""Asset checks on every partition: blocking where a rule holds by definition, warnings where real data may differ.

Blocking (ERROR, `blocking=True`: a failure stops downstream assets in the same run): counts and sums are
non-negative, the service-level numerator stays within its denominator, keys are unique, raw intervals lie
inside their local day, the KPI grid is complete, and a week equals the sum of its days.

Warnings (WARN, never blocking): answered + abandoned far above offered over a whole day, a high interpolated
share, provisional days present. Genesys counts each metric in the bucket of its own event, so an interval's
answer rate above 1 is real data and is not checked at all.

The rules themselves live in `transforms.contracts` (pure polars); this module only binds them to assets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

import dagster as dg
import polars as pl

from genesys_assets.partitions import SETTINGS, daily_partitions, weekly_partitions
from genesys_assets.transforms import contracts, kpis
from genesys_assets.transforms.contracts import CheckOutcome

# Above this share of estimated rows a daily partition (or week) gets a warning: backfill the gaps.
MAX_INTERPOLATED_SHARE = 0.2


def _combined(frames: Mapping[str, pl.DataFrame] | pl.DataFrame) -> pl.DataFrame:
    if isinstance(frames, pl.DataFrame):
        return frames
    return pl.concat(list(frames.values())) if frames else pl.DataFrame()


def _result(
    outcomes: Mapping[str, CheckOutcome], severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
) -> dg.AssetCheckResult:
    """One check result from several rules: passed when all pass, the failing rules' descriptions first."""
    failed = {rule: outcome for rule, outcome in outcomes.items() if not outcome.passed}
    shown = failed or outcomes
    metadata: dict[str, dg.MetadataValue] = {
        "failing_rows": dg.MetadataValue.int(sum(o.failing_rows for o in outcomes.values())),
        "rules": dg.MetadataValue.json({rule: o.passed for rule, o in outcomes.items()}),
    }
    samples = {rule: o.sample for rule, o in failed.items() if o.sample}
    if samples:
        metadata["failing_sample"] = dg.MetadataValue.json(samples)
    return dg.AssetCheckResult(
        passed=not failed,
        severity=severity,
        description=" ".join(o.description for o in shown.values()),
        metadata=metadata,
    )


def _per_day(
    frames: Mapping[str, pl.DataFrame], rule: Callable[[pl.DataFrame, date], CheckOutcome]
) -> CheckOutcome:
    """Run a per-day rule on each partition and merge the outcomes into one."""
    outcomes = [rule(frame, date.fromisoformat(key)) for key, frame in sorted(frames.items())]
    failed = [o for o in outcomes if not o.passed]
    if not failed:
        return (
            outcomes[0]
            if len(outcomes) == 1
            else CheckOutcome(True, f"{outcomes[0].description} ({len(outcomes)} days)")
        )
    return CheckOutcome(
        False,
        " ".join(o.description for o in failed[:3]),
        sum(o.failing_rows for o in failed),
        [row for o in failed for row in o.sample][: contracts.SAMPLE_SIZE],
    )


@dg.asset_check(asset="raw_queue_aggregates", blocking=True, partitions_def=daily_partitions)
def raw_data_contract(raw_queue_aggregates: dict[str, pl.DataFrame]) -> dg.AssetCheckResult:
    """The raw summaries keep the API's contract: counts and durations non-negative, oServiceLevel numerator
    <= denominator, one row per queue x media x interval x metric, every interval inside its local day."""
    raw = _combined(raw_queue_aggregates)
    return _result(
        {
            "non_negative": contracts.check_non_negative(raw),
            "service_level_bounds": contracts.check_service_level_bounds(raw),
            "unique_keys": contracts.check_unique_keys(raw),
            "intervals_in_day": _per_day(
                raw_queue_aggregates,
                lambda frame, day: contracts.check_intervals_in_day(frame, day, SETTINGS.timezone),
            ),
        }
    )


@dg.asset_check(
    asset="queue_interval_kpis",
    blocking=True,
    partitions_def=daily_partitions,
    additional_ins={"genesys_queues": dg.AssetIn("genesys_queues")},
)
def interval_grid_complete(
    queue_interval_kpis: dict[str, pl.DataFrame], genesys_queues: pl.DataFrame
) -> dg.AssetCheckResult:
    """Every expected queue x media type x local interval is present, measures are non-negative, the
    service-level numerator stays within its denominator and keys are unique."""
    frame = _combined(queue_interval_kpis)
    days = sorted(date.fromisoformat(key) for key in queue_interval_kpis)
    grid = kpis.expected_grid(genesys_queues, days, SETTINGS.timezone, SETTINGS.interval_minutes)
    return _result(
        {
            "grid_complete": contracts.check_grid_complete(frame, grid),
            "non_negative": contracts.check_non_negative(frame),
            "service_level_bounds": contracts.check_service_level_bounds(frame),
            "unique_keys": contracts.check_unique_keys(frame),
        }
    )


@dg.asset_check(asset="queue_kpis_daily", blocking=True, partitions_def=daily_partitions)
def daily_kpi_contract(queue_kpis_daily: dict[str, pl.DataFrame]) -> dg.AssetCheckResult:
    """Estimated or observed, a daily row has non-negative measures, a service level within bounds and a
    unique key."""
    frame = _combined(queue_kpis_daily)
    return _result(
        {
            "non_negative": contracts.check_non_negative(frame),
            "service_level_bounds": contracts.check_service_level_bounds(frame),
            "unique_keys": contracts.check_unique_keys(frame),
        }
    )


@dg.asset_check(asset="queue_kpis_daily", blocking=False, partitions_def=daily_partitions)
def daily_answered_abandoned_vs_offered(queue_kpis_daily: dict[str, pl.DataFrame]) -> dg.AssetCheckResult:
    """Warning: over a whole local day, answered + abandoned far above offered hints at a data problem
    (a few calls straddling midnight are normal: each metric lands in its own event's bucket)."""
    return _result(
        {
            "answered_abandoned_vs_offered": contracts.check_answered_abandoned_vs_offered(
                _combined(queue_kpis_daily)
            )
        },
        dg.AssetCheckSeverity.WARN,
    )


@dg.asset_check(asset="queue_kpis_daily", blocking=False, partitions_def=daily_partitions)
def daily_interpolated_share(queue_kpis_daily: dict[str, pl.DataFrame]) -> dg.AssetCheckResult:
    """Warning: more than 20% of the rows are estimates for gap days; backfill the failed days."""
    return _result(
        {
            "interpolated_share": contracts.check_interpolated_share(
                _combined(queue_kpis_daily), max_share=MAX_INTERPOLATED_SHARE
            )
        },
        dg.AssetCheckSeverity.WARN,
    )


@dg.asset_check(asset="queue_kpis_daily", blocking=False, partitions_def=daily_partitions)
def daily_provisional_rows(queue_kpis_daily: dict[str, pl.DataFrame]) -> dg.AssetCheckResult:
    """Warning: some rows are inside the restatement window and may still change."""
    return _result(
        {"provisional_rows": contracts.check_provisional_rows(_combined(queue_kpis_daily))},
        dg.AssetCheckSeverity.WARN,
    )


@dg.asset_check(
    asset="queue_kpis_weekly",
    blocking=True,
    partitions_def=weekly_partitions,
    additional_ins={"queue_kpis_daily": dg.AssetIn("queue_kpis_daily")},
)
def weekly_equals_daily_sum(
    queue_kpis_weekly: dict[str, pl.DataFrame], queue_kpis_daily: dict[str, pl.DataFrame]
) -> dg.AssetCheckResult:
    """Each week's counts, sums and day counts equal the sums over its seven daily partitions; every row
    has a unique key and non-negative measures."""
    daily = _combined(queue_kpis_daily)
    outcomes: dict[str, CheckOutcome] = {}
    for week_key, weekly in sorted(queue_kpis_weekly.items()):
        monday = date.fromisoformat(week_key)
        days = daily.filter(pl.col("local_date").is_between(monday, date.fromordinal(monday.toordinal() + 6)))
        outcomes[f"{week_key}/equals_daily_sum"] = contracts.check_weekly_matches_daily(weekly, days, monday)
        outcomes[f"{week_key}/dates_in_week"] = contracts.check_dates_in_week(weekly, monday)
    weekly_all = _combined(queue_kpis_weekly)
    outcomes["non_negative"] = contracts.check_non_negative(weekly_all)
    outcomes["unique_keys"] = contracts.check_unique_keys(weekly_all)
    return _result(outcomes)


@dg.asset_check(asset="queue_kpis_weekly", blocking=False, partitions_def=weekly_partitions)
def weekly_interpolated_share(queue_kpis_weekly: dict[str, pl.DataFrame]) -> dg.AssetCheckResult:
    """Warning: more than 20% of the week's queue-days are estimates; backfill the failed days."""
    return _result(
        {
            "interpolated_share": contracts.check_interpolated_share(
                _combined(queue_kpis_weekly), max_share=MAX_INTERPOLATED_SHARE
            )
        },
        dg.AssetCheckSeverity.WARN,
    )


ALL_CHECKS = [
    raw_data_contract,
    interval_grid_complete,
    daily_kpi_contract,
    daily_answered_abandoned_vs_offered,
    daily_interpolated_share,
    daily_provisional_rows,
    weekly_equals_daily_sum,
    weekly_interpolated_share,
]
