"""The lake's S3 objects: checked single-PUT uploads, reads, existence checks, stray-key cleanup, errors.

Used by the lake storage behind the Parquet I/O manager (`lake.storage.S3Store`) and by the export writer
(`lake.export_writer`). Works with any boto3 S3 client (AWS, or an S3-compatible endpoint chosen through
``AWS_ENDPOINT_URL``); no Dagster.

Every upload is one ``PutObject`` carrying:

* a SHA-256 checksum (``ChecksumAlgorithm=SHA256`` plus the base64 digest, so S3 rejects a body that
  changed on the way); the checksum S3 returns is compared with the local one;
* server-side encryption, ``AES256`` by default or ``aws:kms`` with an optional key id;
* object tags, URL-encoded ``key=value`` pairs joined by ``&``;
* the SHA-256 digest as user metadata (``x-amz-meta-sha256``) for readers that verify copies.

A single PUT accepts bodies up to 5 GiB (the S3 limit). A partition of this project's export is a few
megabytes, so multipart uploads are not used; a body above the limit is refused with a clear error.

Failures become :class:`ExportError` subclasses that name the bucket, the key and the fix. Messages never
contain credentials: only the bucket, key, AWS error code and S3's own message (scrubbed of anything that
looks like an access key id) are used.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypedDict
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from genesys_assets.lake.settings import SERVER_SIDE_ENCRYPTIONS, ServerSideEncryption

S3Client = Any  # a boto3 ``s3`` client; boto3 ships no runtime type for it

PARQUET_CONTENT_TYPE: Final = "application/vnd.apache.parquet"
MAX_SINGLE_PUT_BYTES: Final = 5 * 1024**3
MAX_TAGS: Final = 10
_TAG_CHARS = re.compile(r"^[\w .:/=+\-@]*$")
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b")
_CREDENTIAL_CODES: Final = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}
)
# What S3 answers for a key with no object (GetObject: NoSuchKey; HeadObject, which has no body: 404 or NotFound).
_MISSING_CODES: Final = frozenset({"NoSuchKey", "404", "NotFound"})
_CHECKSUM_CODES: Final = frozenset({"BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch"})
_KMS_CODES: Final = frozenset(
    {
        "KMS.NotFoundException",
        "KMS.DisabledException",
        "KMS.KMSInvalidStateException",
        "KMS.InvalidKeyUsageException",
        "KMS.AccessDeniedException",
        "KMS.InvalidArnException",
        "KMS.KeyUnavailableException",
    }
)


@dataclass(frozen=True)
class ExportedObject:
    """One object written to S3: where it is, its size and digest, and what S3 answered.

    ``removed_keys`` lists stray keys deleted from the partition's prefix after the write.
    """

    uri: str
    key: str
    bytes: int
    sha256_b64: str
    etag: str
    version_id: str | None
    removed_keys: tuple[str, ...] = ()


class ExportError(RuntimeError):
    """An S3 operation failed; the message names the bucket, the key and what to fix."""

    def __init__(self, message: str, *, bucket: str, key: str | None, code: str | None = None) -> None:
        super().__init__(message)
        self.bucket = bucket
        self.key = key
        self.code = code


class BucketNotFoundError(ExportError):
    """The bucket does not exist (``NoSuchBucket``)."""


class AccessDeniedError(ExportError):
    """The credentials lack an S3 permission (``AccessDenied``)."""


class EncryptionError(ExportError):
    """Server-side encryption failed: unknown, disabled or forbidden KMS key, or invalid SSE settings."""


class CredentialsError(ExportError):
    """No AWS credentials were found, or S3 rejected them."""


class EndpointError(ExportError):
    """The S3 endpoint could not be reached (wrong ``AWS_ENDPOINT_URL``, region or network)."""


class ChecksumMismatchError(ExportError):
    """The SHA-256 checksum S3 computed differs from the local one (or S3 did not report one)."""


# ------------------------------------------------------------------------------------- keys and checksums


def s3_uri(bucket: str, key: str) -> str:
    """``s3://bucket/key``."""
    return f"s3://{bucket}/{key}"


def _key_dir(key: str) -> str:
    """The folder part of a key ("" for a key at the bucket root)."""
    return key.rpartition("/")[0]


