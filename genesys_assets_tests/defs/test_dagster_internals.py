"""The two names the Dagster layer imports from `dagster._core` (Dagster exports no public equivalent): this
fails when a Dagster upgrade moves or changes them, before the code location would fail to load."""

import inspect
import typing

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.storage.tags import RETRY_ON_ASSET_OR_OP_FAILURE_TAG

from genesys_assets.defs import checks, failures


def test_check_evaluations_take_the_private_target_class() -> None:
    # `checks.PartitionChecks` names the materialization each evaluation was made on with this class.
    assert (
        checks.AssetCheckEvaluationTargetMaterializationData is AssetCheckEvaluationTargetMaterializationData
    )
    parameter = inspect.signature(dg.AssetCheckEvaluation).parameters["target_materialization_data"]
    assert AssetCheckEvaluationTargetMaterializationData in typing.get_args(parameter.annotation) or (
        parameter.annotation is AssetCheckEvaluationTargetMaterializationData
    )
    target = AssetCheckEvaluationTargetMaterializationData(storage_id=1, run_id="run", timestamp=2.0)
    assert (target.storage_id, target.run_id, target.timestamp) == (1, "run", 2.0)


def test_the_not_retried_tag_is_dagsters_retry_tag() -> None:
    assert (
        failures.NOT_RETRIED_TAG == RETRY_ON_ASSET_OR_OP_FAILURE_TAG == "dagster/retry_on_asset_or_op_failure"
    )
