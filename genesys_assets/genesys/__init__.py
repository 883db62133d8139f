"""The Genesys Cloud client of the pipeline: OAuth, shared rate limit, retries and typed calls; no Dagster.

    from genesys_assets.genesys import GenesysClient, GenesysSettings, errors

    with GenesysClient(GenesysSettings(client_id=..., client_secret=...)) as client:
        queues = client.list_queues()
        fetch = client.fetch_aggregates(date(2026, 3, 1), date(2026, 3, 31), timezone="America/New_York")

The Dagster resource lives in `genesys_assets.defs.resources` and is not imported here, so this package
stays quick to import.
"""

from genesys_assets.genesys import errors
from genesys_assets.genesys.client import GenesysClient, parse_queue
from genesys_assets.genesys.errors import (
    BadRequest,
    CredentialsRejected,
    GenesysError,
    JobFailed,
    MissingPermission,
    NotFound,
    RateLimitExhausted,
    ServerUnavailable,
    UnexpectedResponse,
    UnknownRegion,
)
from genesys_assets.genesys.planner import plan_fetch
from genesys_assets.genesys.ranges import aggregates_body, is_too_large, queue_batches
from genesys_assets.genesys.records import (
    AggregatesChunk,
    AggregatesFetch,
    CallStats,
    ChunkPlan,
    FetchPlan,
    FetchProgress,
    Queue,
    normalise_percentage,
)
from genesys_assets.genesys.regions import REGIONS, Hosts, resolve_hosts
from genesys_assets.genesys.settings import GenesysSettings

__all__ = [
    "REGIONS",
    "AggregatesChunk",
    "AggregatesFetch",
    "BadRequest",
    "CallStats",
    "ChunkPlan",
    "CredentialsRejected",
    "FetchPlan",
    "FetchProgress",
    "GenesysClient",
    "GenesysError",
    "GenesysSettings",
    "Hosts",
    "JobFailed",
    "MissingPermission",
    "NotFound",
    "Queue",
    "RateLimitExhausted",
    "ServerUnavailable",
    "UnexpectedResponse",
    "UnknownRegion",
    "aggregates_body",
    "errors",
    "is_too_large",
    "normalise_percentage",
    "parse_queue",
    "plan_fetch",
    "queue_batches",
    "resolve_hosts",
]
