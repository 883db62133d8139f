"""Settings of the lake's storage and of the S3 export: where objects go, how they are encrypted and compressed.

Plain frozen dataclasses with no Dagster in them: `genesys_assets.config` fills them from the environment
(as it fills `GenesysSettings` for the client), and the Dagster resources of `genesys_assets.defs` build
them from their fields. Each choice (`ServerSideEncryption`, `Compression`) is a `Literal` written here or in
`lake.parquet` once; the tuples of allowed values are read from it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final, Literal, get_args

from genesys_assets.lake.parquet import COMPRESSIONS, Compression

ServerSideEncryption = Literal["AES256", "aws:kms"]
SERVER_SIDE_ENCRYPTIONS: Final[tuple[str, ...]] = get_args(ServerSideEncryption)


def _problem(name: str, value: object) -> str | None:
    """What is wrong with a value of the storage field `name` shared by both settings, or None."""
    if name == "sse" and value not in SERVER_SIDE_ENCRYPTIONS:
        return f"is not supported; use one of {', '.join(SERVER_SIDE_ENCRYPTIONS)}"
    if name == "compression" and value not in COMPRESSIONS:
        return f"is not supported; use one of {', '.join(COMPRESSIONS)}"
    return None


class _Checked:
    """Checks every field of a settings dataclass with its `problem` rule when it is made."""

    def __post_init__(self) -> None:
        for item in fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            problem = self.problem(item.name, value)
            if problem:
                raise ValueError(f"{item.name}={value!r} {problem}.")

    @staticmethod
    def problem(name: str, value: object) -> str | None:
        """What is wrong with a value of the field `name`, or None."""
        return _problem(name, value)


@dataclass(frozen=True)
class LakeSettings(_Checked):
    """Where the intermediate lake's Parquet files go (a folder or ``s3://bucket/prefix``) and how they are
    compressed and, on S3, encrypted (``kms_key_id`` None with ``aws:kms`` uses the ``aws/s3`` key)."""

    base_dir: str = "data/lake"
    compression: Compression = "snappy"
    sse: ServerSideEncryption = "AES256"
    kms_key_id: str | None = None


@dataclass(frozen=True)
class ExportSettings(_Checked):
    """The S3 export's bucket and key prefix, its objects' encryption and their Parquet compression."""

    bucket: str
    prefix: str = "genesys"
    sse: ServerSideEncryption = "AES256"
    kms_key_id: str | None = None
    compression: Compression = "snappy"
