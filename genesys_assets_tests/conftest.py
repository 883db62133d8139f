"""Shared fixtures, the pipeline settings every in-process test runs with, and the `e2e` tier.

`genesys_assets.config` reads the `GENESYS_*` settings once, at import, as a deployment does; the tests pin
them here (the sandbox org's timezone, a 2026 start) before any test module imports the code location.

A test is `e2e` when it starts a server (the sandbox org, moto S3, PostgreSQL, a browser, the Dagster UI:
any of `SERVER_FIXTURES`, directly or through another fixture) or runs Dagster or child processes (modules
that do so mark themselves). `-m "not e2e"` runs the rest: pure functions, in seconds.
"""

import os

import pytest

os.environ["GENESYS_TIMEZONE"] = "America/New_York"
os.environ["GENESYS_START_DATE"] = "2026-01-01"
os.environ["GENESYS_GRANULARITY"] = "PT30M"
for _name in (
    "GENESYS_QUEUE_IDS",
    "GENESYS_LOOKBACK_DAYS",
    "GENESYS_GAP_WINDOW_DAYS",
    "GENESYS_CHANNEL_WINDOW_DAYS",
    "GENESYS_FETCH_MODE",
    "GENESYS_MAX_QUERY_DAYS",
    "GENESYS_MAX_JOB_DAYS",
    "GENESYS_MAX_QUEUE_PREDICATES",
    "GENESYS_RATE_LIMIT_URL",
):
    os.environ.pop(_name, None)

pytest_plugins = [  # modules that others import come first, so pytest rewrites their asserts
    "genesys_assets_tests.s3_fixtures",
    "genesys_assets_tests.sandbox_fixtures",
    "genesys_assets_tests.postgres_fixtures",
    "genesys_assets_tests.pipeline_fixtures",
]

# Fixtures that start a server; every test that uses one, directly or through another fixture, is e2e.
SERVER_FIXTURES = frozenset(
    {
        "sandbox",
        "make_sandbox",
        "org",
        "moto_s3",
        "canned_s3",
        "postgres",
        "pipeline",
        "make_pipeline",
        "deployment",
        "demo",
        "browser",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
