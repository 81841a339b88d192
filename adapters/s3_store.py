"""An S3-compatible object store (AWS S3, MinIO, Ceph RGW, ...) through boto3.

``S3ObjectStore(bucket=..., prefix=...)`` keeps an object at
``<prefix><bundle id>/<key>``. boto3 is an optional extra (``capgate[s3]``)
imported when a store is built, so the base install does not need it.
Credentials come from boto3's standard chain (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, the
shared config files, an instance or pod role); capgate never holds them.

Its error table, :data:`S3_ERRORS`, is read top to bottom and the first
matching row wins (tested row by row). ``"code"`` rows match the S3 error
code of a ``ClientError``; a HEAD answer has no body, so its code is just
the HTTP status and the ``"status"`` rows decide. ``"exception"`` rows match
botocore's exceptions raised without an answer (subclasses included).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from pydantic import ValidationError

from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.contracts.storage import ObjectHead

__all__ = ["S3_ERRORS", "THROTTLE_HINT_MS", "S3ErrorRow", "S3ObjectStore", "translate_s3_error"]

THROTTLE_HINT_MS = 1000
"""Wait hint of a throttled request when the server sends no ``Retry-After``."""


class S3ErrorRow(NamedTuple):
    """One row: what it matches (an S3 code, an HTTP status class, a botocore class)."""

    source: Literal["code", "status", "exception"]
    match: str
    kind: ErrorKind
    code: str


_NF, _FATAL, _RL, _RETRY = (
    ErrorKind.NOT_FOUND,
    ErrorKind.FATAL,
    ErrorKind.RATE_LIMIT,
    ErrorKind.RETRYABLE,
)
S3_ERRORS: tuple[S3ErrorRow, ...] = (
    S3ErrorRow("code", "NoSuchKey", _NF, "object_not_found"),
    S3ErrorRow("code", "NoSuchBucket", _NF, "object_store_bucket_not_found"),
    S3ErrorRow("code", "InvalidAccessKeyId", _FATAL, "object_store_credentials_rejected"),
    S3ErrorRow("code", "SignatureDoesNotMatch", _FATAL, "object_store_credentials_rejected"),
    S3ErrorRow("code", "ExpiredToken", _FATAL, "object_store_credentials_rejected"),
    S3ErrorRow("code", "AccessDenied", _FATAL, "object_store_forbidden"),
    S3ErrorRow("code", "SlowDown", _RL, "object_store_throttled"),
    S3ErrorRow("code", "Throttling", _RL, "object_store_throttled"),
    S3ErrorRow("code", "ThrottlingException", _RL, "object_store_throttled"),
    S3ErrorRow("code", "RequestLimitExceeded", _RL, "object_store_throttled"),
    S3ErrorRow("status", "404", _NF, "object_not_found"),
    S3ErrorRow("status", "403", _FATAL, "object_store_forbidden"),
    S3ErrorRow("status", "429", _RL, "object_store_throttled"),
    S3ErrorRow("status", "503", _RL, "object_store_throttled"),  # S3's SlowDown status
    S3ErrorRow("status", "5xx", _RETRY, "object_store_unavailable"),
    # 3xx/4xx left (a wrong region's redirect, a bad request): retrying repeats it.
    S3ErrorRow("status", "other", _FATAL, "object_store_error"),
    S3ErrorRow("exception", "NoCredentialsError", _FATAL, "object_store_no_credentials"),
    S3ErrorRow("exception", "PartialCredentialsError", _FATAL, "object_store_no_credentials"),
    S3ErrorRow("exception", "SSLError", _FATAL, "object_store_tls_failed"),
    S3ErrorRow("exception", "EndpointConnectionError", _RETRY, "object_store_unreachable"),
    S3ErrorRow("exception", "ConnectTimeoutError", _RETRY, "object_store_timeout"),
    S3ErrorRow("exception", "ReadTimeoutError", _RETRY, "object_store_timeout"),
    S3ErrorRow("exception", "HTTPClientError", _RETRY, "object_store_network_error"),
    S3ErrorRow("exception", "BotoCoreError", _FATAL, "object_store_error"),
)


class S3ObjectStore:
    """Object heads from one bucket of an S3-compatible server."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        path_style: bool | None = None,
        client: Any = None,
    ) -> None:
        """``path_style`` defaults to True with an ``endpoint_url`` (what MinIO expects).

        ``client`` replaces the boto3 client (tests hand in a stubbed one).
        """
        self._bucket = bucket
        self._prefix = prefix
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:
                raise RuntimeError(
                    "the s3 object store needs boto3: pip install 'capgate[s3]'"
                ) from exc

            use_path = endpoint_url is not None if path_style is None else path_style
            config = Config(
                connect_timeout=5,
                read_timeout=10,
                # capgate's retry policy retries the command with backoff and a
                # budget; botocore's own retries would multiply the attempts.
                retries={"total_max_attempts": 1},
                s3={"addressing_style": "path" if use_path else "auto"},
            )
            client = boto3.session.Session().client(
                "s3", endpoint_url=endpoint_url, region_name=region, config=config
            )
        self._client = client

    def __repr__(self) -> str:
        return f"S3ObjectStore(bucket={self._bucket!r}, prefix={self._prefix!r})"

    def head(self, bundle_id: str, object_key: str) -> ObjectHead:
        """Read the object's head; see the module's error table."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client.head_object(
                Bucket=self._bucket, Key=f"{self._prefix}{bundle_id}/{object_key}"
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate_s3_error(exc) from exc
        try:
            return ObjectHead(
                etag=answer["ETag"],
                content_type=answer.get("ContentType") or "application/octet-stream",
                length=answer["ContentLength"],
            )
        except ValidationError as exc:
            fields = ", ".join(str(error["loc"][0]) for error in exc.errors())
            raise PluginServiceError.fatal(
                "object_store_bad_response", f"object store: unusable {fields} in the answer"
            ) from exc


def translate_s3_error(exc: Exception) -> PluginServiceError:
    """The ``PluginServiceError`` for a botocore failure (first matching row)."""
    import botocore.exceptions

    response: dict[str, Any] = getattr(exc, "response", None) or {}
    error_code = str(response.get("Error", {}).get("Code", ""))
    meta = response.get("ResponseMetadata", {})
    status = int(meta.get("HTTPStatusCode") or 0)
    for row in S3_ERRORS:
        if row.source == "exception":
            matched = isinstance(exc, getattr(botocore.exceptions, row.match))
        elif not response:
            continue
        elif row.source == "code":
            matched = error_code == row.match
        else:
            matched = row.match in (str(status), f"{status // 100}xx", "other")
        if matched:
            # Vendor messages are left out: some echo request details.
            what = f"{error_code or 'error'} (HTTP {status})" if response else type(exc).__name__
            hint = _retry_after_ms(meta) if row.kind is ErrorKind.RATE_LIMIT else None
            return PluginServiceError(
                row.kind, row.code, f"object store: {what}", retry_after_ms=hint
            )
    return PluginServiceError.fatal("object_store_error", f"object store: {type(exc).__name__}")


def _retry_after_ms(meta: dict[str, Any]) -> int:
    headers = {str(k).lower(): v for k, v in (meta.get("HTTPHeaders") or {}).items()}
    value = str(headers.get("retry-after", ""))
    return int(value) * 1000 if value.isdigit() else THROTTLE_HINT_MS
