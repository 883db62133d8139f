"""The lake's S3 writes against a real S3 API (moto's server on 127.0.0.1) and canned S3 error answers."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import unquote

import polars as pl
import pytest

from genesys_assets.lake.export_writer import export_key, put_partition_object
from genesys_assets.lake.parquet import parquet_bytes, read_parquet_bytes
from genesys_assets.lake.s3 import (
    MAX_SINGLE_PUT_BYTES,
    AccessDeniedError,
    BucketNotFoundError,
    ChecksumMismatchError,
    CredentialsError,
    EncryptionError,
    EndpointError,
    ExportError,
    encode_tags,
    put_object,
)
from genesys_assets_tests.s3_fixtures import (
    FAKE_SECRET_ACCESS_KEY,
    CannedS3Server,
    restricted_iam_client,
    s3_client_for,
    s3_error,
    unused_port,
)

DAY = "2026-11-21"
TAGS = {"schema_version": "1", "partition": DAY, "run_id": "0f1e2d3c-aaaa", "source": "genesys cloud/queues"}


def body_for(rows: int = 3) -> bytes:
    return parquet_bytes(
        pl.DataFrame({"queue_id": [f"q{i}" for i in range(rows)], "offered": list(range(rows))})
    )


def assert_no_secret(exc: BaseException) -> None:
    text = str(exc) + repr(exc)
    assert FAKE_SECRET_ACCESS_KEY not in text
    assert "testing-access-key" not in text


# ------------------------------------------------------------------------------------------------- tags


def test_tags_are_url_encoded_pairs_and_validated() -> None:
    assert encode_tags({"a": "1", "b": "x y/z"}) == "a=1&b=x%20y%2Fz"
    with pytest.raises(ValueError, match="Value 'a;b' of tag 'run'"):
        encode_tags({"run": "a;b"})
    with pytest.raises(ValueError, match="at most 10 tags"):
        encode_tags({f"k{i}": "v" for i in range(11)})
    with pytest.raises(ValueError, match="Tag key 'aws:x'"):
        encode_tags({"aws:x": "v"})


# ------------------------------------------------------------------------------------------------- writes


def test_put_aes256_with_checksum_tags_and_metadata(s3_client: Any, s3_bucket: str) -> None:
    body = body_for()
    key = export_key("exports", "daily", DAY)
    result = put_partition_object(s3_client, s3_bucket, key, body, tags=TAGS)

    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert result.uri == f"s3://{s3_bucket}/{key}"
    assert (result.key, result.bytes, result.sha256_b64) == (key, len(body), digest)
    assert result.etag and result.removed_keys == ()

    head = s3_client.head_object(Bucket=s3_bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ChecksumSHA256"] == digest
    assert head["Metadata"] == {"sha256": digest}
    assert head["ContentType"] == "application/vnd.apache.parquet"
    assert head["ContentLength"] == len(body)

    tag_set = s3_client.get_object_tagging(Bucket=s3_bucket, Key=key)["TagSet"]
    assert {tag["Key"]: tag["Value"] for tag in tag_set} == TAGS
    assert len(tag_set) == len(TAGS)

    stored = s3_client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    assert stored == body
    assert read_parquet_bytes(stored)["offered"].to_list() == [0, 1, 2]


def test_put_aws_kms_with_key_id(moto_s3: str, s3_client: Any, s3_bucket: str) -> None:
    kms = s3_client_for(moto_s3, service="kms")
    key_id = kms.create_key(Description="export key")["KeyMetadata"]["KeyId"]
    key = export_key("", "weekly", "2026-11-16")
    put_partition_object(s3_client, s3_bucket, key, body_for(), sse="aws:kms", kms_key_id=key_id, tags=TAGS)
    head = s3_client.head_object(Bucket=s3_bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(key_id)


def test_put_rejects_oversized_body_and_bad_settings(s3_client: Any, s3_bucket: str) -> None:
    class Huge(bytes):
        def __len__(self) -> int:
            return MAX_SINGLE_PUT_BYTES + 1

    with pytest.raises(ValueError, match="at most 5 GiB"):
        put_object(s3_client, s3_bucket, "k/x", Huge(b"x"))
    with pytest.raises(ValueError, match="needs sse='aws:kms'"):
        put_object(s3_client, s3_bucket, "k/x", b"x", kms_key_id="abc")
    with pytest.raises(ValueError, match="refusing to clean up the bucket root"):
        put_partition_object(s3_client, s3_bucket, "rootkey.parquet", b"x")


# ------------------------------------------------------------------------------------------------- errors


def test_missing_bucket_names_bucket_key_and_fix(s3_client: Any) -> None:
    key = export_key("p", "daily", DAY)
    with pytest.raises(BucketNotFoundError) as caught:
        put_partition_object(s3_client, "no-such-bucket-here", key, body_for(), tags=TAGS)
    message = str(caught.value)
    assert "'no-such-bucket-here'" in message and key in message
    assert "create the bucket or set EXPORT_S3_BUCKET" in message
    assert caught.value.code == "NoSuchBucket" and caught.value.bucket == "no-such-bucket-here"
    assert_no_secret(caught.value)


def test_access_denied_names_the_permissions(moto_s3: str, s3_bucket: str) -> None:
    key = export_key("exports", "daily", DAY)
    read_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}],
    }
    with restricted_iam_client(moto_s3, read_only) as client, pytest.raises(AccessDeniedError) as caught:
        put_partition_object(client, s3_bucket, key, body_for(), tags=TAGS)
    message = str(caught.value)
    assert key in message and s3_bucket in message
    assert (
        f"grant s3:PutObject and s3:PutObjectTagging on arn:aws:s3:::{s3_bucket}/"
        "exports/queue_export/grain=daily/date=2026-11-21/*" in message
    )
    assert_no_secret(caught.value)


def test_cleanup_denied_names_delete_permission(moto_s3: str, s3_client: Any, s3_bucket: str) -> None:
    key = export_key("exports", "daily", DAY)
    s3_client.put_object(Bucket=s3_bucket, Key=key.replace("part-0", "part-1"), Body=b"old")
    no_delete = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:PutObjectTagging", "s3:ListBucket"],
                "Resource": "*",
            }
        ],
    }
    with restricted_iam_client(moto_s3, no_delete) as client, pytest.raises(AccessDeniedError) as caught:
        put_partition_object(client, s3_bucket, key, body_for(), tags=TAGS)
    assert "grant s3:DeleteObject on" in str(caught.value)


def test_rejected_credentials(moto_s3: str, s3_bucket: str) -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    with restricted_iam_client(moto_s3, policy):
        client = s3_client_for(moto_s3)  # fake keys moto's IAM does not know
        with pytest.raises(CredentialsError) as caught:
            put_object(client, s3_bucket, "a/b.parquet", b"x")
    assert "InvalidAccessKeyId" in str(caught.value)
    assert "AWS_ACCESS_KEY_ID" in str(caught.value)
    assert_no_secret(caught.value)


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (
            400,
            "KMS.NotFoundException",
            "Invalid keyId 'alias/missing'",
            "does not exist in this account and region",
        ),
        (400, "KMS.DisabledException", "arn:aws:kms:us-east-1:1:key/abc is disabled.", "is disabled"),
        (
            403,
            "AccessDenied",
            "User: arn:aws:iam::1:user/x is not authorized to perform: kms:GenerateDataKey on resource: key/abc",
            "grant kms:GenerateDataKey and kms:Decrypt on KMS key 'alias/missing'",
        ),
        (
            400,
            "InvalidArgument",
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption",
            "invalid server-side encryption settings",
        ),
    ],
)
def test_kms_errors(canned_s3: CannedS3Server, status: int, code: str, message: str, expected: str) -> None:
    canned_s3.response = s3_error(status, code, message)
    client = s3_client_for(canned_s3.url)
    key = export_key("p", "daily", DAY)
    with pytest.raises(EncryptionError) as caught:
        put_partition_object(
            client, "export-bucket", key, body_for(), sse="aws:kms", kms_key_id="alias/missing"
        )
    text = str(caught.value)
    assert expected in text and "export-bucket" in text and key in text
    assert caught.value.code == code
    assert_no_secret(caught.value)
    method, path, headers = canned_s3.requests[0]
    assert (method, unquote(path)) == ("PUT", f"/export-bucket/{key}")
    assert headers["x-amz-server-side-encryption"] == "aws:kms"
    assert headers["x-amz-server-side-encryption-aws-kms-key-id"] == "alias/missing"


def test_checksum_mismatch_is_detected(canned_s3: CannedS3Server) -> None:
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    canned_s3.response.headers = {"ETag": '"abc"', "x-amz-checksum-sha256": wrong}
    with pytest.raises(ChecksumMismatchError, match="but S3 reported"):
        put_object(s3_client_for(canned_s3.url), "export-bucket", "a/b.parquet", body_for())
    canned_s3.response = s3_error(
        400, "BadDigest", "The SHA256 you specified did not match the calculated checksum."
    )
    with pytest.raises(ChecksumMismatchError, match="rejected the body's checksum"):
        put_object(s3_client_for(canned_s3.url), "export-bucket", "a/b.parquet", body_for())


def test_unreachable_endpoint() -> None:
    endpoint = f"http://127.0.0.1:{unused_port()}"
    with pytest.raises(EndpointError) as caught:
        put_partition_object(s3_client_for(endpoint), "export-bucket", "a/b/part-0.parquet", body_for())
    text = str(caught.value)
    assert f"cannot reach the S3 endpoint {endpoint}" in text
    assert "AWS_ENDPOINT_URL" in text and "s3://export-bucket/a/b/part-0.parquet" in text
    assert isinstance(caught.value, ExportError)
    assert_no_secret(caught.value)
