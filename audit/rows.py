"""Turn an :class:`AuditEvent` into the column values of a row, redacted and bounded.

Every row goes through :func:`event_values`, so redaction cannot be skipped
by a caller: summaries are scrubbed, error messages sanitised, free text
masked, and every string cut to its column's length (a value too long for
its column must never make the audit write, and so the command, fail).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String

from capgate.audit.events import AuditEvent
from capgate.audit.redaction import MAX_ITEMS, mask_text, sanitize_error, scrub
from capgate.audit.schema import EVENTS

__all__ = ["event_values"]

_LIMITS: dict[str, int] = {
    column.name: column.type.length
    for column in EVENTS.columns
    if isinstance(column.type, String) and column.type.length
}
_FREE_TEXT = ("reason", "retry_reason")
_TEXT_LIMIT = 1000
_SCOPES = ("requested_scopes", "granted_scopes", "denied_scopes")
_SUMMARIES = ("request_summary", "response_summary")


def _cut(value: str, limit: int) -> str:
    return value.replace("\x00", "\ufffd")[:limit]


def event_values(event: AuditEvent) -> dict[str, Any]:
    """Column values for ``event`` (without the event id, time and chain columns)."""
    values: dict[str, Any] = {}
    for name, value in event:
        if name in _SUMMARIES:
            cleaned = scrub(value)
            values[name] = cleaned if isinstance(cleaned, dict) else {"value": cleaned}
        elif name in _SCOPES:
            values[name] = [_cut(str(scope), 64) for scope in value[:MAX_ITEMS]]
        elif name == "error_message":
            values[name] = sanitize_error(value)
        elif name in _FREE_TEXT:
            values[name] = None if value is None else _cut(mask_text(value), _TEXT_LIMIT)
        elif isinstance(value, str):
            # str() turns StrEnum values (the outcome) into their plain string.
            text = mask_text(value) if name == "actor_id" else str(value)
            values[name] = _cut(text, _LIMITS.get(name, _TEXT_LIMIT))
        else:
            values[name] = value
    return values
