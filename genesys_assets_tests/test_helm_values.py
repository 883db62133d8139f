"""deploy/helm-values.yaml against the Dagster chart's own values.schema.json, and what the values must say.

The schemas are vendored in deploy/chart-schema/ (README.md there names the commit): the chart's schema and the
dagster-user-deployments subchart's. They refer to Kubernetes definitions on kubernetesjsonschema.dev, which
no longer serves them; a local stand-in file answers those references, so validation runs offline.

Helm validates the chart's defaults merged with ours; the chart's values.yaml of the schema's commit is not
vendored, so the defaults cannot be merged here. Instead every `required` list is dropped from the schema
(the defaults supply those keys) and everything else is checked as Helm does: types, enums and closed objects,
so a misspelt or misplaced key fails. Keys of ours newer than the vendored schema are listed in
NEWER_THAN_SCHEMA, each with the reason it passes; a test asserts that list is exact.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "deploy" / "chart-schema"
VALUES = yaml.safe_load((REPO / "deploy" / "helm-values.yaml").read_text())
KUBERNETES_URL = "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json"
CHART_COMMIT = "bdb8547fab497826eeec292bc160b549a0a329ef"

# Top-level keys of deploy/helm-values.yaml that the vendored schema does not describe, and why they pass.
NEWER_THAN_SCHEMA = {
    "concurrency": "the chart's concurrency block (runs, pools) came after the vendored schema; its root "
    "object is open, so the schema accepts it unchecked: test_helm_values_match_the_instance_file in "
    "test_deploy_postgres.py checks its keys against deploy/dagster.yaml",
}


def _without_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_required(value) for key, value in node.items() if key != "required"}
    if isinstance(node, list):
        return [_without_required(item) for item in node]
    return node


def _validator(schema_file: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / schema_file).read_text())
    stand_ins = json.loads((SCHEMAS / "kubernetes-v1.18.0-stand-ins.json").read_text())
    registry: Registry = Registry().with_resource(
        KUBERNETES_URL, Resource.from_contents(stand_ins, default_specification=DRAFT7)
    )
    return jsonschema.Draft7Validator(_without_required(schema), registry=registry)


def _errors(values: dict[str, Any]) -> list[str]:
    """Every schema error of the chart's values and of the subchart's part, as `path: message`."""
    found = []
    for validator, part in (
        (_validator("values.schema.json"), values),
        (
            _validator("dagster-user-deployments.values.schema.json"),
            values.get("dagster-user-deployments", {}),
        ),
    ):
        for error in validator.iter_errors(part):
            # An anyOf error carries the reasons of each alternative in its context.
            for detail in [error, *error.context]:
                found.append(f"{'.'.join(str(p) for p in detail.absolute_path)}: {detail.message}")
    return found


def test_schema_files_are_the_vendored_commit() -> None:
    readme = (SCHEMAS / "README.md").read_text()
    assert CHART_COMMIT in readme
    schema = json.loads((SCHEMAS / "values.schema.json").read_text())
    assert schema["title"] == "DagsterHelmValues" and len(schema["definitions"]) == 83
    # Re-serialized as the chart's generator writes it, the file is byte for byte the size upstream reports.
    assert len(json.dumps(schema, indent=4)) + 1 == 100_951


def test_helm_values_validate_against_the_chart_schema() -> None:
    assert _errors(VALUES) == []


def test_only_the_listed_keys_are_newer_than_the_schema() -> None:
    described = set(json.loads((SCHEMAS / "values.schema.json").read_text())["properties"])
    assert set(VALUES) - described == set(NEWER_THAN_SCHEMA)


def _set(values: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(values)
    node: Any = changed
    *parents, last = path.split("/")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "dagsterDaemon/runRetires",
            {"enabled": True},
            "Additional properties are not allowed ('runRetires'",
        ),
        ("runLauncher/config/k8sRunLauncher/resourcse", {}, "Additional properties are not allowed"),
        ("computeLogManager/type", "S3LogManager", "is not one of"),
        ("computeLogManager/config/s3Bucket", "x", "Additional properties are not allowed"),
        ("dagster-user-deployments/deployments/0/port", "3030", "is not of type 'integer'"),
        (
            "dagster-user-deployments/deployments/0/envSecrets",
            ["genesys-oauth-client"],
            "is not of type 'object'",
        ),
        (
            "dagster-user-deployments/serviceAccount/annotations",
            {"eks.amazonaws.com/role-arn": 1},
            "is not of type",
        ),
        ("telemetry/enable", False, "Additional properties are not allowed"),
    ],
)
def test_a_wrong_key_or_value_fails(path: str, value: Any, message: str) -> None:
    errors = _errors(_set(VALUES, path, value))
    assert any(message in error for error in errors), errors


def _deployment() -> dict[str, Any]:
    (deployment,) = VALUES["dagster-user-deployments"]["deployments"]
    return deployment


def test_s3_access_is_on_the_account_of_the_code_server_and_run_pods() -> None:
    subchart = VALUES["dagster-user-deployments"]
    assert subchart["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    assert subchart["serviceAccount"]["create"] is True
    assert _deployment()["includeConfigInLaunchedRuns"] == {"enabled": True}  # run pods get that account


def test_run_pod_memory_covers_the_measured_peak() -> None:
    bench = (REPO / "bench" / "README.md").read_text()
    peak_mb = int(re.search(r"peak RSS \| \*\*([\d,]+) MB\*\*", bench).group(1).replace(",", ""))  # type: ignore[union-attr]
    resources = VALUES["runLauncher"]["config"]["k8sRunLauncher"]["resources"]
    limit = resources["limits"]["memory"]
    assert limit.endswith("Gi") and int(limit[:-2]) * 1024 >= 1.2 * peak_mb
    assert resources["requests"]["memory"] == limit  # scheduled where the peak fits
    # The code deployment sets no memory: its values would override the launcher's in every run pod.
    assert "memory" not in json.dumps(_deployment()["resources"])


def test_logs_launcher_rate_budget_and_secrets() -> None:
    assert VALUES["computeLogManager"]["type"] == "S3ComputeLogManager"
    assert VALUES["computeLogManager"]["config"]["s3ComputeLogManager"]["bucket"]
    assert VALUES["runLauncher"]["type"] == "K8sRunLauncher"
    env = {item["name"]: item["value"] for item in _deployment()["env"]}
    url = env["GENESYS_RATE_LIMIT_URL"]
    assert url.startswith("postgresql://") and ":" not in url.split("@")[0].removeprefix("postgresql://")
    assert "GENESYS_RATE_LIMIT_DIR" not in env  # a per-pod file would be a per-pod budget
    assert {item["name"] for item in _deployment()["envSecrets"]} == {
        "genesys-oauth-client",
        "genesys-rate-limit-db",
    }
    assert VALUES["global"]["postgresqlSecretName"] and VALUES["generatePostgresqlPasswordSecret"] is False
