"""Asset checks, evaluated inside the asset they guard, per partition, on the frames it just produced.

Blocking (ERROR, `blocking=True`: a failure fails the asset's step after its partitions are stored, so the
downstream assets of the run do not run): counts and sums are non-negative, the service-level numerator
stays within its denominator, keys are unique, raw intervals lie inside their local day, the KPI grid is
complete, and a week equals the sum of its days.

An error that does not block (ERROR, `blocking=False`): a metric that feeds a KPI column arrived in a
partial group, so its figures are kept raw but are in no channel's KPI rows.

Warnings (WARN, never blocking): answered + abandoned far above offered over a whole day, a high interpolated
share, provisional days present. Genesys counts each metric in the bucket of its own event, so an interval's
answer rate above 1 is real data and is not checked at all.

Each check is an `AssetCheckSpec` in its asset's ``check_specs``; the asset evaluates it for every partition
as it produces it (no second load of a year of partitions) and `PartitionChecks` reports one evaluation per
partition, so the UI shows each check per partition in a range run as in a one-partition run. The rules
themselves live in `transforms.contracts` (pure polars); this module names them and binds them to assets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date

import dagster as dg
import polars as pl
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,  # not public; guarded by defs/test_dagster_internals.py
)

from genesys_assets.config import SETTINGS
from genesys_assets.defs.failures import do_not_retry
from genesys_assets.defs.partitions import daily_partitions, weekly_partitions
from genesys_assets.transforms import contracts
from genesys_assets.transforms.contracts import CheckOutcome

# Above this share of estimated rows a daily partition (or week) gets a warning: backfill the gaps.
MAX_INTERPOLATED_SHARE = 0.2

Rules = Mapping[str, CheckOutcome]  # rule name -> outcome, for one check of one partition


def _spec(
    name: str, asset: str, blocking: bool, partitions: dg.PartitionsDefinition, doc: str
) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, blocking=blocking, partitions_def=partitions, description=doc)


RAW_DATA_CONTRACT = _spec(
    "raw_data_contract",
    "raw_queue_aggregates",
    True,
    daily_partitions,
    "The raw summaries keep the API's contract: counts and durations non-negative, oServiceLevel numerator "
    "<= denominator, one row per queue x media type x direction x interval x metric, every interval inside "
    "its local day.",
)
KPI_METRICS_IN_COMPLETE_GROUPS = _spec(
    "kpi_metrics_in_complete_groups",
    "raw_queue_aggregates",
    False,
    daily_partitions,
    "Error that does not block: a metric feeding a KPI column arrived in a partial group (a group Genesys "
    "sent without queueId, mediaType or direction). Its rows are kept in the raw table with that key null "
    "and are in no channel's KPI rows, so those KPI columns understate their channels.",
)
INTERVAL_GRID_COMPLETE = _spec(
    "interval_grid_complete",
    "queue_interval_kpis",
    True,
    daily_partitions,
    "Every expected queue x media type x direction x local interval is present, measures are non-negative, the "
    "service-level numerator stays within its denominator and keys are unique.",
)
DAILY_KPI_CONTRACT = _spec(
    "daily_kpi_contract",
    "queue_kpis_daily",
    True,
    daily_partitions,
    "Estimated or observed, a daily row has non-negative measures, a service level within bounds and a "
    "unique key.",
)
DAILY_ANSWERED_ABANDONED_VS_OFFERED = _spec(
    "daily_answered_abandoned_vs_offered",
    "queue_kpis_daily",
    False,
    daily_partitions,
    "Warning: over a whole local day, answered + abandoned far above offered hints at a data problem (a few "
    "calls straddling midnight are normal: each metric lands in its own event's bucket).",
)
DAILY_INTERPOLATED_SHARE = _spec(
    "daily_interpolated_share",
    "queue_kpis_daily",
    False,
    daily_partitions,
    f"Warning: more than {MAX_INTERPOLATED_SHARE:.0%} of the rows are estimates for gap days; backfill the "
    "failed days.",
)
DAILY_PROVISIONAL_ROWS = _spec(
    "daily_provisional_rows",
    "queue_kpis_daily",
    False,
    daily_partitions,
    "Warning: some rows are inside the restatement window and may still change.",
)
WEEKLY_EQUALS_DAILY_SUM = _spec(
    "weekly_equals_daily_sum",
    "queue_kpis_weekly",
    True,
    weekly_partitions,
    "Each week's counts, sums and day counts equal the sums over its seven daily partitions; every row has "
    "a unique key and non-negative measures.",
)
WEEKLY_INTERPOLATED_SHARE = _spec(
    "weekly_interpolated_share",
    "queue_kpis_weekly",
    False,
    weekly_partitions,
    f"Warning: more than {MAX_INTERPOLATED_SHARE:.0%} of the week's queue-days are estimates; backfill the "
    "failed days.",
)

RAW_CHECKS = [RAW_DATA_CONTRACT, KPI_METRICS_IN_COMPLETE_GROUPS]
INTERVAL_CHECKS = [INTERVAL_GRID_COMPLETE]
DAILY_CHECKS = [
    DAILY_KPI_CONTRACT,
    DAILY_ANSWERED_ABANDONED_VS_OFFERED,
    DAILY_INTERPOLATED_SHARE,
    DAILY_PROVISIONAL_ROWS,
]
WEEKLY_CHECKS = [WEEKLY_EQUALS_DAILY_SUM, WEEKLY_INTERPOLATED_SHARE]


# --------------------------------------------------------------------------------------------- rules


def raw_rules(frame: pl.DataFrame, day: date) -> dict[str, Callable[[], Rules]]:
    """The checks of one `raw_queue_aggregates` partition, by check name."""
    return {
        RAW_DATA_CONTRACT.name: lambda: {
            "non_negative": contracts.check_non_negative(frame),
            "service_level_bounds": contracts.check_service_level_bounds(frame),
            "unique_keys": contracts.check_unique_keys(frame),
            "intervals_in_day": contracts.check_intervals_in_day(frame, day, SETTINGS.pipeline.timezone),
        },
        KPI_METRICS_IN_COMPLETE_GROUPS.name: lambda: {
            "kpi_metrics_in_complete_groups": contracts.check_kpi_metrics_in_complete_groups(frame)
        },
    }


def interval_rules(frame: pl.DataFrame, grid: pl.DataFrame) -> dict[str, Callable[[], Rules]]:
    """The checks of one `queue_interval_kpis` partition; `grid` is the day's expected grid."""
    return {
        INTERVAL_GRID_COMPLETE.name: lambda: {
            "grid_complete": contracts.check_grid_complete(frame, grid),
            "non_negative": contracts.check_non_negative(frame),
            "service_level_bounds": contracts.check_service_level_bounds(frame),
            "unique_keys": contracts.check_unique_keys(frame),
        }
    }


