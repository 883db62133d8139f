"""The code location: the assets, checks, jobs, schedules and sensors of `genesys_assets.defs`, with the
resources built once from the environment (`genesys_assets.config`).

`dg list defs` and `dg check defs` load this module (`[tool.dg]` in pyproject.toml), as do `dagster dev` and
the UI's workspace.
"""

from __future__ import annotations

import warnings

import dagster as dg

from genesys_assets.config import SETTINGS
from genesys_assets.defs import automation, gap_refills, genesys_raw, lake_export, queue_kpis
from genesys_assets.defs.resources import build_resources

with warnings.catch_warnings():  # code references are a beta API of Dagster 1.13
    warnings.simplefilter("ignore", dg.BetaWarning)
    ASSETS = dg.with_source_code_references(
        dg.load_assets_from_modules([genesys_raw, queue_kpis, lake_export])
    )

# Runs execute in one process by default: each step process of Dagster's multiprocess executor would first
# import the code location again, which costs more than a one-partition run's work (bench/README.md). The steps of
# this chain run one after another either way. `execution: {config: {multiprocess: {}}}` in a run's config
# still selects one process per step.
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
    jobs=[automation.daily_job, automation.weekly_job, gap_refills.gap_refill_job, automation.directory_job],
    schedules=[
        automation.genesys_daily_schedule,
        automation.genesys_restatement_sweep_schedule,
        automation.genesys_weekly_schedule,
        automation.genesys_directory_schedule,
    ],
    sensors=[gap_refills.gap_refill_sensor, automation.partition_failure_sensor],
    resources=build_resources(SETTINGS),
)
