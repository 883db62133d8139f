"""The Dagster layer: assets (one module per group), checks, automation, gap refills, partitions, resources.

`genesys/` (the API client), `transforms/` (the tables) and `lake/` (Parquet, S3) are plain Python with no
Dagster import. `genesys_assets.config` reads the environment into settings, and `genesys_assets.definitions`
loads every module of this folder into the code location.

Dagster 1.13 marks four APIs this layer relies on as beta or preview, with no stable equivalent, and warns
on every load of the code location (so on every CLI command, before its first line). Their warnings,
and only those, are filtered here, the one place, before any module of this folder is imported:

* `BackfillPolicy.single_run()` (the `backfill_policy` parameter of `@asset`, beta): a range backfill is one
  run, so a year is fetched in the fewest API calls; `multi_run(N)` when `GENESYS_MAX_PARTITIONS_PER_RUN`
  caps the days of a run (README.md, "Backfills in several runs").
* `TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)` (beta): the gap and channel
  windows reach before the first partition for the first days.
* `AssetCheckSpec(partitions_def=...)` (preview): each partition's checks are recorded on that partition.
* `with_source_code_references` and the `CodeReferencesMetadataValue` and `LocalFileCodeReference` it makes
  (beta): the UI links each
  asset to its function's file and line.

Any other Dagster warning (a new beta parameter, a deprecation) still shows; the tests turn Dagster's
deprecation warnings raised from this package into errors (`filterwarnings` in pyproject.toml).
"""

import warnings

import dagster as dg

DELIBERATE_DAGSTER_WARNINGS: tuple[tuple[type[Warning], str], ...] = (
    (dg.BetaWarning, r"Parameter `backfill_policy` of function `asset` is currently in beta"),
    (
        dg.BetaWarning,
        r"Parameter `allow_nonexistent_upstream_partitions` of initializer `TimeWindowPartitionMapping",
    ),
    (dg.PreviewWarning, r"Specifying a partitions_def on an AssetCheckSpec is currently in preview"),
    (dg.BetaWarning, r"Function `with_source_code_references` is currently in beta"),
    (dg.BetaWarning, r"Class `(CodeReferencesMetadataValue|LocalFileCodeReference)` is currently in beta"),
)
"""The (category, message start) of each Dagster warning filtered above, with the reason in the docstring."""

for _category, _message in DELIBERATE_DAGSTER_WARNINGS:
    warnings.filterwarnings("ignore", message=_message, category=_category)