def encode_tags(tags: Mapping[str, str]) -> str:
    """S3 ``Tagging`` header value: URL-encoded ``key=value`` pairs joined by ``&``.

    Validates S3's limits first (at most 10 tags; keys 1-128 and values up to 256 characters of letters,
    digits, spaces and ``_ . : / = + - @``; no ``aws:`` keys) so a bad tag fails with its name instead of
    an ``InvalidTag`` answer.
    """
    if len(tags) > MAX_TAGS:
        raise ValueError(f"S3 allows at most {MAX_TAGS} tags per object; got {len(tags)}: {sorted(tags)}.")
    for name, value in tags.items():
        if not 1 <= len(name) <= 128 or not _TAG_CHARS.match(name) or name.lower().startswith("aws:"):
            raise ValueError(
                f"Tag key {name!r} is not allowed by S3 (1-128 characters of letters, digits, spaces and "
                "_ . : / = + - @; no 'aws:' prefix)."
            )
        if not isinstance(value, str) or len(value) > 256 or not _TAG_CHARS.match(value):
            raise ValueError(
                f"Value {value!r} of tag {name!r} is not allowed by S3 (up to 256 characters of letters, "
                "digits, spaces and _ . : / = + - @)."
            )
    return urlencode(list(tags.items()), quote_via=quote)


