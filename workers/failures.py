"""What happens after a failed attempt: the policy decides, one transaction records.

Outcomes: an authentication failure or a replay is ``rejected``; a missing
scope is ``denied``; a retry is ``retry_scheduled`` (``rate_limited`` when
the limiter said wait); a FATAL error or used-up attempts is
``dead_lettered``; anything else is ``failed``.
"""

from __future__ import annotations

import logging
from typing import Any

from capgate.audit.events import Outcome
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.database import unit_of_work
from capgate.workers import idempotency
from capgate.workers.deps import PipelineDeps
from capgate.workers.policy import Decision, decide
from capgate.workers.schedule import add_dead_letter, history_entry, schedule_retry
from capgate.workers.steps.attempts import DuplicateDelivery
from capgate.workers.steps.record import audit_event, upsert_command
from capgate.workers.tables import IdempotencyRow
from capgate.workers.work import Verdict, VerdictKind, Work

__all__ = ["settle_failure", "settled_verdict"]

log = logging.getLogger(__name__)

_REJECTING_CODES = frozenset(
    {"replayed_command", "command_id_reused", "unknown_retry", "workflow_not_allowed"}
)


def _outcome(work: Work, error: PluginServiceError, decision: Decision) -> Outcome:
    if work.envelope is None or error.code in _REJECTING_CODES:
        return Outcome.REJECTED
    if decision.retry:
        return (
            Outcome.RATE_LIMITED if error.kind is ErrorKind.RATE_LIMIT else Outcome.RETRY_SCHEDULED
        )
    if error.kind is ErrorKind.PERMISSION:
        return Outcome.DENIED
    if error.kind in (ErrorKind.VALIDATION, ErrorKind.NOT_FOUND):
        return Outcome.FAILED
    return Outcome.DEAD_LETTERED


def _decide(
    work: Work, deps: PipelineDeps, error: PluginServiceError, unexpected: bool
) -> Decision:
    if work.envelope is None or work.spec is None or error.code in _REJECTING_CODES:
        return Decision(False, 0, "not attributable to a verified command")
    if error.kind is not ErrorKind.RATE_LIMIT:
        work.failures += 1 if error.kind is ErrorKind.RETRYABLE else 0
    return decide(
        error.kind,
        failures=work.failures,
        hint_ms=error.retry_after_ms,
        deferred_ms=work.deferred_ms,
        policy=deps.policies.for_operation(work.envelope.operation),
        unexpected=unexpected,
        jitter=deps.jitter,
    )


def settle_failure(
    work: Work, deps: PipelineDeps, error: PluginServiceError, *, unexpected: bool
) -> Verdict:
    """Decide, then record the audit row and the command's new state together."""
    decision = _decide(work, deps, error, unexpected)
    outcome = _outcome(work, error, decision)
    now = deps.clock()
    retry_at = None
    dead_letter = None
    with unit_of_work(deps.sessions) as session:
        if work.envelope is not None and error.code not in _REJECTING_CODES:
            work.history.append(
                history_entry(work, outcome.value, error, decision.delay_ms or None, now)
            )
            if decision.retry:
                if error.kind is ErrorKind.RATE_LIMIT:
                    work.deferred_ms += decision.delay_ms
                retry_at = schedule_retry(session, work, decision.delay_ms, now)
                upsert_command(session, work, "retry_scheduled", now)
            else:
                if outcome is Outcome.DEAD_LETTERED:
                    dead_letter = add_dead_letter(session, work, error, now)
                upsert_command(session, work, outcome.value, now)
                if work.claimed:
                    idempotency.settle(
                        session, work.envelope, now, status="failed", error=error.to_dict()
                    )
        event = audit_event(
            work,
            deps,
            outcome,
            error=error,
            delay_ms=decision.delay_ms if decision.retry else None,
            why=decision.why,
        )
        deps.record_audit(session, event)
    if dead_letter is not None:
        _run_hooks(deps, dead_letter.id, work, error)
    kind = VerdictKind.RETRY_SCHEDULED if decision.retry else VerdictKind.FAILED
    return Verdict(kind, outcome, work.command_id, work.attempt, error=error, retry_at=retry_at)


def _run_hooks(
    deps: PipelineDeps, dead_letter_id: int, work: Work, error: PluginServiceError
) -> None:
    info = {
        "dead_letter_id": dead_letter_id,
        "command_id": work.command_id,
        "operation": work.operation,
        "error": error.to_dict(),
    }
    for hook in deps.dead_letter_hooks:
        try:
            hook(info)
        except Exception:
            log.exception("dead-letter hook %r failed for %s", hook, work.command_id)


def settled_verdict(work: Work, deps: PipelineDeps, settled: DuplicateDelivery) -> Verdict:
    """The answer of an attempt that committed but was never acknowledged.

    Its message came back (the worker died, or the commit's reply was lost
    and the message was returned to the queue), so the caller waiting on
    the task id has no result yet. The copy writes no second audit row; it
    carries the attempt's recorded answer so the task stores it: the
    response kept with the idempotency key, or the error that ended it.
    A retry in between stores nothing (the next attempt will).
    """
    assert work.envelope is not None
    response: dict[str, Any] | None = None
    error: PluginServiceError | None = None
    if settled.status not in ("retry_scheduled", "replay_scheduled"):
        key = (work.envelope.context.plugin_id, work.envelope.idempotency_key)
        with deps.sessions() as session:
            record = session.get(IdempotencyRow, key)
        if settled.status == "succeeded" and record is not None and record.status == "succeeded":
            response = dict(record.response or {})
        elif record is not None and record.error:
            error = PluginServiceError.from_dict(record.error)
        else:
            last = settled.history[-1] if settled.history else {}
            error = PluginServiceError.from_dict(
                {
                    "kind": last.get("error_kind") or ErrorKind.FATAL.value,
                    "code": last.get("error_code") or settled.status,
                    "message": f"attempt {work.attempt} ended {settled.status}",
                }
            )
    return Verdict(
        VerdictKind.DUPLICATE_DELIVERY,
        Outcome.DEDUPLICATED,
        work.command_id,
        work.attempt,
        response=response,
        error=error,
    )
