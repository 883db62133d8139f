"""The sandbox Genesys Cloud org: a local HTTP server with deterministic synthetic queue traffic.

    from genesys_assets.sandbox import SandboxConfig, SandboxServer

    with SandboxServer(SandboxConfig(seed=7, queue_count=5, timezone="America/New_York")) as sandbox:
        sandbox.url, sandbox.client_id, sandbox.client_secret
        sandbox.truth.daily_totals(queue_id, "voice", date(2026, 3, 8))

It powers the demo, the tests and the benchmarks, and lets users try the pipeline without a Genesys org.
Run it alone with ``python -m genesys_assets.sandbox --port 8765 --queues 20``.
"""

from genesys_assets.sandbox.aggregate import SUPPORTED_METRICS
from genesys_assets.sandbox.config import (
    ALL_PERMISSIONS,
    FAULT_KINDS,
    MUTATIONS,
    PERMISSION_AGGREGATES,
    PERMISSION_QUEUES,
    ConfigError,
    SandboxConfig,
)
from genesys_assets.sandbox.generator import ANALYTICS_MEDIA_TYPES, SandboxOrg
from genesys_assets.sandbox.queues import MEDIA_TYPES, SandboxQueue
from genesys_assets.sandbox.server import SandboxServer
from genesys_assets.sandbox.truth import Truth

__all__ = [
    "ALL_PERMISSIONS",
    "ANALYTICS_MEDIA_TYPES",
    "FAULT_KINDS",
    "MEDIA_TYPES",
    "MUTATIONS",
    "PERMISSION_AGGREGATES",
    "PERMISSION_QUEUES",
    "SUPPORTED_METRICS",
    "ConfigError",
    "SandboxConfig",
    "SandboxOrg",
    "SandboxQueue",
    "SandboxServer",
    "Truth",
]
