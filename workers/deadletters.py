"""Dead letters for operators: list, show, replay, purge. Every change is audited.

A replay starts a new attempt series under the same command id: the command
row gets a fresh failure count and deferral budget, and the pump publishes
the next attempt at once. The attempt numbers keep counting, so the audit
trail shows the whole story in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from capgate.audit.events import AuditEvent, Outcome
from capgate.contracts.errors import PluginServiceError
from capgate.workers.tables import CommandRow, DeadLetterRow, ScheduledRetryRow

__all__ = [
    "count_dead_letters",
    "get_dead_letter",
    "list_dead_letters",
    "purge_dead_letters",
    "replay_dead_letter",
]

AuditWriter = Callable[[Session, AuditEvent], object]


def list_dead_letters(
    session: Session, *, include_replayed: bool = False, limit: int = 100
) -> Sequence[DeadLetterRow]:
    """Dead letters, newest first."""
    stmt = select(DeadLetterRow).order_by(DeadLetterRow.id.desc()).limit(limit)
    if not include_replayed:
        stmt = stmt.where(DeadLetterRow.status == "dead")
    return session.scalars(stmt).all()


def count_dead_letters(session: Session, *, before: datetime | None = None) -> int:
    """How many dead letters :func:`purge_dead_letters` would delete."""
    stmt = select(func.count()).select_from(DeadLetterRow)
    if before is not None:
        stmt = stmt.where(DeadLetterRow.died_at < before)
    return int(session.scalar(stmt) or 0)


def get_dead_letter(session: Session, dead_letter_id: int, *, lock: bool = False) -> DeadLetterRow:
    """One dead letter; NOT_FOUND (``dead_letter_not_found``) if there is none."""
    row = session.get(DeadLetterRow, dead_letter_id, with_for_update=lock)
    if row is None:
        raise PluginServiceError.not_found(
            "dead_letter_not_found", f"no dead letter {dead_letter_id}"
        )
    return row


def replay_dead_letter(
    session: Session,
    dead_letter_id: int,
    *,
    actor: str,
    now: datetime,
    audit: AuditWriter,
    reason: str | None = None,
) -> DeadLetterRow:
    """Schedule a new attempt series for a dead command (in ``session``'s transaction)."""
    dead = get_dead_letter(session, dead_letter_id, lock=True)
    if dead.status != "dead":
        raise PluginServiceError.validation(
            "dead_letter_replayed", f"dead letter {dead_letter_id} was already {dead.status}"
        )
    command = session.get(CommandRow, dead.command_id, with_for_update=True)
    if command is None:
        raise PluginServiceError.not_found(
            "command_not_found", f"command {dead.command_id} has no state row"
        )
    last_attempt = command.attempt
    command.status = "replay_scheduled"
    command.series_start = last_attempt + 1
    command.failures = 0
    command.deferred_ms = 0
    command.updated_at = now
    session.merge(
        ScheduledRetryRow(
            command_id=dead.command_id,
            attempt=last_attempt + 1,
            due_at=now,
            task_name=dead.task_name,
            queue=dead.queue,
            task_id=command.task_id,
            envelope=dead.envelope,
            created_at=now,
        )
    )
    dead.status = "replayed"
    dead.replayed_at = now
    dead.replayed_by = actor
    audit(session, _lifecycle(dead, "dead_letters.replay", actor, reason, last_attempt))
    return dead


def purge_dead_letters(
    session: Session,
    *,
    actor: str,
    audit: AuditWriter,
    before: datetime | None = None,
    reason: str | None = None,
) -> int:
    """Delete dead letters (all, or those that died before ``before``); return the count."""
    stmt = delete(DeadLetterRow)
    if before is not None:
        stmt = stmt.where(DeadLetterRow.died_at < before)
    count = int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]
    summary: dict[str, Any] = {"purged": count, "before": before.isoformat() if before else None}
    audit(
        session,
        AuditEvent(
            outcome=Outcome.SUCCEEDED,
            operation="dead_letters.purge",
            execution_kind="lifecycle",
            actor_id=actor,
            reason=reason,
            request_summary=summary,
        ),
    )
    return count


def _lifecycle(
    dead: DeadLetterRow, operation: str, actor: str, reason: str | None, attempt: int
) -> AuditEvent:
    return AuditEvent(
        outcome=Outcome.RETRY_SCHEDULED,
        command_id=dead.command_id,
        attempt=attempt,
        plugin_id=dead.plugin_id,
        operation=operation,
        execution_kind="lifecycle",
        actor_id=actor,
        reason=reason,
        retry_delay_ms=0,
        retry_reason="operator replay of a dead letter",
        request_summary={"dead_letter_id": dead.id, "replayed_operation": dead.operation},
    )
