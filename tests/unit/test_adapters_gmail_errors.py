"""Every row of the Gmail error tables (send and token endpoints), one case each."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from capgate.adapters.email.gmail_errors import (
    DEFAULT_RETRY_AFTER_MS,
    GMAIL_EXCEPTIONS,
    GMAIL_STATUSES,
    TOKEN_STATUSES,
    error_for_response,
    retry_after_ms,
    translate_httpx_errors,
)
from capgate.contracts.errors import ErrorKind, PluginServiceError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def response(
    status: int, headers: dict[str, str] | None = None, body: str = "{}"
) -> httpx.Response:
    return httpx.Response(status, headers=headers, text=body)


@pytest.mark.parametrize(("status", "row"), sorted(GMAIL_STATUSES.items()))
def test_each_send_status_row(status: int, row: tuple[ErrorKind, str]) -> None:
    error = error_for_response(response(status), GMAIL_STATUSES, clock)
    assert (error.kind, error.code) == row
    assert error.details == {"http_status": status}


@pytest.mark.parametrize(("status", "row"), sorted(TOKEN_STATUSES.items()))
def test_each_token_status_row(status: int, row: tuple[ErrorKind, str]) -> None:
    error = error_for_response(response(status), TOKEN_STATUSES, clock)
    assert (error.kind, error.code) == row


@pytest.mark.parametrize("table", [GMAIL_STATUSES, TOKEN_STATUSES])
@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(table: dict[int, tuple[ErrorKind, str]], status: int) -> None:
    error = error_for_response(response(status), table, clock)
    assert (error.kind, error.code) == (ErrorKind.RETRYABLE, "gmail_unavailable")


def test_other_client_errors_are_fatal() -> None:
    error = error_for_response(response(409), GMAIL_STATUSES, clock)
    assert (error.kind, error.code) == (ErrorKind.FATAL, "gmail_unexpected_status")


def test_a_quota_403_is_a_rate_limit() -> None:
    body = '{"error": {"errors": [{"reason": "userRateLimitExceeded"}]}}'
    error = error_for_response(response(403, body=body), GMAIL_STATUSES, clock)
    assert (error.kind, error.retry_after_ms) == (ErrorKind.RATE_LIMIT, DEFAULT_RETRY_AFTER_MS)


def test_429_carries_retry_after_in_milliseconds() -> None:
    error = error_for_response(response(429, {"Retry-After": "7"}), GMAIL_STATUSES, clock)
    assert (error.kind, error.retry_after_ms) == (ErrorKind.RATE_LIMIT, 7000)


def test_retry_after_as_an_http_date() -> None:
    headers = {"Retry-After": "Sun, 01 Mar 2026 12:00:30 GMT"}
    assert retry_after_ms(response(429, headers), clock) == 30_000


def test_a_429_without_retry_after_gets_the_default_hint() -> None:
    error = error_for_response(response(429), GMAIL_STATUSES, clock)
    assert error.retry_after_ms == DEFAULT_RETRY_AFTER_MS


def test_an_unparseable_retry_after_is_ignored() -> None:
    assert retry_after_ms(response(503, {"Retry-After": "soon"}), clock) is None


EXAMPLES: dict[str, httpx.HTTPError] = {
    "gmail_timeout": httpx.ReadTimeout("timed out"),
    "gmail_connect_failed": httpx.ConnectError("refused"),
    "gmail_transport_error": httpx.RemoteProtocolError("peer closed"),
    "gmail_http_error": httpx.DecodingError("bad gzip"),
}


@pytest.mark.parametrize(("exc_type", "kind", "code"), GMAIL_EXCEPTIONS, ids=lambda v: str(v))
def test_each_exception_row(exc_type: type[Exception], kind: ErrorKind, code: str) -> None:
    example = EXAMPLES[code]
    assert isinstance(example, exc_type)
    with pytest.raises(PluginServiceError) as error, translate_httpx_errors():
        raise example
    assert (error.value.kind, error.value.code) == (kind, code)