def daily_rules(frame: pl.DataFrame) -> dict[str, Callable[[], Rules]]:
    """The checks of one `queue_kpis_daily` partition."""
    return {
        DAILY_KPI_CONTRACT.name: lambda: {
            "non_negative": contracts.check_non_negative(frame),
            "service_level_bounds": contracts.check_service_level_bounds(frame),
            "unique_keys": contracts.check_unique_keys(frame),
        },
        DAILY_ANSWERED_ABANDONED_VS_OFFERED.name: lambda: {
            "answered_abandoned_vs_offered": contracts.check_answered_abandoned_vs_offered(frame)
        },
        DAILY_INTERPOLATED_SHARE.name: lambda: {
            "interpolated_share": contracts.check_interpolated_share(frame, max_share=MAX_INTERPOLATED_SHARE)
        },
        DAILY_PROVISIONAL_ROWS.name: lambda: {"provisional_rows": contracts.check_provisional_rows(frame)},
    }


def weekly_rules(weekly: pl.DataFrame, daily: pl.DataFrame, monday: date) -> dict[str, Callable[[], Rules]]:
    """The checks of one `queue_kpis_weekly` partition; `daily` holds the day roll-ups
    (`weekly.day_rollup`) of the week's seven days (their `DAILY_KPIS` rows give the same outcomes)."""
    return {
        WEEKLY_EQUALS_DAILY_SUM.name: lambda: {
            "equals_daily_sum": contracts.check_weekly_matches_daily(weekly, daily, monday),
            "dates_in_week": contracts.check_dates_in_week(weekly, monday),
            "non_negative": contracts.check_non_negative(weekly),
            "unique_keys": contracts.check_unique_keys(weekly),
        },
        WEEKLY_INTERPOLATED_SHARE.name: lambda: {
            "interpolated_share": contracts.check_interpolated_share(weekly, max_share=MAX_INTERPOLATED_SHARE)
        },
    }


