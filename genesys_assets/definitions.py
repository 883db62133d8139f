"""The code location: assets, checks, resources, jobs, schedules and sensors, each resource built once here.

Configuration comes from the environment (see README.md): Genesys credentials and endpoints through
`EnvVar`, so they never appear in the UI; the timezone and first date through `genesys_assets.settings`.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource

from genesys_assets import schedules
from genesys_assets.assets import export, extract, kpis
from genesys_assets.genesys.resource import GenesysResource
from genesys_assets.genesys.settings import FETCH_MODES
from genesys_assets.io_manager import PartitionedParquetIOManager
from genesys_assets.resources import S3ExportResource
from genesys_assets.settings import SettingsError


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def _env_number(name: str, default: str, kind: type[int] | type[float]) -> Any:
    text = _env(name, default)
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or value <= 0:
        raise SettingsError(
            f"{name}={text!r} is not a positive {kind.__name__}; set it like {name}={default}."
        )
    return value


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    text = _env(name, default)
    if text not in choices:
        raise SettingsError(f"{name}={text!r} is not supported; set it to one of {', '.join(choices)}.")
    return text


def resources_from_env() -> dict[str, Any]:
    """The resources of the code location, configured from the process environment (see README.md)."""
    s3 = S3Resource(endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    return {
        "genesys": GenesysResource(
            client_id=dg.EnvVar("GENESYS_CLIENT_ID"),
            client_secret=dg.EnvVar("GENESYS_CLIENT_SECRET"),
            region=_env("GENESYS_REGION", "mypurecloud.com"),
            api_url=os.environ.get("GENESYS_API_URL") or None,
            login_url=os.environ.get("GENESYS_LOGIN_URL") or None,
            requests_per_second=_env_number("GENESYS_REQUESTS_PER_SECOND", "5", float),
            burst=_env_number("GENESYS_BURST", "10", int),
            timeout_s=_env_number("GENESYS_TIMEOUT_S", "30", float),
            max_attempts=_env_number("GENESYS_MAX_ATTEMPTS", "6", int),
            max_retry_seconds=_env_number("GENESYS_MAX_RETRY_SECONDS", "120", float),
            queries_in_flight=_env_number("GENESYS_QUERIES_IN_FLIGHT", "2", int),
            max_sync_query_days=_env_number("GENESYS_MAX_QUERY_DAYS", "7", int),
            max_job_days=_env_number("GENESYS_MAX_JOB_DAYS", "31", int),
            fetch_mode=_env_choice("GENESYS_FETCH_MODE", "auto", FETCH_MODES),
            max_queue_predicates=_env_number("GENESYS_MAX_QUEUE_PREDICATES", "100", int),
        ),
        "io_manager": PartitionedParquetIOManager(base_dir=_env("GENESYS_LAKE_DIR", "data/lake")),
        "export_s3": S3ExportResource(
            s3=s3,
            bucket=dg.EnvVar("EXPORT_S3_BUCKET"),
            prefix=_env("EXPORT_S3_PREFIX", "genesys"),
            sse=_env_choice("EXPORT_S3_SSE", "AES256", ("AES256", "aws:kms")),
            kms_key_id=os.environ.get("EXPORT_S3_KMS_KEY_ID") or None,
            compression=_env_choice("EXPORT_PARQUET_COMPRESSION", "snappy", ("snappy", "zstd")),
        ),
    }


ASSETS = dg.load_assets_from_modules([extract, kpis, export])

# Runs execute in one process by default: a run of one partition does about two seconds of work, while each
# step process of Dagster's multiprocess executor would first import the code location again (about 3 s on a
# 2-core machine). The steps of this chain run one after another either way.
# `execution: {config: {multiprocess: {}}}` in a run's config still selects one process per step.
run_executor = dg.ExecutorDefinition(
    name="in_process_or_multiprocess",
    config_schema=dg.Field(
        dg.multi_or_in_process_executor.config_schema.config_type, default_value={"in_process": {}}
    ),
    executor_creation_fn=dg.multi_or_in_process_executor.executor_creation_fn,
    requirements=lambda config: (
        dg.multiple_process_executor_requirements() if "multiprocess" in config else []
    ),
    description="In process by default; `multiprocess: {}` in the run config runs each step in its own process.",
)

defs = dg.Definitions(
    assets=ASSETS,
    executor=run_executor,
    jobs=[schedules.daily_job, schedules.weekly_job, schedules.gap_refill_job, schedules.directory_job],
    schedules=[
        schedules.genesys_daily_schedule,
        schedules.genesys_restatement_sweep_schedule,
        schedules.genesys_weekly_schedule,
        schedules.genesys_directory_schedule,
    ],
    sensors=[schedules.gap_refill_sensor, schedules.partition_failure_sensor],
    resources=resources_from_env(),
)
