"""The audit tables: ``audit_events``, ``audit_chain_heads``, ``audit_prune_permits``.

``audit_events`` holds one row per attempt and outcome. Rows are chained per
partition (see :mod:`capgate.audit.chain`); ``audit_chain_heads`` holds each
partition's newest link and its retention base (the link just before the
oldest row left after a prune). ``audit_prune_permits`` is written only by
``capgate audit prune``, inside its own transaction: the append-only triggers
let a DELETE through only while such a permit covers the row.

Migration ``0001_audit`` creates the same tables by hand; keep them in step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from capgate.database import Base, UtcDateTime

__all__ = [
    "CHAIN_PARTITIONS",
    "EVENTS",
    "GENESIS_HASH",
    "HEADS",
    "PERMITS",
    "AuditChainHead",
    "AuditEventRow",
    "PrunePermit",
]

CHAIN_PARTITIONS = 64
"""Number of independent chains; migration 0001 creates one head row each."""

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first row of every partition."""

# SQLite only auto-increments an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT.
RowId = BigInteger().with_variant(Integer(), "sqlite")


class AuditEventRow(Base):
    """One audit row: what an :class:`~capgate.audit.events.AuditEvent` became."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    command_id: Mapped[str | None] = mapped_column(String(128))
    attempt: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    plugin_name: Mapped[str | None] = mapped_column(String(128))
    plugin_id: Mapped[str | None] = mapped_column(String(128))
    capability_id: Mapped[str | None] = mapped_column(String(128))
    capability_key: Mapped[str | None] = mapped_column(String(128))
    execution_kind: Mapped[str | None] = mapped_column(String(32))
    definition_id: Mapped[str | None] = mapped_column(String(128))
    invocation_id: Mapped[str | None] = mapped_column(String(128))
    trigger_event_id: Mapped[str | None] = mapped_column(String(128))
    manual_invoker_id: Mapped[str | None] = mapped_column(String(128))
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    key_id: Mapped[str | None] = mapped_column(String(128))
    service_key: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(128))
    requested_scopes: Mapped[list[str]] = mapped_column(JSON)
    granted_scopes: Mapped[list[str]] = mapped_column(JSON)
    denied_scopes: Mapped[list[str]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(32))
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(128))
    error_message: Mapped[str | None] = mapped_column(Text)
    retry_delay_ms: Mapped[int | None] = mapped_column(BigInteger)
    retry_reason: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    actor_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    request_summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    response_summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    worker_host: Mapped[str | None] = mapped_column(String(255))
    task_id: Mapped[str | None] = mapped_column(String(255))
    chain_partition: Mapped[int] = mapped_column(Integer)
    chain_seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        # A redelivered message re-runs the same attempt: its outcome is
        # written once (NULLs are distinct, so rows without a command id never clash).
        UniqueConstraint("command_id", "attempt", "outcome", name="uq_audit_events_attempt"),
        UniqueConstraint("chain_partition", "chain_seq", name="uq_audit_events_chain"),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
        Index("ix_audit_events_recorded_at", "recorded_at"),
        # (filter, id): keyset pagination by id stays an index range scan.
        Index("ix_audit_events_plugin", "plugin_name", "id"),
        Index("ix_audit_events_capability_key", "capability_key", "id"),
        Index("ix_audit_events_capability_id", "capability_id", "id"),
        Index("ix_audit_events_operation", "operation", "id"),
        Index("ix_audit_events_outcome", "outcome", "id"),
        Index("ix_audit_events_correlation", "correlation_id", "id"),
    )


class AuditChainHead(Base):
    """The newest link of one partition's chain and its retention base."""

    __tablename__ = "audit_chain_heads"

    chain_partition: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    base_seq: Mapped[int] = mapped_column(BigInteger)
    base_hash: Mapped[str] = mapped_column(String(64))
    base_mac: Mapped[str | None] = mapped_column(String(64))


class PrunePermit(Base):
    """Present only inside a prune transaction: rows older than ``before`` may go."""

    __tablename__ = "audit_prune_permits"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    before: Mapped[datetime] = mapped_column(UtcDateTime)


# Typed handles on the tables, for Core statements (``__table__`` is typed loosely).
EVENTS = cast(Table, AuditEventRow.__table__)
HEADS = cast(Table, AuditChainHead.__table__)
PERMITS = cast(Table, PrunePermit.__table__)
