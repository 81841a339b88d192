"""Retry tokens: proof that a delivery was published by capgate's own scheduler.

A plugin can publish to its queue but cannot forge a token, so it cannot make
a scheduled retry run early, or pass a replay off as a retry.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["RETRY_HEADER", "RetryTokens"]

RETRY_HEADER = "capgate_retry"
"""Message header carrying ``<attempt>:<hex mac>``."""


class RetryTokens:
    """Signs and checks ``(command id, attempt)`` with a key from the server secret."""

    def __init__(self, server_secret: str) -> None:
        self._key = hashlib.sha256(b"capgate retry token\x00" + server_secret.encode()).digest()

    def __repr__(self) -> str:
        return "RetryTokens(<key hidden>)"

    def _mac(self, command_id: str, attempt: int) -> str:
        message = f"{command_id}\x00{attempt}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue(self, command_id: str, attempt: int) -> str:
        """The header value for ``attempt`` of ``command_id``."""
        return f"{attempt}:{self._mac(command_id, attempt)}"

    def attempt_of(self, command_id: str, token: object) -> int | None:
        """The attempt a valid token names, or None for a missing, forged or ill-typed token.

        The header comes from the sender: an integer, an object or non-ASCII
        digits are not a token (and must be refused as ``invalid_retry_token``,
        not fail as an unexpected error).
        """
        if not isinstance(token, str) or ":" not in token or not token.isascii():
            return None
        number, _, mac = token.partition(":")
        if not number.isdecimal():
            return None
        attempt = int(number)
        if hmac.compare_digest(self._mac(command_id, attempt), mac):
            return attempt
        return None
