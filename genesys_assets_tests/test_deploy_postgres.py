"""The deployment of deploy/: Dagster on PostgreSQL, with the run queue and the Genesys API pool enforced.

A real PostgreSQL server (initdb into a temporary folder, on 127.0.0.1) backs an instance configured by a
copy of deploy/dagster.yaml, whose connection settings come from DAGSTER_PG_* variables. The services run as
in production, each its own process: a code server for `genesys_assets.definitions`, the daemon and the
webserver, both pointed at the code server by a workspace file. The pipeline talks to a sandbox Genesys org
(every API answer delayed, so API steps take seconds) and exports to a moto S3 server, both on 127.0.0.1.

The test submits the queue directory and then a backfill of scattered daily partitions through the
webserver's GraphQL API, as the UI does; the backfill daemon turns the backfill into runs, the queue starts
them within the run limits, and the pool lets one Genesys API step run at a time. Everything asserted is
read back from PostgreSQL itself.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from genesys_assets.lake.export_writer import export_key
from genesys_assets.sandbox import SandboxServer
from genesys_assets_tests.pipeline_fixtures import pipeline_env
from genesys_assets_tests.postgres_fixtures import PostgresServer
from genesys_assets_tests.s3_fixtures import s3_client_for
from genesys_assets_tests.sandbox_fixtures import DEFAULT_SANDBOX_CONFIG
from genesys_assets_tests.ui_helpers import (
    ServiceProcess,
    free_port,
    graphql,
    max_overlap,
    wait_http,
    wait_until,
)

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
DEPLOY_YAML = REPO / "deploy" / "dagster.yaml"
HELM_VALUES = REPO / "deploy" / "helm-values.yaml"
BIN = Path(sys.executable).parent
LOCATION = "genesys_assets"
EXPORT_PREFIX = "deploy-test"
POOL = "genesys_api"
API_TAG = "genesys/api"
# Scattered days: the daily assets backfill a contiguous range as one run, so gaps make one run per day.
BACKFILL_DAYS = ["2026-03-02", "2026-03-04", "2026-03-06", "2026-03-09"]
DAILY_ASSETS = ["raw_queue_aggregates", "queue_interval_kpis", "queue_kpis_daily", "queue_export_daily"]
SLOW_API_SECONDS = 3.0
RUNS_TIMEOUT_S = 300

LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""
LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""
SENSOR_ID = """
query Sensor($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) { __typename ... on Sensor { id } ... on Error { message } }
}
"""
STOP_SENSOR = """
mutation Stop($id: String!) {
  stopSensor(id: $id) {
    __typename
    ... on StopSensorMutationResult { instigationState { status } }
    ... on Error { message }
  }
}
"""
# Runs execute their steps in the run worker's process: one Python process per run instead of one per step
# keeps the test light on two cores; pools bind the in-process executor exactly as the multiprocess one.
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
REPOSITORY = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}
LOCATION_STATUS = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def _yaml_limits() -> dict[str, int]:
    config = yaml.safe_load(DEPLOY_YAML.read_text())
    runs = config["concurrency"]["runs"]
    tag_limit = next(item["limit"] for item in runs["tag_concurrency_limits"] if item["key"] == API_TAG)
    return {
        "max_concurrent_runs": runs["max_concurrent_runs"],
        "api_runs": tag_limit,
        "pool": config["concurrency"]["pools"]["default_limit"],
    }


@dataclass
class Deployment:
    """The running services and what the test needs to reach them."""

    postgres: PostgresServer
    webserver_url: str
    bucket: str
    s3_url: str
    services: list[ServiceProcess]
    secrets: tuple[str, ...]  # the database password and the Genesys client secret
    sandbox: SandboxServer

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return graphql(self.webserver_url, query, variables)

    def run_statuses(self, run_ids: Sequence[str]) -> dict[str, str]:
        rows = self.postgres.query("SELECT run_id, status FROM runs WHERE run_id = ANY(%s)", [list(run_ids)])
        return dict(rows)


def _service_env(server: PostgresServer, sandbox: SandboxServer, home: Path, bucket: str) -> dict[str, str]:
    env = dict(os.environ)  # includes the AWS_* variables of the moto_s3 fixture
    env.update(server.dagster_env())
    env.update(
        {
            "DAGSTER_HOME": str(home),
            "GENESYS_TIMEZONE": "America/New_York",
            "GENESYS_START_DATE": "2026-01-01",
            **pipeline_env(
                sandbox,
                home,
                bucket,
                GENESYS_REQUESTS_PER_SECOND="50",
                GENESYS_BURST="20",
                EXPORT_S3_PREFIX=EXPORT_PREFIX,
            ),
            "PYTHONUNBUFFERED": "1",
            "PYTHONWARNINGS": "ignore",
        }
    )
    return env


@pytest.fixture(scope="module")
def deployment(
    postgres: PostgresServer,
    moto_s3: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    """Code server, daemon and webserver on one PostgreSQL-backed instance, stopped after the module."""
    sandbox = SandboxServer(
        DEFAULT_SANDBOX_CONFIG.replace(fault_rates={"slow": 1.0}, slow_seconds=SLOW_API_SECONDS)
    ).start()
    root = tmp_path_factory.mktemp("deploy")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    grpc_port, web_port = free_port(), free_port()
    (root / "workspace.yaml").write_text(
        yaml.safe_dump(
            {
                "load_from": [
                    {"grpc_server": {"host": "127.0.0.1", "port": grpc_port, "location_name": LOCATION}}
                ]
            }
        )
    )
    bucket = f"deploy-{uuid.uuid4().hex[:10]}"
    s3_client_for(moto_s3).create_bucket(Bucket=bucket)
    env = _service_env(postgres, sandbox, home, bucket)
    logs = root / "logs"
    services: list[ServiceProcess] = []
    try:
        code_server = ServiceProcess(
            "code-server",
            [
                str(BIN / "dagster"),
                "code-server",
                "start",
                "-m",
                "genesys_assets.definitions",
                "-h",
                "127.0.0.1",
                "-p",
                str(grpc_port),
                "--location-name",
                LOCATION,
            ],
            log_dir=logs,
            env=env,
            cwd=REPO,
        )
        services.append(code_server)
        code_server.wait_for_output("Started Dagster code proxy server", timeout=120)
        workspace = str(root / "workspace.yaml")
        webserver = ServiceProcess(
            "webserver",
            [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(web_port)],
            log_dir=logs,
            env=env,
            cwd=REPO,
        )
        services.append(webserver)
        url = f"http://127.0.0.1:{web_port}"
        wait_http(f"{url}/server_info", timeout=120, service=webserver)

        def location_loaded() -> bool:
            entries = graphql(url, LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
            entry = next((e for e in entries if e["name"] == LOCATION), None)
            if entry is None or entry["loadStatus"] != "LOADED":
                return False
            loaded = entry["locationOrLoadError"]
            assert loaded["__typename"] == "RepositoryLocation", loaded
            return True

        wait_until(location_loaded, timeout=120, interval=1.0, what="the code location", alive=services)
        # The gap-refill sensor starts RUNNING by default and would add refill runs as soon as the backfill
        # lands days; the test measures the backfill alone, so an operator turns it off before the daemon starts.
        sensor = graphql(url, SENSOR_ID, {"selector": {**REPOSITORY, "sensorName": "gap_refill_sensor"}})
        stopped = graphql(url, STOP_SENSOR, {"id": sensor["sensorOrError"]["id"]})["stopSensor"]
        assert stopped["instigationState"]["status"] == "STOPPED", stopped
        daemon = ServiceProcess(
            "daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace], log_dir=logs, env=env, cwd=REPO
        )
        services.append(daemon)
        yield Deployment(
            postgres=postgres,
            webserver_url=url,
            bucket=bucket,
            s3_url=moto_s3,
            services=services,
            secrets=(postgres.password, sandbox.client_secret),
            sandbox=sandbox,
        )
    finally:
        for service in reversed(services):
            service.stop()
        sandbox.stop()


def _launch_run(deployment: Deployment, job_name: str) -> str:
    params = {
        "selector": {**REPOSITORY, "jobName": job_name},
        "runConfigData": IN_PROCESS,
    }
    result = deployment.gql(LAUNCH_RUN, {"params": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def _wait_runs_done(
    deployment: Deployment, run_ids: Callable[[], Sequence[str]], expected: int
) -> dict[str, str]:
    finished = {"SUCCESS", "FAILURE", "CANCELED"}

    def probe() -> dict[str, str] | None:
        ids = run_ids()
        statuses = deployment.run_statuses(ids) if ids else {}
        if len(statuses) >= expected and all(s in finished for s in statuses.values()):
            return statuses
        return None

    return wait_until(
        probe,
        timeout=RUNS_TIMEOUT_S,
        interval=1.0,
        what=f"{expected} runs to finish",
        alive=deployment.services,
    )


def test_deploy_yaml_is_a_valid_instance_config_without_secrets() -> None:
    config, _ = dagster_instance_config(str(DEPLOY_YAML.parent))
    settings = config["storage"]["postgres"]["postgres_db"]
    assert {name: settings[name] for name in ("hostname", "port", "username", "password", "db_name")} == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USER"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
    }
    assert settings["scheme"] == "postgresql+psycopg2"  # the driver dagster-postgres installs
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["runs"]["tag_concurrency_limits"] == [{"key": API_TAG, "limit": 3}]
    assert config["concurrency"]["pools"]["default_limit"] >= 1
    assert config["run_retries"]["enabled"] is True
    assert config["telemetry"] == {"enabled": False}


def test_helm_values_match_the_instance_file() -> None:
    """The chart renders its own dagster.yaml; its limits, retries and driver must be those of deploy/."""
    instance = yaml.safe_load(DEPLOY_YAML.read_text())
    helm = yaml.safe_load(HELM_VALUES.read_text())
    runs, pools = instance["concurrency"]["runs"], instance["concurrency"]["pools"]
    assert helm["concurrency"] == {
        "enabled": True,
        "runs": {
            "maxConcurrentRuns": runs["max_concurrent_runs"],
            "tagConcurrencyLimits": runs["tag_concurrency_limits"],
        },
        "pools": {
            "defaultLimit": pools["default_limit"],
            "granularity": pools["granularity"],
            "opGranularityRunBuffer": pools["op_granularity_run_buffer"],
        },
    }
    assert helm["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"] == {}
    retries = helm["dagsterDaemon"]["runRetries"]
    assert (retries["enabled"], retries["maxRetries"]) == (True, instance["run_retries"]["max_retries"])
    assert helm["postgresql"]["postgresqlScheme"] == instance["storage"]["postgres"]["postgres_db"]["scheme"]
    assert (
        "postgresqlPassword" not in helm["postgresql"] and helm["generatePostgresqlPasswordSecret"] is False
    )
    assert helm["runLauncher"]["type"] == "K8sRunLauncher"
    (code,) = helm["dagster-user-deployments"]["deployments"]
    assert code["codeServerArgs"][:2] == ["--module-name", "genesys_assets.definitions"]
    env = {item["name"]: item["value"] for item in code["env"]}
    assert env["GENESYS_LAKE_DIR"].startswith("s3://")  # run pods share no disk
    assert not any("SECRET" in name or "PASSWORD" in name for name in env)
    assert helm["telemetry"] == {"enabled": False}


def test_backfill_runs_queue_on_postgres_and_the_api_pool_holds(deployment: Deployment) -> None:
    limits = _yaml_limits()
    pg = deployment.postgres
    started = time.monotonic()

    directory_run = _launch_run(deployment, "genesys_directory_job")
    assert _wait_runs_done(deployment, lambda: [directory_run], 1) == {directory_run: "SUCCESS"}

    params = {
        "selector": {
            "partitionSetName": "genesys_daily_job_partition_set",
            "repositorySelector": REPOSITORY,
        },
        "partitionNames": BACKFILL_DAYS,
        "runConfigData": IN_PROCESS,
        "title": "deploy test backfill",
    }
    launched = deployment.gql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    def backfill_run_ids() -> list[str]:
        rows = pg.query(
            "SELECT run_id FROM run_tags WHERE key = 'dagster/backfill' AND value = %s", [backfill_id]
        )
        return [row[0] for row in rows]

    statuses = _wait_runs_done(deployment, backfill_run_ids, len(BACKFILL_DAYS))
    elapsed = time.monotonic() - started
    assert sorted(statuses.values()) == ["SUCCESS"] * len(BACKFILL_DAYS), statuses
    run_ids = list(statuses)

    # The backfill itself, its runs and their tags are rows of PostgreSQL.
    backfill_rows = pg.query("SELECT status FROM bulk_actions WHERE key = %s", [backfill_id])
    assert backfill_rows, "the backfill is not in bulk_actions"
    tags = pg.query(
        "SELECT run_id, key, value FROM run_tags WHERE run_id = ANY(%s) AND key IN (%s, 'dagster/partition')",
        [run_ids, API_TAG],
    )
    partitions = sorted(value for _, key, value in tags if key == "dagster/partition")
    partitions += sorted(
        value
        for run_id, key, value in pg.query(
            "SELECT run_id, key, value FROM run_tags WHERE run_id = ANY(%s) "
            "AND key = 'dagster/asset_partition_range_start'",
            [run_ids],
        )
    )
    assert sorted(set(partitions)) == BACKFILL_DAYS
    assert sorted(run_id for run_id, key, value in tags if key == API_TAG and value == "true") == sorted(
        run_ids
    )

    # Every run was queued first (the QueuedRunCoordinator), then started and finished.
    queued = pg.query(
        "SELECT run_id FROM event_logs WHERE run_id = ANY(%s) AND dagster_event_type = 'PIPELINE_ENQUEUED'",
        [run_ids],
    )
    assert sorted({row[0] for row in queued}) == sorted(run_ids)

    # Materializations of every daily asset for every day, with the export's row count and S3 URI.
    materializations = pg.query(
        "SELECT asset_key, partition FROM event_logs "
        "WHERE run_id = ANY(%s) AND dagster_event_type = 'ASSET_MATERIALIZATION'",
        [run_ids],
    )
    stored = {(json.loads(key)[0], partition) for key, partition in materializations}
    assert stored == {(asset, day) for asset in DAILY_ASSETS for day in BACKFILL_DAYS}
    checks = pg.query(
        "SELECT count(*) FROM event_logs WHERE run_id = ANY(%s) AND dagster_event_type = 'ASSET_CHECK_EVALUATION'",
        [run_ids],
    )[0][0]
    assert checks >= len(BACKFILL_DAYS)
    # The export's row count and S3 URI, read out of the stored event JSON by PostgreSQL.
    entries = pg.query(
        "SELECT e.partition, m ->> 'label', m -> 'entry_data' FROM event_logs e, jsonb_array_elements("
        "  (e.event::jsonb) #> '{dagster_event,event_specific_data,materialization,metadata_entries}') m "
        "WHERE e.run_id = ANY(%s) AND e.dagster_event_type = 'ASSET_MATERIALIZATION' "
        "AND e.asset_key = %s AND m ->> 'label' IN ('dagster/row_count', 'dagster/uri')",
        [run_ids, json.dumps(["queue_export_daily"])],
    )
    export_metadata: dict[str, dict[str, Any]] = {}
    for partition, label, data in entries:
        export_metadata.setdefault(partition, {})[label] = data.get("value", data.get("text"))
    assert sorted(export_metadata) == BACKFILL_DAYS
    client = s3_client_for(deployment.s3_url)
    for partition, metadata in export_metadata.items():
        object_key = export_key(EXPORT_PREFIX, "daily", partition)
        assert metadata["dagster/uri"] == f"s3://{deployment.bucket}/{object_key}"
        body = client.get_object(Bucket=deployment.bucket, Key=object_key)["Body"].read()
        assert pl.read_parquet(body).height == metadata["dagster/row_count"] > 0

    # Neither secret reached the stored runs and events or the services' logs.
    for secret in deployment.secrets:
        stored = pg.query(
            "SELECT (SELECT count(*) FROM event_logs WHERE strpos(event, %s) > 0)"
            " + (SELECT count(*) FROM runs WHERE strpos(run_body, %s) > 0)",
            [secret, secret],
        )[0][0]
        assert stored == 0
        for service in deployment.services:
            assert secret not in service.log_path.read_text(errors="replace"), service.name

    # The pool: the Genesys API steps of all runs, from their start and success events.
    steps = pg.query(
        "SELECT run_id, dagster_event_type, timestamp FROM event_logs WHERE run_id = ANY(%s) "
        "AND step_key = 'raw_queue_aggregates' AND dagster_event_type IN ('STEP_START', 'STEP_SUCCESS')",
        [run_ids],
    )
    by_run: dict[str, dict[str, datetime]] = {}
    for run_id, kind, timestamp in steps:
        by_run.setdefault(run_id, {})[kind] = timestamp
    api_steps = [(times["STEP_START"], times["STEP_SUCCESS"]) for times in by_run.values()]
    assert len(api_steps) == len(BACKFILL_DAYS)
    assert all(
        (end - start).total_seconds() >= 0.8 * SLOW_API_SECONDS for start, end in api_steps
    )  # sandbox jitter
    max_api_steps = max_overlap(api_steps)

    run_times = pg.query("SELECT start_time, end_time FROM runs WHERE run_id = ANY(%s)", [run_ids])
    run_windows = [(datetime.fromtimestamp(s), datetime.fromtimestamp(e)) for s, e in run_times]
    max_runs = max_overlap(run_windows)
    blocked = pg.query(
        "SELECT count(*) FROM event_logs WHERE run_id = ANY(%s) AND dagster_event_type = 'ENGINE_EVENT' "
        "AND event LIKE %s",
        [run_ids, f"%Step blocked by limit for pool {POOL}%"],
    )[0][0]
    pool_rows = pg.query('SELECT concurrency_key, "limit" FROM concurrency_limits')
    held = pg.query("SELECT count(*) FROM concurrency_slots WHERE run_id IS NOT NULL")[0][0]
    first = min(start for start, _ in run_windows)
    for (run_start, run_end), (step_start, step_end) in zip(
        sorted(run_windows), sorted(api_steps), strict=True
    ):
        print(
            f"run {(run_start - first).total_seconds():6.1f} .. {(run_end - first).total_seconds():6.1f} s, "
            f"raw step {(step_start - first).total_seconds():6.1f} .. {(step_end - first).total_seconds():6.1f} s"
        )
    print(
        f"\ndeploy: {len(run_ids)} backfill runs in {elapsed:.1f} s; concurrent runs max {max_runs} "
        f"(limit {limits['api_runs']} for {API_TAG}); concurrent {POOL} steps max {max_api_steps} "
        f"(pool limit {limits['pool']}); steps that waited for a slot {blocked}; pools {pool_rows}"
    )
    assert 1 <= max_api_steps <= limits["pool"]
    assert max_runs <= limits["api_runs"]
    assert (POOL, limits["pool"]) in pool_rows
    assert held == 0  # every slot released after the runs
    # The pool, not the run queue alone, kept the API steps apart: runs overlapped while their API steps did not.
    assert max_runs > max_api_steps or blocked > 0


def _run_tags(deployment: Deployment, run_id: str) -> dict[str, str]:
    return dict(deployment.postgres.query("SELECT key, value FROM run_tags WHERE run_id = %s", [run_id]))


def _failed_run_tags(deployment: Deployment, run_id: str) -> dict[str, str]:
    """The tags of a failed run once Dagster has added its retry verdict (`dagster/will_retry`), which it
    stores just after the run's FAILURE status."""

    def probe() -> dict[str, str] | None:
        tags = _run_tags(deployment, run_id)
        return tags if "dagster/will_retry" in tags else None

    return wait_until(
        probe, timeout=60, interval=0.5, what="the run's retry verdict", alive=deployment.services
    )


