"""Shared fixtures and the pipeline settings every in-process test runs with.

The partition definitions read `GENESYS_*` settings once, at import, as a deployment does; the tests pin
them here (the sandbox org's timezone, a 2026 start) before any test module imports the code location.
"""

import os
import warnings

os.environ["GENESYS_TIMEZONE"] = "America/New_York"
os.environ["GENESYS_START_DATE"] = "2026-01-01"
os.environ["GENESYS_GRANULARITY"] = "PT30M"
for _name in (
    "GENESYS_QUEUE_IDS",
    "GENESYS_LOOKBACK_DAYS",
    "GENESYS_SETTLE_HOURS",
    "GENESYS_GAP_WINDOW_DAYS",
):
    os.environ.pop(_name, None)

# Dagster flags single-run backfills, window mappings and partitioned checks as beta/preview; they are
# deliberate choices of this project (see DESIGN.md), so their notices are not test output.
warnings.filterwarnings("ignore", message=".*(beta|preview).*")
warnings.filterwarnings("ignore", message="Found asset job named")

from genesys_assets_tests.pipeline_fixtures import *  # noqa: E402,F403
from genesys_assets_tests.s3_fixtures import *  # noqa: E402,F403
from genesys_assets_tests.sandbox_fixtures import *  # noqa: E402,F403
