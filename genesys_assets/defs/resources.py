"""The resources of the code location: the Genesys client, the S3 export writer and the lake's I/O manager.

`build_resources` makes them once from the values `genesys_assets.config` read; field defaults are the
defaults of the settings they build (`GenesysSettings` for the client, `ExportSettings` for the export
writer; the I/O manager builds `LakeSettings`).
"""

import threading
from collections.abc import Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl
from dagster_aws.s3 import S3Resource
from pydantic import Field, PrivateAttr

from genesys_assets.defs.io_manager import PartitionedParquetIOManager
from genesys_assets.genesys.client import GenesysClient
from genesys_assets.genesys.http import LogLike
from genesys_assets.genesys.settings import FETCH_MODES, FetchModeSetting, GenesysSettings
from genesys_assets.lake.export_writer import export_key, put_partition_object
from genesys_assets.lake.parquet import Compression, parquet_bytes
from genesys_assets.lake.s3 import ExportedObject, remove_stray_keys
from genesys_assets.lake.settings import SERVER_SIDE_ENCRYPTIONS, ExportSettings, ServerSideEncryption
from genesys_assets.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from genesys_assets.config import Settings

_CLIENT_DEFAULTS = {item.name: item.default for item in fields(GenesysSettings)}
_EXPORT_DEFAULTS = {item.name: item.default for item in fields(ExportSettings)}


def _client_field(name: str, description: str, **kwargs: Any) -> Any:
    return Field(default=_CLIENT_DEFAULTS[name], description=description, **kwargs)


def _export_field(name: str, description: str) -> Any:
    return Field(default=_EXPORT_DEFAULTS[name], description=description)


class GenesysResource(dg.ConfigurableResource):
    """Genesys Cloud credentials, region, rate limit, timeouts and query budgets; hands assets a client.

    The resource holds no connection: each `get_client` call builds a client (its own connection pool and
    token) on the shared, cross-process rate-limit bucket of the OAuth client, so every run and step of a
    backfill draws from one budget.
    """

    client_id: str = Field(description="OAuth client id (client credentials grant).")
    client_secret: str = Field(description="OAuth client secret.", repr=False)
    region: str = _client_field("region", "Region name (us_east_1) or domain (mypurecloud.com).")
    api_url: str | None = _client_field("api_url", "Override of the API base URL.")
    login_url: str | None = _client_field("login_url", "Override of the login base URL.")
    requests_per_second: float = _client_field(
        "requests_per_second", "Sustained requests per second shared by every process of this OAuth client."
    )
    burst: int = _client_field("burst", "Requests allowed at once when the bucket is full.")
    rate_limit_dir: str | None = _client_field(
        "rate_limit_dir", "Directory of the shared rate-limit file; default the temp dir."
    )
    rate_limit_url: str | None = _client_field(
        "rate_limit_url",
        "postgresql:// URL of the rate-limit database shared by every machine; unset: the file bucket.",
        repr=False,
    )
    timeout_s: float = _client_field("timeout_s", "Per-request timeout in seconds.")
    max_attempts: int = _client_field("max_attempts", "Attempts per request for 429, 5xx and network faults.")
    max_retry_seconds: float = _client_field("max_retry_seconds", "Longest time spent retrying one request.")
    max_sync_query_days: int = _client_field(
        "max_sync_query_days", "Longest synchronous aggregates query, in days."
    )
    max_job_days: int = _client_field("max_job_days", "Longest asynchronous aggregates job, in days.")
    queries_in_flight: int = _client_field(
        "queries_in_flight", "Aggregates queries of a range in flight at once."
    )
    fetch_mode: FetchModeSetting = _client_field(
        "fetch_mode", f"{', '.join(FETCH_MODES)}: how ranges are fetched."
    )
    max_queue_predicates: int = _client_field("max_queue_predicates", "Most queue ids in one query's filter.")

    def settings(self) -> GenesysSettings:
        """The client settings these fields describe."""
        return GenesysSettings(
            **{name: getattr(self, name) for name in type(self).model_fields}  # type: ignore[arg-type]
        )

    def get_client(self, log: LogLike | Any | None = None) -> GenesysClient:
        """A new client; use it as a context manager. ``log`` is usually ``context.log``."""
        return GenesysClient(self.settings(), log=log)

    def __repr__(self) -> str:
        return (
            f"GenesysResource(client_id={self.client_id!r}, client_secret='***', region={self.region!r}, "
            f"api_url={self.api_url!r}, login_url={self.login_url!r}, "
            f"requests_per_second={self.requests_per_second}, burst={self.burst})"
        )

    __str__ = __repr__


class S3ExportResource(dg.ConfigurableResource):
    """Writes one Parquet object per partition and grain under a Hive-style key, encrypted and tagged.

    Re-running a partition overwrites the same key with byte-identical content (only the run-id tag changes)
    and removes stray objects under that partition's prefix.
    """

    s3: dg.ResourceDependency[S3Resource]
    bucket: str = Field(description="The export bucket.")
    prefix: str = _export_field("prefix", "Key prefix of every exported object.")
    sse: ServerSideEncryption = _export_field(
        "sse", f"Server-side encryption: {' or '.join(SERVER_SIDE_ENCRYPTIONS)}."
    )
    kms_key_id: str | None = _export_field(
        "kms_key_id", "KMS key id, ARN or alias with sse=aws:kms; None uses the aws/s3 key."
    )
    compression: Compression = _export_field("compression", "Parquet compression of exported objects.")

    _client: Any = PrivateAttr(default=None)
    _client_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def client(self) -> Any:
        """The boto3 client, built once per resource instance (under a lock: the export writes from several
        threads): a range run writes hundreds of objects. boto3 clients are thread-safe."""
        with self._client_lock:
            if self._client is None:
                self._client = self.s3.get_client()
            return self._client

    def settings(self) -> ExportSettings:
        """The export settings these fields describe (checked when made)."""
        return ExportSettings(
            **{name: getattr(self, name) for name in type(self).model_fields if name != "s3"}
        )

    def write(
        self,
        frame: pl.DataFrame,
        schema: pl.Schema,
        grain: str,
        partition_key: str,
        *,
        run_id: str,
    ) -> ExportedObject:
        """Write one partition's frame as the Parquet object of its grain and key; see `put_partition_object`.
        Other objects in the partition's folder are left to `remove_strays`, called once for a whole batch."""
        settings = self.settings()
        body = parquet_bytes(frame, compression=settings.compression, schema=schema)
        return put_partition_object(
            self.client(),
            settings.bucket,
            export_key(settings.prefix, grain, partition_key),
            body,
            sse=settings.sse,
            kms_key_id=settings.kms_key_id or None,
            tags={
                "schema_version": SCHEMA_VERSION,
                "grain": grain,
                "partition": partition_key,
                "run_id": run_id,
            },
            remove_strays=False,
        )

    def remove_strays(self, grain: str, partition_keys: Sequence[str]) -> tuple[str, ...]:
        """Delete every object in these partitions' folders but their part files, in one listing; returns
        the deleted keys."""
        settings = self.settings()
        keys = [export_key(settings.prefix, grain, key) for key in partition_keys]  # type: ignore[arg-type]
        return remove_stray_keys(self.client(), settings.bucket, keys)


def build_resources(settings: "Settings") -> dict[str, Any]:
    """The code location's resources under their keys, with the field values the environment gave."""
    return {
        "genesys": GenesysResource(**settings.genesys),
        "io_manager": PartitionedParquetIOManager(**settings.lake),
        "export_s3": S3ExportResource(s3=S3Resource(**settings.s3_client), **settings.export),
    }
