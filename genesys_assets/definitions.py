"""The code location: every definition found in `genesys_assets.defs`, with the executor, the resources
built once from the environment (`genesys_assets.config`) and each asset's code reference.

`dg.load_from_defs_folder` imports every module of the defs folder that `[tool.dg.project]` names in
pyproject.toml and collects the assets, checks, jobs, schedules and sensors it finds, so a module added to
`defs/` (by hand or by `dg scaffold defs`) loads with no edit here. `dg list defs`, `dg check defs`, `dg dev`,
`dg launch`, the `dagster` CLI and the UI's workspace load this module.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from genesys_assets.config import SETTINGS
from genesys_assets.defs.resources import build_resources

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


# What a Definitions found in the defs folder holds besides its assets; all of it goes into the code location.
_KEPT = ("asset_checks", "jobs", "schedules", "sensors", "loggers", "metadata")


def code_location(found: dg.Definitions) -> dg.Definitions:
    """The definitions `found` in the defs folder, each asset with a reference to the file and line of its
    function (shown in the UI), merged with the executor and the resources."""
    kept = {name: getattr(found, name) for name in _KEPT}
    referenced = dg.Definitions(assets=dg.with_source_code_references(found.assets or []), **kept)
    return dg.Definitions.merge(
        referenced, dg.Definitions(executor=run_executor, resources=build_resources(SETTINGS))
    )


defs = code_location(dg.load_from_defs_folder(path_within_project=Path(__file__).parent))