def _retries_of(deployment: Deployment, run_id: str) -> list[str]:
    rows = deployment.postgres.query(
        "SELECT run_id FROM run_tags WHERE key = 'dagster/parent_run_id' AND value = %s", [run_id]
    )
    return [row[0] for row in rows]


def test_rejected_credentials_fail_once_while_a_503_storm_is_retried(deployment: Deployment) -> None:
    """Under deploy/dagster.yaml's run retries (2), driven by the real daemon: a run whose credentials the
    login host rejects fails once and is not retried; a run whose API calls meet more 503s than the client
    retries inside the step fails, is retried by the daemon, and the retry succeeds."""
    sandbox = deployment.sandbox
    secret, slow = sandbox.client_secret, sandbox.config.fault_rates
    sandbox.update(fault_rates={})  # answers at once here: this test times nothing
    # The org rotated the secret; the deployment did not.
    sandbox.update(client_secret="rotated-" + secret[::-1])
    try:
        rejected = _launch_run(deployment, "genesys_directory_job")
        assert _wait_runs_done(deployment, lambda: [rejected], 1) == {rejected: "FAILURE"}
    finally:
        sandbox.update(client_secret=secret)
    tags = _failed_run_tags(deployment, rejected)
    assert tags["dagster/retry_on_asset_or_op_failure"] == "false"  # put there by the failing step
    assert tags["dagster/will_retry"] == "false"  # Dagster's own verdict, from deploy/dagster.yaml's settings
    assert tags["dagster/failure_reason"] == "STEP_FAILURE"

    # More 503s than GENESYS_MAX_ATTEMPTS (3): the step gives up, the run fails and the daemon retries it.
    try:
        sandbox.update(fault_script=["503"] * 3)
        storm = _launch_run(deployment, "genesys_directory_job")
        assert _wait_runs_done(deployment, lambda: [storm], 1) == {storm: "FAILURE"}
        storm_tags = _failed_run_tags(deployment, storm)
        assert (
            storm_tags["dagster/will_retry"] == "true"
            and "dagster/retry_on_asset_or_op_failure" not in storm_tags
        )
        retry = wait_until(
            lambda: _retries_of(deployment, storm),
            timeout=60,
            interval=1.0,
            what="the daemon's retry",
            alive=deployment.services,
        )
        assert _wait_runs_done(deployment, lambda: retry, 1) == {retry[0]: "SUCCESS"}
    finally:
        sandbox.update(fault_rates=slow)
    assert _run_tags(deployment, retry[0])["dagster/retry_number"] == "1"

    # The daemon handled the later storm run, so it has seen the rejected run's failure too: one attempt only.
    assert _retries_of(deployment, rejected) == []
    events = deployment.postgres.query(
        "SELECT count(*) FROM event_logs WHERE run_id = %s AND event LIKE %s",
        [rejected, "%This run will not be retried: CredentialsRejected%"],
    )[0][0]
    assert events == 1
