"""The Gmail error table: HTTP statuses and httpx failures -> error kinds.

Tested row by row and documented in ``docs/adapters.md``. A 401 from the
send endpoint is handled by the sender first (refresh the access token once,
send again); only a second 401 reaches this table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from capgate.contracts.errors import ErrorKind, PluginServiceError

__all__ = [
    "DEFAULT_RETRY_AFTER_MS",
    "GMAIL_EXCEPTIONS",
    "GMAIL_STATUSES",
    "TOKEN_STATUSES",
    "error_for_response",
    "retry_after_ms",
    "translate_httpx_errors",
]

R, V, N, F, L = (
    ErrorKind.RETRYABLE,
    ErrorKind.VALIDATION,
    ErrorKind.NOT_FOUND,
    ErrorKind.FATAL,
    ErrorKind.RATE_LIMIT,
)

GMAIL_STATUSES: dict[int, tuple[ErrorKind, str]] = {
    400: (V, "gmail_bad_request"),
    401: (F, "gmail_unauthorized"),
    403: (F, "gmail_forbidden"),
    404: (N, "gmail_not_found"),
    413: (V, "gmail_message_too_large"),
    429: (L, "gmail_rate_limited"),
}
"""Send endpoint. Other 5xx: RETRYABLE ``gmail_unavailable``; other 4xx: FATAL."""

TOKEN_STATUSES: dict[int, tuple[ErrorKind, str]] = {
    400: (F, "gmail_token_rejected"),  # invalid_grant: refresh token revoked or expired
    401: (F, "gmail_client_rejected"),  # invalid_client: wrong client id or secret
    429: (L, "gmail_rate_limited"),
}
"""Token endpoint. Other 5xx: RETRYABLE ``gmail_unavailable``; other 4xx: FATAL."""

GMAIL_EXCEPTIONS: tuple[tuple[type[httpx.HTTPError], ErrorKind, str], ...] = (
    (httpx.TimeoutException, R, "gmail_timeout"),
    (httpx.ConnectError, R, "gmail_connect_failed"),
    (httpx.TransportError, R, "gmail_transport_error"),
    (httpx.HTTPError, F, "gmail_http_error"),
)

# Quota errors Google sends as 403 instead of 429.
_RATE_REASONS = ("rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded")
DEFAULT_RETRY_AFTER_MS = 10_000
"""Wait hinted for a 429 that carries no Retry-After header."""


def retry_after_ms(response: httpx.Response, now: Callable[[], datetime]) -> int | None:
    """The Retry-After header (seconds or an HTTP date) in milliseconds, or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return int(value) * 1000
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int((when - now()).total_seconds() * 1000))


def error_for_response(
    response: httpx.Response,
    table: dict[int, tuple[ErrorKind, str]],
    now: Callable[[], datetime],
) -> PluginServiceError:
    """The error for a non-2xx ``response`` by ``table`` (send or token endpoint)."""
    status = response.status_code
    hint = retry_after_ms(response, now)
    if status == 403 and any(reason in response.text for reason in _RATE_REASONS):
        kind, name = L, "gmail_rate_limited"
    elif status in table:
        kind, name = table[status]
    elif status >= 500:
        kind, name = R, "gmail_unavailable"
    else:
        kind, name = F, "gmail_unexpected_status"
    if kind is L and hint is None:
        hint = DEFAULT_RETRY_AFTER_MS
    # Response bodies of these endpoints describe the error, not the message.
    return PluginServiceError(
        kind,
        name,
        f"Gmail answered HTTP {status}: {response.text[:200]}",
        retry_after_ms=hint,
        details={"http_status": status},
    )


@contextmanager
def translate_httpx_errors() -> Iterator[None]:
    """Turn any httpx failure inside the block into ``PluginServiceError``."""
    try:
        yield
    except httpx.HTTPError as exc:
        for exc_type, kind, name in GMAIL_EXCEPTIONS:
            if isinstance(exc, exc_type):
                raise PluginServiceError(
                    kind, name, f"Gmail request failed: {type(exc).__name__}"
                ) from exc
        raise  # unreachable: httpx.HTTPError is the last row