def sha256_b64(body: bytes) -> str:
    """Base64 of the SHA-256 digest, the form S3 uses for ``ChecksumSHA256``."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


# --------------------------------------------------------------------------------------------------- errors


def _scrub(text: str, limit: int = 300) -> str:
    text = _ACCESS_KEY_ID.sub("<access-key-id>", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _safe_endpoint(url: str | None) -> str:
    """The endpoint URL without user info, query or path."""
    if not url:
        return "(default AWS endpoint)"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, "", "", ""))


def _permission_fix(operation: str, bucket: str, key: str | None, sse: str | None) -> str:
    folder = _key_dir(key or "")
    objects_arn = f"arn:aws:s3:::{bucket}/{folder + '/' if folder else ''}*"
    if operation == "PutObject":
        fix = f"grant s3:PutObject and s3:PutObjectTagging on {objects_arn}"
        if sse == "aws:kms":
            fix += " and kms:GenerateDataKey on the KMS key"
        return fix
    if operation == "ListObjectsV2":
        return f"grant s3:ListBucket on arn:aws:s3:::{bucket} (prefix {folder + '/' if folder else '*'})"
    if operation in ("DeleteObjects", "DeleteObject"):
        return f"grant s3:DeleteObject on {objects_arn}"
    if operation in ("GetObject", "HeadObject"):
        return (
            f"grant s3:GetObject on {objects_arn} (and s3:ListBucket on arn:aws:s3:::{bucket}, so a "
            "missing object reads as missing instead of access denied)"
        )
    return f"grant the S3 permission for {operation} on {objects_arn}"


def _map_error(
    exc: Exception,
    *,
    operation: str,
    bucket: str,
    key: str | None,
    sse: str | None = None,
    kms_key_id: str | None = None,
    bucket_setting: str = "EXPORT_S3_BUCKET",
) -> ExportError:
    """Turn a botocore exception into the matching :class:`ExportError`."""
    target = s3_uri(bucket, key) if key else f"s3://{bucket}"
    key_text = f"KMS key {kms_key_id!r}" if kms_key_id else "the bucket's default KMS key (aws/s3)"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        message = _scrub(str(error.get("Message") or ""))
        said = f"S3 answered {code}: {message}" if message else f"S3 answered {code}"
        if code == "NoSuchBucket":
            return BucketNotFoundError(
                f"{operation} {target} failed: bucket {bucket!r} does not exist ({said}). "
                f"Fix: create the bucket or set {bucket_setting} to an existing bucket.",
                bucket=bucket,
                key=key,
                code=code,
            )
        if code in _KMS_CODES or (code == "AccessDenied" and "kms" in message.lower()):
            if code in ("KMS.NotFoundException", "KMS.InvalidArnException"):
                fix = f"{key_text} does not exist in this account and region; use an existing key id, ARN or alias"
            elif code in ("KMS.DisabledException", "KMS.KMSInvalidStateException"):
                fix = f"{key_text} is disabled or pending deletion; enable it or configure another key"
            elif code in ("AccessDenied", "KMS.AccessDeniedException"):
                fix = (
                    f"grant kms:GenerateDataKey and kms:Decrypt on {key_text} to the writing role "
                    "(key policy or IAM policy)"
                )
            else:
                fix = f"use a symmetric encryption KMS key in the bucket's region instead of {key_text}"
            return EncryptionError(
                f"{operation} {target} failed: server-side encryption with KMS was refused ({said}). Fix: {fix}.",
                bucket=bucket,
                key=key,
                code=code,
            )
        if code == "InvalidArgument" and any(
            word in message.lower() for word in ("encryption", "kms", "x-amz-server-side")
        ):
            return EncryptionError(
                f"{operation} {target} failed: invalid server-side encryption settings (sse={sse!r}, "
                f"{key_text if sse == 'aws:kms' else 'no KMS key'}; {said}). Fix: use sse='AES256', or "
                "sse='aws:kms' with an existing KMS key id, ARN or alias (or none for aws/s3).",
                bucket=bucket,
                key=key,
                code=code,
            )
        if code in ("AccessDenied", "AllAccessDisabled", "403"):
            return AccessDeniedError(
                f"{operation} {target} failed: access denied ({said}). "
                f"Fix: {_permission_fix(operation, bucket, key, sse)}.",
                bucket=bucket,
                key=key,
                code=code,
            )
        if code in _CREDENTIAL_CODES:
            return CredentialsError(
                f"{operation} {target} failed: S3 rejected the credentials ({code}). Fix: check "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or AWS_PROFILE, and that "
                "AWS_ENDPOINT_URL points at the service the credentials belong to.",
                bucket=bucket,
                key=key,
                code=code,
            )
        if code in _CHECKSUM_CODES:
            return ChecksumMismatchError(
                f"{operation} {target} failed: S3 rejected the body's checksum ({said}). The body changed in "
                "transit; retry the run.",
                bucket=bucket,
                key=key,
                code=code,
            )
        return ExportError(f"{operation} {target} failed ({said}).", bucket=bucket, key=key, code=code)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CredentialsError(
            f"{operation} {target} failed: no usable AWS credentials were found. Fix: set AWS_ACCESS_KEY_ID "
            "and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an instance/task role.",
            bucket=bucket,
            key=key,
        )
    if isinstance(
        exc, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError | ReadTimeoutError
    ):
        endpoint = _safe_endpoint(getattr(exc, "kwargs", {}).get("endpoint_url"))
        return EndpointError(
            f"{operation} {target} failed: cannot reach the S3 endpoint {endpoint} ({type(exc).__name__}). "
            "Fix: check AWS_ENDPOINT_URL (unset it for AWS itself), AWS_REGION and the network path to S3.",
            bucket=bucket,
            key=key,
        )
    return ExportError(
        f"{operation} {target} failed: {type(exc).__name__}: {_scrub(str(exc))}", bucket=bucket, key=key
    )


# --------------------------------------------------------------------------------------------------- operations


class PutOptions(TypedDict, total=False):
    """The keyword options of `put_object`, for the functions that pass them on."""

    sse: ServerSideEncryption
    kms_key_id: str | None
    tags: Mapping[str, str] | None
    content_type: str
    bucket_setting: str


def put_object(
    client: S3Client,
    bucket: str,
    key: str,
    body: bytes,
    *,
    sse: ServerSideEncryption = "AES256",
    kms_key_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    content_type: str = PARQUET_CONTENT_TYPE,
    bucket_setting: str = "EXPORT_S3_BUCKET",
) -> ExportedObject:
    """Write ``body`` to ``s3://bucket/key`` with one checked PUT, replacing any object at that key.

    ``bucket_setting`` names the configuration that chose the bucket, for the "bucket does not exist"
    fix. Raises :class:`ExportError` subclasses on failure and :class:`ValueError` for a body above
    5 GiB, invalid tags or ``kms_key_id`` without ``sse='aws:kms'``.
    """
    if sse not in SERVER_SIDE_ENCRYPTIONS:
        raise ValueError(
            f"Server-side encryption {sse!r} is not supported; use one of {', '.join(SERVER_SIDE_ENCRYPTIONS)}."
        )
    if kms_key_id and sse != "aws:kms":
        raise ValueError("A KMS key id needs sse='aws:kms'.")
    if len(body) > MAX_SINGLE_PUT_BYTES:
        raise ValueError(
            f"Object s3://{bucket}/{key} is {len(body)} bytes; a single PUT takes at most 5 GiB. "
            "Split the partition into several part files."
        )
    digest = sha256_b64(body)
    request: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "Body": body,
        "ContentType": content_type,
        "ChecksumAlgorithm": "SHA256",
        "ChecksumSHA256": digest,
        "ServerSideEncryption": sse,
        "Metadata": {"sha256": digest},
    }
    if kms_key_id:
        request["SSEKMSKeyId"] = kms_key_id
    if tags:
        request["Tagging"] = encode_tags(tags)
    errors = {
        "bucket": bucket,
        "key": key,
        "sse": sse,
        "kms_key_id": kms_key_id,
        "bucket_setting": bucket_setting,
    }
    try:
        response = client.put_object(**request)
    except (ClientError, BotoCoreError) as exc:
        raise _map_error(exc, operation="PutObject", **errors) from None
    returned = response.get("ChecksumSHA256")
    if returned is None:
        try:
            head = client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except (ClientError, BotoCoreError) as exc:
            raise _map_error(exc, operation="HeadObject", **errors) from None
        returned = head.get("ChecksumSHA256")
    if returned != digest:
        reported = "did not report a SHA-256 checksum" if returned is None else f"reported {returned}"
        raise ChecksumMismatchError(
            f"PutObject {s3_uri(bucket, key)}: the local SHA-256 is {digest} but S3 {reported}. "
            "Retry the run; if it persists, the endpoint does not support SHA-256 object checksums.",
            bucket=bucket,
            key=key,
        )
    return ExportedObject(
        uri=s3_uri(bucket, key),
        key=key,
        bytes=len(body),
        sha256_b64=digest,
        etag=str(response.get("ETag", "")).strip('"'),
        version_id=response.get("VersionId"),
    )


def remove_stray_keys(client: S3Client, bucket: str, keep: Sequence[str]) -> tuple[str, ...]:
    """Delete every object under the folders of the ``keep`` keys (sub-folders included) except those keys;
    returns the deleted keys.

    A partition folder holds exactly one part file; an older run that wrote ``part-1.parquet`` (or any
    leftover) would otherwise be read as extra rows. One listing covers every folder: it starts at the first
    folder in key order and stops after the last, so a range run's batch of partitions costs one
    ListObjectsV2 call (a page per 1,000 keys), not one per partition. Refuses keys at the bucket root, whose
    folder is the whole bucket.
    """
    folders_of_keys = set()
    for key in keep:
        folder = _key_dir(key)
        if not folder:
            raise ValueError(f"Key {key!r} has no folder; refusing to clean up the bucket root.")
        folders_of_keys.add(folder + "/")
    if not folders_of_keys:
        return ()
    folders = sorted(folders_of_keys)
    kept = set(keep)

    def in_a_folder(name: str) -> bool:  # the last folder sorting at or before `name` is the only candidate
        at = bisect.bisect_right(folders, name) - 1
        return at >= 0 and name.startswith(folders[at])

    stray: list[str] = []
    try:
        first, last = folders[0], folders[-1]  # sorted: their common prefix is every folder's
        # Character by character, as S3 matches a prefix (not path components).
        prefix = os.path.commonprefix([first, last])  # noqa: RUF071
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, StartAfter=first
        )
        for page in pages:
            listed = [item["Key"] for item in page.get("Contents", [])]
            stray.extend(name for name in listed if name not in kept and in_a_folder(name))
            if listed and listed[-1] > last and not listed[-1].startswith(last):
                break  # past the last folder
    except (ClientError, BotoCoreError) as exc:
        raise _map_error(exc, operation="ListObjectsV2", bucket=bucket, key=folders[0]) from None
    for start in range(0, len(stray), 1000):
        batch = stray[start : start + 1000]
        try:
            response = client.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
        except (ClientError, BotoCoreError) as exc:
            raise _map_error(exc, operation="DeleteObjects", bucket=bucket, key=batch[0]) from None
        failures = response.get("Errors") or []
        if failures:
            first = failures[0]
            raise _map_error(
                ClientError(
                    {"Error": {"Code": first.get("Code"), "Message": first.get("Message")}}, "DeleteObjects"
                ),
                operation="DeleteObjects",
                bucket=bucket,
                key=first.get("Key", batch[0]),
            )
    return tuple(sorted(stray))


def _missing_or_mapped(
    exc: ClientError | BotoCoreError, *, operation: str, bucket: str, key: str, bucket_setting: str
) -> ExportError | None:
    """None when S3 answered that the object does not exist; otherwise the error to raise, naming the fix."""
    if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _MISSING_CODES:
        return None
    return _map_error(exc, operation=operation, bucket=bucket, key=key, bucket_setting=bucket_setting)


def get_object_bytes(
    client: S3Client, bucket: str, key: str, *, bucket_setting: str = "EXPORT_S3_BUCKET"
) -> bytes | None:
    """The body of ``s3://bucket/key``, or None when no object has that key."""
    try:
        response = client.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        return response["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        error = _missing_or_mapped(
            exc, operation="GetObject", bucket=bucket, key=key, bucket_setting=bucket_setting
        )
        if error is None:
            return None
        raise error from None


def object_exists(
    client: S3Client, bucket: str, key: str, *, bucket_setting: str = "EXPORT_S3_BUCKET"
) -> bool:
    """Whether ``s3://bucket/key`` exists (one HEAD request)."""
    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except (ClientError, BotoCoreError) as exc:
        error = _missing_or_mapped(
            exc, operation="HeadObject", bucket=bucket, key=key, bucket_setting=bucket_setting
        )
        if error is None:
            return False
        raise error from None
