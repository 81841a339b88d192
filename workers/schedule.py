"""The durable retry schedule and dead letters, written in the attempt's transaction.

Long waits stay out of worker memory and out of the broker: a retry is a row
with a due time, published by the pump (``capgate.workers.pump``) when due.
So a wait longer than Redis' visibility timeout neither duplicates the
message nor forces a long visibility timeout that would slow crash recovery.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from capgate.contracts.errors import PluginServiceError
from capgate.workers.tables import DeadLetterRow, ScheduledRetryRow
from capgate.workers.work import Work

__all__ = ["add_dead_letter", "schedule_retry"]


def _envelope_text(work: Work) -> str:
    body = work.delivery.body
    return body.decode("utf-8") if isinstance(body, bytes) else str(body)


def schedule_retry(session: Session, work: Work, delay_ms: int, now: datetime) -> datetime:
    """Schedule the next attempt of this command ``delay_ms`` from ``now``."""
    assert work.envelope is not None and work.spec is not None
    due = now + timedelta(milliseconds=delay_ms)
    session.merge(
        ScheduledRetryRow(
            command_id=work.envelope.command_id,
            attempt=work.attempt + 1,
            due_at=due,
            task_name=work.spec.task_name,
            queue=work.spec.queue,
            task_id=work.delivery.task_id,
            envelope=_envelope_text(work),
            created_at=now,
        )
    )
    return due


def add_dead_letter(
    session: Session, work: Work, error: PluginServiceError, now: datetime
) -> DeadLetterRow:
    """Keep the whole command, its error and its attempt history for an operator."""
    assert work.envelope is not None and work.spec is not None
    row = DeadLetterRow(
        command_id=work.envelope.command_id,
        plugin_id=work.envelope.context.plugin_id,
        operation=work.envelope.operation,
        task_name=work.spec.task_name,
        queue=work.spec.queue,
        envelope=_envelope_text(work),
        error=error.to_dict(),
        attempts=work.attempt,
        history=work.history,
        status="dead",
        died_at=now,
    )
    session.add(row)
    return row


def history_entry(
    work: Work, outcome: str, error: PluginServiceError | None, delay_ms: int | None, now: datetime
) -> dict[str, Any]:
    """One line of a command's attempt history."""
    return {
        "attempt": work.attempt,
        "at": now.isoformat(),
        "outcome": outcome,
        "error_kind": error.kind.value if error else None,
        "error_code": error.code if error else None,
        "retry_delay_ms": delay_ms,
    }
