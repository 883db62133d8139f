"""S3 test fixtures: a real S3 API (moto's server) on 127.0.0.1, fresh buckets, and S3 error answers.

Import the fixtures into a test module (``from genesys_assets_tests.s3_fixtures import moto_s3, s3_bucket``)
and name them as test arguments:

* ``moto_s3`` (module scope): starts ``moto.server.ThreadedMotoServer`` on 127.0.0.1 with a free port
  and points the standard AWS variables at it for the module (``AWS_ENDPOINT_URL``, fake
  ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``), so boto3, ``S3Resource()`` and
  child processes all reach it. Yields the endpoint URL.
* ``s3_client``: a boto3 S3 client for that endpoint.
* ``s3_bucket``: a new, empty bucket with a unique name (moto keeps state per process).
* ``canned_s3``: a tiny HTTP server on 127.0.0.1 that answers every request with one configured S3
  response; used for answers moto does not produce (KMS key errors, a wrong checksum).

Helpers: :func:`s3_client_for`, :func:`restricted_iam_client` (an IAM user whose policy moto enforces
while the context is open, for AccessDenied answers), :func:`unused_port`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
import urllib3
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
FAKE_ACCESS_KEY_ID = "testing-access-key"
FAKE_SECRET_ACCESS_KEY = "testing-secret-key-do-not-print"


def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def s3_client_for(
    endpoint_url: str,
    *,
    access_key_id: str = FAKE_ACCESS_KEY_ID,
    secret_access_key: str = FAKE_SECRET_ACCESS_KEY,
    max_attempts: int = 1,
    service: str = "s3",
) -> Any:
    """A boto3 client for ``endpoint_url`` with explicit fake credentials and no retries by default."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=2,
            read_timeout=10,
        ),
    )


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[str]:
    """Endpoint URL of a moto S3 (and KMS, IAM) server on 127.0.0.1, with the AWS variables set."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        patch.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY_ID)
        patch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET_ACCESS_KEY)
        patch.setenv("AWS_REGION", REGION)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            patch.delenv(name, raising=False)
        try:
            yield endpoint
        finally:
            server.stop()


@pytest.fixture
def s3_client(moto_s3: str) -> Any:
    """A boto3 S3 client for the moto server."""
    return s3_client_for(moto_s3, max_attempts=3)


@pytest.fixture
def s3_bucket(moto_s3: str) -> str:
    """Name of a new, empty bucket on the moto server."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3_client_for(moto_s3).create_bucket(Bucket=name)
    return name


@contextlib.contextmanager
def restricted_s3_credentials(endpoint_url: str, policy: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(access key id, secret) of a new IAM user holding only ``policy``, with moto enforcing IAM while open.

    Moto checks signatures and IAM policies for every request to the server while the context is open
    (process-wide), so the fixtures' fake credentials do not work inside it; create buckets first.
    """
    iam = s3_client_for(endpoint_url, service="iam")
    user = f"restricted-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="only-this", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    http = urllib3.PoolManager()
    http.request("POST", f"{endpoint_url}/moto-api/reset-auth", body=b"0")
    try:
        yield key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        http.request("POST", f"{endpoint_url}/moto-api/reset-auth", body=b"inf")


@contextlib.contextmanager
def restricted_iam_client(endpoint_url: str, policy: Mapping[str, Any]) -> Iterator[Any]:
    """An S3 client for a new IAM user holding only ``policy`` (see `restricted_s3_credentials`)."""
    with restricted_s3_credentials(endpoint_url, policy) as (key_id, secret):
        yield s3_client_for(endpoint_url, access_key_id=key_id, secret_access_key=secret)


@dataclass
class CannedResponse:
    """What the canned server answers: status, headers and body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def s3_error(status: int, code: str, message: str) -> CannedResponse:
    """An S3 error answer with the real XML error body."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>4442587FB7D0A2F9</RequestId><HostId>canned</HostId></Error>"
    ).encode()
    return CannedResponse(status=status, headers={"Content-Type": "application/xml"}, body=body)


class CannedS3Server:
    """An HTTP server on 127.0.0.1 that answers every request with ``self.response``.

    ``requests`` records (method, path, headers) of each request received.
    """

    def __init__(self) -> None:
        self.response = CannedResponse()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # answers botocore's "Expect: 100-continue" at once

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.requests.append((self.command, self.path, dict(self.headers.items())))
                canned = server.response
                self.send_response(canned.status)
                for name, value in canned.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(canned.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(canned.body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer

            def log_message(self, format: str, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def canned_s3() -> Iterator[CannedS3Server]:
    """A started :class:`CannedS3Server`; set ``.response`` before calling it."""
    server = CannedS3Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()
