"""The Dagster layer: assets (one module per group), checks, automation, gap refills, partitions, resources.

`genesys/` (the API client), `transforms/` (the tables) and `lake/` (Parquet, S3) are plain Python with no
Dagster import. `genesys_assets.config` reads the environment into settings and resource fields, and
`genesys_assets.definitions` assembles this folder into the code location.
"""
