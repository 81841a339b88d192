"""The S3 store against a real S3-compatible server: moto's, as a process on localhost.

The store is built the way a worker builds it (``workers.wiring.object_store``
from Settings), with credentials from the standard AWS environment variables.
Rejected credentials are not tested here: moto accepts any key unless IAM
enforcement is configured; the unit table covers those rows.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from capgate.adapters.s3_store import S3ObjectStore
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.settings import Settings
from capgate.workers.wiring import object_store
from tests.support.services import free_port, port_open, unavailable

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.7 quarterly report"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """URL of a moto S3 server process, stopped after the module."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("boto3") is None:
        unavailable("moto[server] and boto3 (the dev extra)")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port) and process.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if not port_open("127.0.0.1", port):
            unavailable(f"moto server on port {port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials through the standard chain, never through capgate settings."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "capgate-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "capgate-test-secret")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
def bucket() -> str:
    """A bucket name of this test's own (the server lives for the module)."""
    return f"capgate-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def admin(s3_endpoint: str, aws_env: None, bucket: str) -> Any:
    """A plain boto3 client that plays the core: makes the bucket, uploads objects."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    return client


def store_from_settings(endpoint: str, bucket: str) -> S3ObjectStore:
    settings = Settings(
        object_store="s3",
        s3_bucket=bucket,
        s3_prefix="releases/",
        s3_endpoint_url=endpoint,
        s3_region="us-east-1",
    )
    store = object_store(settings)
    assert isinstance(store, S3ObjectStore)
    return store


def test_head_matches_what_the_server_stored(s3_endpoint: str, admin: Any, bucket: str) -> None:
    admin.put_object(
        Bucket=bucket,
        Key="releases/b-q1-report/report.pdf",
        Body=PDF,
        ContentType="application/pdf",
    )
    stored = admin.head_object(Bucket=bucket, Key="releases/b-q1-report/report.pdf")

    head = store_from_settings(s3_endpoint, bucket).head("b-q1-report", "report.pdf")

    assert head.etag == stored["ETag"]
    assert head.etag.startswith('"') and len(head.etag) > 2
    assert (head.content_type, head.length) == ("application/pdf", len(PDF))


def test_a_missing_key_is_not_found(s3_endpoint: str, admin: Any, bucket: str) -> None:
    with pytest.raises(PluginServiceError) as caught:
        store_from_settings(s3_endpoint, bucket).head("b-q1-report", "absent.pdf")
    assert (caught.value.kind, caught.value.code) == (ErrorKind.NOT_FOUND, "object_not_found")


def test_a_key_outside_the_prefix_is_not_found(s3_endpoint: str, admin: Any, bucket: str) -> None:
    admin.put_object(Bucket=bucket, Key="b-q1-report/report.pdf", Body=PDF)
    with pytest.raises(PluginServiceError) as caught:
        store_from_settings(s3_endpoint, bucket).head("b-q1-report", "report.pdf")
    assert caught.value.kind is ErrorKind.NOT_FOUND


def test_a_missing_bucket_is_not_found(s3_endpoint: str, aws_env: None) -> None:
    with pytest.raises(PluginServiceError) as caught:
        store_from_settings(s3_endpoint, "no-such-bucket").head("b", "k")
    assert caught.value.kind is ErrorKind.NOT_FOUND


def test_a_server_that_is_down_is_retryable(aws_env: None) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(PluginServiceError) as caught:
        store_from_settings(closed, "any-bucket").head("b", "k")
    assert (caught.value.kind, caught.value.code) == (
        ErrorKind.RETRYABLE,
        "object_store_unreachable",
    )
