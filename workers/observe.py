"""Watch the pipeline through its audit rows: metrics and one log line per attempt.

:func:`observe_pipeline` wraps the pipeline's audit writer. Each row's write
time goes to a histogram at once; the row itself is remembered on its
session and only counted and logged when that session commits, so a rolled
back attempt (which the broker will deliver again) is neither counted nor
logged as if it had happened. Nothing in the pipeline changes: every attempt
already writes exactly one audit row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from capgate.audit.events import AuditEvent, Outcome
from capgate.workers import metrics
from capgate.workers.pipeline import Pipeline

__all__ = ["log_attempt", "observe_pipeline"]

log = logging.getLogger("capgate.commands")

_PENDING = "capgate_observed_events"
_LOUD = frozenset({Outcome.DEAD_LETTERED, Outcome.REJECTED, Outcome.RESENT})


def log_attempt(row: AuditEvent) -> None:
    """One log line for one recorded attempt: identifiers and outcome, never the payload."""
    level = logging.WARNING if row.outcome in _LOUD else logging.INFO
    log.log(
        level,
        "%s attempt %d of %s: %s%s",
        row.operation or "?",
        row.attempt,
        row.command_id or "an unattributed message",
        row.outcome.value,
        f" ({row.error_code})" if row.error_code else "",
        extra={
            "command_id": row.command_id,
            "correlation_id": row.correlation_id,
            "plugin": row.plugin_name,
            "operation": row.operation,
            "attempt": row.attempt,
            "outcome": row.outcome.value,
            "error_code": row.error_code,
            "retry_delay_ms": row.retry_delay_ms,
            "duration_ms": row.duration_ms,
            "task_id": row.task_id,
        },
    )


def _settled(row: AuditEvent) -> None:
    metrics.count(row)
    log_attempt(row)


def _committed(session: Session) -> None:
    for row in session.info.pop(_PENDING, ()):
        _settled(row)


def _rolled_back(session: Session, previous_transaction: object) -> None:
    session.info.pop(_PENDING, None)


def _listen(sessions: sessionmaker[Session]) -> None:
    if not event.contains(sessions, "after_commit", _committed):
        event.listen(sessions, "after_commit", _committed)
        event.listen(sessions, "after_soft_rollback", _rolled_back)


def observe_pipeline(pipeline: Pipeline) -> Pipeline:
    """The same pipeline, with its audit rows timed, counted and logged after commit."""
    deps = pipeline.deps
    _listen(deps.sessions)
    write = deps.record_audit

    def record_audit(session: Session, row: AuditEvent) -> object:
        started = time.perf_counter()
        try:
            result = write(session, row)
        except Exception:
            metrics.AUDIT_WRITE_ERRORS.inc()
            raise
        metrics.AUDIT_WRITE_SECONDS.observe(time.perf_counter() - started)
        if isinstance(session, Session):
            session.info.setdefault(_PENDING, []).append(row)
        else:  # a bare connection: no session commit to wait for
            _settled(row)
        return result

    return Pipeline(replace(deps, record_audit=record_audit), pipeline.steps)
