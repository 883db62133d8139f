"""The data lake: deterministic Parquet encoding, S3 export objects and the store behind the I/O manager.

No Dagster here: ``genesys_assets.defs.io_manager`` and the export assets call these functions.

* :mod:`genesys_assets.lake.parquet`: ``parquet_bytes`` / ``read_parquet_bytes`` with explicit schemas.
* :mod:`genesys_assets.lake.s3`: checked single-PUT uploads, reads, stray-key cleanup, ``ExportError`` and
  its subclasses.
* :mod:`genesys_assets.lake.export_writer`: export keys and one object per export partition.
* :mod:`genesys_assets.lake.storage`: local folder or S3 prefix behind one ``ObjectStore`` interface,
  atomic local writes.
"""

from genesys_assets.lake.export_writer import export_key, export_prefix, put_partition_object
from genesys_assets.lake.parquet import ParquetSchemaError, arrow_schema, parquet_bytes, read_parquet_bytes
from genesys_assets.lake.s3 import (
    AccessDeniedError,
    BucketNotFoundError,
    ChecksumMismatchError,
    CredentialsError,
    EncryptionError,
    EndpointError,
    ExportedObject,
    ExportError,
    put_object,
)
from genesys_assets.lake.storage import (
    LakeStorageError,
    LocalStore,
    ObjectStore,
    S3Store,
    atomic_write,
    open_store,
)

__all__ = [
    "AccessDeniedError",
    "BucketNotFoundError",
    "ChecksumMismatchError",
    "CredentialsError",
    "EncryptionError",
    "EndpointError",
    "ExportError",
    "ExportedObject",
    "LakeStorageError",
    "LocalStore",
    "ObjectStore",
    "ParquetSchemaError",
    "S3Store",
    "arrow_schema",
    "atomic_write",
    "export_key",
    "export_prefix",
    "open_store",
    "parquet_bytes",
    "put_object",
    "put_partition_object",
    "read_parquet_bytes",
]