# --------------------------------------------------------------------------------------------- results


# Checks that report an error without blocking: the data is kept and flows on, the failure says which
# figures it leaves short.
_ERRORS_THAT_DO_NOT_BLOCK = frozenset({KPI_METRICS_IN_COMPLETE_GROUPS.name})


def _severity(spec: dg.AssetCheckSpec) -> dg.AssetCheckSeverity:
    if spec.blocking or spec.name in _ERRORS_THAT_DO_NOT_BLOCK:
        return dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckSeverity.WARN


def _metadata(outcomes: Rules) -> dict[str, dg.MetadataValue]:
    failed = {rule: outcome for rule, outcome in outcomes.items() if not outcome.passed}
    metadata: dict[str, dg.MetadataValue] = {
        "failing_rows": dg.MetadataValue.int(sum(o.failing_rows for o in outcomes.values())),
        "rules": dg.MetadataValue.json({rule: o.passed for rule, o in outcomes.items()}),
    }
    samples = {rule: o.sample for rule, o in failed.items() if o.sample}
    if samples:
        metadata["failing_sample"] = dg.MetadataValue.json(samples)
    return metadata


def _description(outcomes: Rules) -> str:
    """The failing rules' descriptions, or every rule's when all pass."""
    shown = [o for o in outcomes.values() if not o.passed] or list(outcomes.values())
    return " ".join(o.description for o in shown)


class PartitionChecks:
    """The outcomes of one asset's checks for each partition it produces, reported after its output.

    The asset calls `record` for every partition while producing it, then yields `events()` once its output
    is stored: one `AssetCheckEvaluation` per check and partition, tied to that partition's materialization,
    plus the check's output, which Dagster expects of every selected check. Checks deselected for the run
    are not evaluated.
    """

    def __init__(self, context: dg.AssetExecutionContext, specs: Sequence[dg.AssetCheckSpec]) -> None:
        self._context = context
        self._specs = [spec for spec in specs if spec.key in context.selected_asset_check_keys]
        self._outcomes: dict[str, dict[str, Rules]] = {spec.name: {} for spec in self._specs}

    def record(self, partition_key: str, rules: Mapping[str, Callable[[], Rules]]) -> None:
        """Evaluate the selected checks of one partition (`rules` maps check names to their evaluation)."""
        for spec in self._specs:
            self._outcomes[spec.name][partition_key] = rules[spec.name]()

    def events(self) -> Iterator[dg.AssetCheckEvaluation | dg.Output]:
        """Every recorded evaluation, then each selected check's output; logs a line per check."""
        if not self._specs:
            return
        asset_key = self._specs[0].asset_key
        keys = sorted({key for by_key in self._outcomes.values() for key in by_key})
        targets = self._targets(asset_key, keys)
        for spec in self._specs:
            outcomes = self._outcomes[spec.name]
            failed = [key for key, rules in outcomes.items() if not all(o.passed for o in rules.values())]
            for key, rules in outcomes.items():
                yield dg.AssetCheckEvaluation(
                    asset_key=asset_key,
                    check_name=spec.name,
                    passed=key not in failed,
                    metadata=_metadata(rules),
                    target_materialization_data=targets.get(key),
                    severity=_severity(spec),
                    description=_description(rules),
                    blocking=spec.blocking,
                    partition=key,
                )
            verdict = (
                f"failed for {len(failed)} ({', '.join(failed[:5])})" if failed else "passed for every one"
            )
            if failed and spec.blocking:  # the step fails after these events; a retry would fail it again
                do_not_retry(
                    self._context, f"the blocking check {spec.name} failed for {', '.join(failed[:5])}."
                )
            self._context.log.info(f"Check {spec.name} on {len(outcomes)} partition(s): {verdict}.")
            yield dg.Output(
                None, output_name=self._context.assets_def.get_output_name_for_asset_check_key(spec.key)
            )

    def _targets(
        self, asset_key: dg.AssetKey, keys: Sequence[str]
    ) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
        """This run's materialization of each partition, which its evaluations were made on."""
        if not keys:
            return {}
        records = self._context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=list(keys)), limit=len(keys)
        ).records
        targets: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
        for record in records:
            partition = record.partition_key
            if (
                partition is not None
                and partition not in targets
                and record.run_id == self._context.run.run_id
            ):
                targets[partition] = AssetCheckEvaluationTargetMaterializationData(
                    storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
                )
        return targets
