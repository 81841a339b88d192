"""The S3 object store: heads, key layout, and every row of its error table.

ClientError rows go through botocore's Stubber (botocore parses the stubbed
answer as it would a server's); the rows without an answer raise botocore's
own exception classes from a stand-in client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from capgate.adapters.s3_store import S3_ERRORS, THROTTLE_HINT_MS, S3ObjectStore
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.contracts.storage import ObjectHead
from capgate.settings import ObjectStoreKind, Settings
from capgate.workers.wiring import object_store

boto3 = pytest.importorskip("boto3")
botocore_exceptions = pytest.importorskip("botocore.exceptions")
Stubber = pytest.importorskip("botocore.stub").Stubber

BUCKET = "bundles"
PARAMS = {"Bucket": BUCKET, "Key": "tenant-a/b-q1/report.pdf"}


@pytest.fixture
def client() -> Any:
    return boto3.session.Session().client(
        "s3", region_name="us-east-1", aws_access_key_id="AKIDTEST", aws_secret_access_key="x"
    )


@pytest.fixture
def stub(client: Any) -> Iterator[Any]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def row_of(match: str) -> tuple[ErrorKind, str]:
    (row,) = [row for row in S3_ERRORS if row.match == match]
    return row.kind, row.code


def store_for(client: Any) -> S3ObjectStore:
    return S3ObjectStore(bucket=BUCKET, prefix="tenant-a/", client=client)


def test_head_reads_etag_type_and_length_under_prefix_bundle_key(client: Any, stub: Any) -> None:
    answer = {"ETag": '"9b2cf535f27731c974343645a3985328"', "ContentType": "application/pdf"}
    stub.add_response("head_object", {**answer, "ContentLength": 16}, PARAMS)
    head = store_for(client).head("b-q1", "report.pdf")
    assert head == ObjectHead(etag=answer["ETag"], content_type="application/pdf", length=16)


def test_head_without_a_content_type_says_octet_stream(client: Any, stub: Any) -> None:
    stub.add_response("head_object", {"ETag": '"e"', "ContentLength": 0}, PARAMS)
    assert store_for(client).head("b-q1", "report.pdf").content_type == "application/octet-stream"


def test_an_answer_the_contract_refuses_is_fatal_naming_the_field(client: Any, stub: Any) -> None:
    stub.add_response(
        "head_object", {"ETag": '"e"', "ContentLength": 1, "ContentType": "text/plain; ü"}, PARAMS
    )
    with pytest.raises(PluginServiceError) as caught:
        store_for(client).head("b-q1", "report.pdf")
    assert (caught.value.kind, caught.value.code) == (ErrorKind.FATAL, "object_store_bad_response")
    assert "content_type" in caught.value.message
    assert isinstance(caught.value.__cause__, ValidationError)


# (S3 error code, HTTP status, the row it hits) -> (kind, code).
CLIENT_ERROR_CASES = [
    ("NoSuchKey", 404, "NoSuchKey", ErrorKind.NOT_FOUND, "object_not_found"),
    ("NoSuchBucket", 404, "NoSuchBucket", ErrorKind.NOT_FOUND, "object_store_bucket_not_found"),
    (
        "InvalidAccessKeyId",
        403,
        "InvalidAccessKeyId",
        ErrorKind.FATAL,
        "object_store_credentials_rejected",
    ),
    (
        "SignatureDoesNotMatch",
        403,
        "SignatureDoesNotMatch",
        ErrorKind.FATAL,
        "object_store_credentials_rejected",
    ),
    ("ExpiredToken", 400, "ExpiredToken", ErrorKind.FATAL, "object_store_credentials_rejected"),
    ("AccessDenied", 403, "AccessDenied", ErrorKind.FATAL, "object_store_forbidden"),
    ("SlowDown", 503, "SlowDown", ErrorKind.RATE_LIMIT, "object_store_throttled"),
    ("Throttling", 400, "Throttling", ErrorKind.RATE_LIMIT, "object_store_throttled"),
    (
        "ThrottlingException",
        400,
        "ThrottlingException",
        ErrorKind.RATE_LIMIT,
        "object_store_throttled",
    ),
    (
        "RequestLimitExceeded",
        400,
        "RequestLimitExceeded",
        ErrorKind.RATE_LIMIT,
        "object_store_throttled",
    ),
    # A HEAD answer has no body: botocore reports the status as the code.
    ("404", 404, "404", ErrorKind.NOT_FOUND, "object_not_found"),
    ("403", 403, "403", ErrorKind.FATAL, "object_store_forbidden"),
    ("429", 429, "429", ErrorKind.RATE_LIMIT, "object_store_throttled"),
    ("503", 503, "503", ErrorKind.RATE_LIMIT, "object_store_throttled"),
    ("500", 500, "5xx", ErrorKind.RETRYABLE, "object_store_unavailable"),
    ("ServiceUnavailable", 502, "5xx", ErrorKind.RETRYABLE, "object_store_unavailable"),
    ("301", 301, "other", ErrorKind.FATAL, "object_store_error"),
    ("InvalidRequest", 400, "other", ErrorKind.FATAL, "object_store_error"),
]


@pytest.mark.parametrize(("s3_code", "status", "row", "kind", "code"), CLIENT_ERROR_CASES)
def test_client_error_row(
    client: Any, stub: Any, s3_code: str, status: int, row: str, kind: ErrorKind, code: str
) -> None:
    stub.add_client_error(
        "head_object",
        service_error_code=s3_code,
        service_message="AWSAccessKeyId AKIDTEST did not match",
        http_status_code=status,
        expected_params=PARAMS,
    )
    with pytest.raises(PluginServiceError) as caught:
        store_for(client).head("b-q1", "report.pdf")
    assert (caught.value.kind, caught.value.code) == (kind, code)
    assert isinstance(caught.value.__cause__, botocore_exceptions.ClientError)
    assert row_of(row) == (kind, code)
    assert "AKIDTEST" not in caught.value.message  # vendor text is never echoed
    expected_hint = THROTTLE_HINT_MS if kind is ErrorKind.RATE_LIMIT else None
    assert caught.value.retry_after_ms == expected_hint


def test_throttling_takes_the_servers_retry_after_as_the_hint(client: Any, stub: Any) -> None:
    stub.add_client_error(
        "head_object",
        service_error_code="SlowDown",
        http_status_code=503,
        response_meta={"HTTPHeaders": {"Retry-After": "7"}},
    )
    with pytest.raises(PluginServiceError) as caught:
        store_for(client).head("b-q1", "report.pdf")
    assert (caught.value.kind, caught.value.retry_after_ms) == (ErrorKind.RATE_LIMIT, 7000)


class RaisingClient:
    """Stands in for a client whose request fails before any answer."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def head_object(self, **_: Any) -> dict[str, Any]:
        raise self.exc


