"""The worker's durable state: commands, idempotency, the retry schedule, dead letters.

These rows are what make retries safe across processes: the command row says
which attempt is current (so a duplicate delivery is recognised), the
schedule holds long waits outside worker memory, and a dead letter keeps a
failed command whole so an operator can replay it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from capgate.database import Base, UtcDateTime

__all__ = ["CommandRow", "DeadLetterRow", "IdempotencyRow", "ScheduledRetryRow"]


class CommandRow(Base):
    """One command's progress across its attempts."""

    __tablename__ = "commands"

    command_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    plugin_id: Mapped[str] = mapped_column(String(128))
    operation: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    # attempt numbers every execution (and names audit rows); failures counts
    # only the ones the retry policy limits; series_start marks an operator replay.
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    series_start: Mapped[int] = mapped_column(Integer, default=1)
    deliveries: Mapped[int] = mapped_column(Integer, default=1)
    deferred_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    task_id: Mapped[str | None] = mapped_column(String(155))
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IdempotencyRow(Base):
    """The first result for (plugin, idempotency key); later duplicates get it."""

    __tablename__ = "idempotency_records"

    plugin_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    command_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(20))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ScheduledRetryRow(Base):
    """A retry waiting for its time; the pump publishes it when due."""

    __tablename__ = "scheduled_retries"
    __table_args__ = (Index("ix_scheduled_retries_due_at", "due_at"),)

    # One row per (command, attempt): the pump deleting a published attempt
    # can never remove the next attempt a worker has just scheduled.
    command_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    task_name: Mapped[str] = mapped_column(String(128))
    queue: Mapped[str] = mapped_column(String(128))
    task_id: Mapped[str | None] = mapped_column(String(155))
    envelope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DeadLetterRow(Base):
    """A command that failed for good, kept whole with its attempt history."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_command_id", "command_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    command_id: Mapped[str] = mapped_column(String(128))
    plugin_id: Mapped[str] = mapped_column(String(128))
    operation: Mapped[str] = mapped_column(String(64))
    task_name: Mapped[str] = mapped_column(String(128))
    queue: Mapped[str] = mapped_column(String(128))
    envelope: Mapped[str] = mapped_column(Text)
    error: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="dead")
    died_at: Mapped[datetime] = mapped_column(UtcDateTime())
    replayed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replayed_by: Mapped[str | None] = mapped_column(String(128))
