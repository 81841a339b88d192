"""The change log: one row per change a plugin made to a core row.

Written in the handler's session, so it commits with the change, the audit
row and the idempotency record, or not at all. ``before``/``after`` hold the
changed fields only (flags, role names), never a secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, insert
from sqlalchemy.orm import Mapped, mapped_column

from capgate.adapters.base import Invocation
from capgate.contracts.options import OperationPayload
from capgate.database import Base, UtcDateTime

__all__ = ["ChangeLogEntry", "record_change"]

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_ID = BigInteger().with_variant(Integer(), "sqlite")


class ChangeLogEntry(Base):
    """Who changed what, when, why, and from what to what."""

    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_resource", "resource_type", "resource_id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(500))
    audit_metadata: Mapped[dict[str, Any]] = mapped_column(JSON)
    plugin_id: Mapped[str] = mapped_column(String(128))
    capability_id: Mapped[str] = mapped_column(String(128))
    command_id: Mapped[str] = mapped_column(String(128), index=True)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())


_INSERT = insert(ChangeLogEntry)


def record_change(
    invocation: Invocation,
    *,
    resource_type: str,
    resource_id: str,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """Insert a change-log row for ``invocation`` in its transaction (not committed).

    A Core insert sent at once rather than an ORM object flushed later: it
    costs a fraction of the CPU, and a handler that fails after it is rolled
    back with it all the same.
    """
    options = (
        invocation.payload.options if isinstance(invocation.payload, OperationPayload) else None
    )
    values = {
        "resource_type": resource_type,
        "resource_id": resource_id,
        "action": action,
        "before": before,
        "after": after,
        "actor_id": options.actor_id if options else None,
        "reason": options.reason if options else None,
        "audit_metadata": dict(options.audit_metadata) if options else {},
        "plugin_id": invocation.context.plugin_id,
        "capability_id": invocation.context.capability_id,
        "command_id": invocation.command_id,
        "changed_at": invocation.now,
    }
    invocation.session.execute(_INSERT, values)
