"""The audited check of a release link, for the core's download route.

:func:`~capgate.adapters.release_links.verify_release_link` only answers;
a download route should call :meth:`ReleaseLinkGate.check` instead, which
verifies the link and commits an audit row for every check, granted or
refused, before it answers. So a tampered, expired or forwarded link
leaves a ``denied`` row with its specific code, and nothing is served.

The row never holds the token (it is a bearer secret): only the bundle and
recipient asked for, and the link id once the signature is known good.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from capgate.adapters.release_links import ReleaseLinkClaims, verify_release_link
from capgate.audit.events import AuditEvent, Outcome
from capgate.audit.store import AuditStore
from capgate.contracts.errors import PluginServiceError

__all__ = ["CHECK_OPERATION", "ReleaseLinkGate"]

CHECK_OPERATION = "storage.check_release_link"
"""The ``operation`` of the audit rows the gate writes (not a plugin operation)."""


class ReleaseLinkGate:
    """Verify release links and audit each check."""

    def __init__(
        self,
        audit: AuditStore,
        *,
        key: bytes,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``key`` is :func:`~capgate.adapters.release_links.release_link_key`'s result."""
        self._audit = audit
        self._key = key
        self._clock = clock

    def check(
        self,
        token: str,
        *,
        bundle_id: str,
        recipient_id: str,
        content_hash: str | None = None,
    ) -> ReleaseLinkClaims:
        """The link's claims if it grants ``bundle_id`` to ``recipient_id``; PERMISSION if not.

        The audit row is committed before this returns or raises; if it
        cannot be, ``AuditWriteError`` is raised and nothing must be served.
        """
        started = time.perf_counter()
        event = {
            "operation": CHECK_OPERATION,
            "service_key": "storage",
            "resource_type": "bundle",
            "resource_id": bundle_id[:128],
            "actor_id": recipient_id[:128],
            "request_summary": {"bundle_id": bundle_id[:128], "recipient_id": recipient_id[:128]},
        }
        try:
            claims = verify_release_link(
                token,
                key=self._key,
                bundle_id=bundle_id,
                recipient_id=recipient_id,
                now=self._clock(),
                content_hash=content_hash,
            )
        except PluginServiceError as error:
            self._audit.record(
                AuditEvent(
                    outcome=Outcome.DENIED,
                    error_kind=error.kind.value,
                    error_code=error.code,
                    error_message=error.message,
                    duration_ms=_ms_since(started),
                    **event,
                )
            )
            raise
        self._audit.record(
            AuditEvent(
                outcome=Outcome.SUCCEEDED,
                response_summary={"link_id": claims.link_id},
                duration_ms=_ms_since(started),
                **event,
            )
        )
        return claims


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