# (botocore class raised, its arguments, the row it hits) -> (kind, code).
EXCEPTION_CASES = [
    (
        "NoCredentialsError",
        {},
        "NoCredentialsError",
        ErrorKind.FATAL,
        "object_store_no_credentials",
    ),
    (
        "PartialCredentialsError",
        {"provider": "env", "cred_var": "AWS_SECRET_ACCESS_KEY"},
        "PartialCredentialsError",
        ErrorKind.FATAL,
        "object_store_no_credentials",
    ),
    (
        "SSLError",
        {"endpoint_url": "https://s3", "error": "bad cert"},
        "SSLError",
        ErrorKind.FATAL,
        "object_store_tls_failed",
    ),
    (
        "EndpointConnectionError",
        {"endpoint_url": "http://s3"},
        "EndpointConnectionError",
        ErrorKind.RETRYABLE,
        "object_store_unreachable",
    ),
    (
        "ConnectTimeoutError",
        {"endpoint_url": "http://s3"},
        "ConnectTimeoutError",
        ErrorKind.RETRYABLE,
        "object_store_timeout",
    ),
    (
        "ReadTimeoutError",
        {"endpoint_url": "http://s3"},
        "ReadTimeoutError",
        ErrorKind.RETRYABLE,
        "object_store_timeout",
    ),
    (
        "ConnectionClosedError",
        {"endpoint_url": "http://s3"},
        "HTTPClientError",
        ErrorKind.RETRYABLE,
        "object_store_network_error",
    ),
    (
        "ParamValidationError",
        {"report": "bad key"},
        "BotoCoreError",
        ErrorKind.FATAL,
        "object_store_error",
    ),
]


@pytest.mark.parametrize(("name", "kwargs", "row", "kind", "code"), EXCEPTION_CASES)
def test_exception_row(
    name: str, kwargs: dict[str, str], row: str, kind: ErrorKind, code: str
) -> None:
    exc = getattr(botocore_exceptions, name)(**kwargs)
    with pytest.raises(PluginServiceError) as caught:
        S3ObjectStore(bucket=BUCKET, client=RaisingClient(exc)).head("b", "k")
    assert (caught.value.kind, caught.value.code, caught.value.message) == (
        kind,
        code,
        f"object store: {name}",
    )
    assert caught.value.__cause__ is exc
    assert row_of(row) == (kind, code)


def test_every_row_of_the_table_has_a_case() -> None:
    hit = {case[2] for case in CLIENT_ERROR_CASES} | {case[2] for case in EXCEPTION_CASES}
    assert {row.match for row in S3_ERRORS} == hit


def test_settings_refuse_s3_without_a_bucket() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(object_store="s3")
    assert [e["loc"] for e in caught.value.errors()] == [("s3_bucket",)]
    assert "CAPGATE_OBJECT_STORE is s3" in str(caught.value)


def test_wiring_builds_the_s3_store_only_when_configured() -> None:
    assert object_store(Settings()) is None
    settings = Settings(
        object_store=ObjectStoreKind.S3,
        s3_bucket="bundles",
        s3_prefix="p/",
        s3_endpoint_url="http://127.0.0.1:9000",
        s3_region="eu-west-1",
    )
    store = object_store(settings)
    assert repr(store) == "S3ObjectStore(bucket='bundles', prefix='p/')"
