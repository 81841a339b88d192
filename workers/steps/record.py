"""Step: write the attempt's audit row and the command's new state, in the caller's transaction.

The audit row, the command row, the idempotency record and any retry or dead
letter commit together; the task acknowledges the message only after that.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Executable, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from capgate.audit.events import AuditEvent, Outcome
from capgate.audit.redaction import summarize_request, summarize_response
from capgate.contracts.errors import PluginServiceError
from capgate.workers.deps import PipelineDeps
from capgate.workers.tables import CommandRow
from capgate.workers.work import Work

__all__ = ["audit_event", "upsert_command"]

_COMMANDS = cast(Table, CommandRow.__table__)
# What an attempt changes; the rest (plugin, operation, fingerprint, created_at)
# is written once, by the first attempt.
_PROGRESS = (
    "status", "attempt", "failures", "series_start", "deliveries", "deferred_ms", "task_id",
    "history", "updated_at",
)  # fmt: skip


def audit_event(
    work: Work,
    deps: PipelineDeps,
    outcome: Outcome,
    *,
    error: PluginServiceError | None = None,
    delay_ms: int | None = None,
    why: str | None = None,
) -> AuditEvent:
    """The audit row of this attempt, with redacted request/response summaries."""
    fields: dict[str, Any] = {}
    envelope = work.envelope
    if envelope is not None:
        ctx = envelope.context
        fields = {
            "command_id": envelope.command_id,
            "idempotency_key": envelope.idempotency_key,
            "plugin_name": ctx.plugin_name,
            "plugin_id": ctx.plugin_id,
            "capability_id": ctx.capability_id,
            "capability_key": ctx.capability_key,
            "execution_kind": ctx.execution_kind.value,
            "definition_id": ctx.definition_id,
            "invocation_id": ctx.invocation_id,
            "trigger_event_id": ctx.trigger_event_id,
            "manual_invoker_id": ctx.manual_invoker_id,
            "correlation_id": ctx.correlation_id,
            "key_id": envelope.key_id,
            "operation": envelope.operation,
            "request_summary": summarize_request(envelope.operation, envelope.payload),
        }
        options = getattr(work.payload, "options", None)
        fields["actor_id"] = getattr(options, "actor_id", None)
        fields["reason"] = getattr(options, "reason", None)
    else:
        # Authentication failed: only what the registry step could attribute
        # (the key's owner, plain-identifier claims) goes into the row.
        attribution = error.details.get("attribution") if error is not None else None
        fields = dict(attribution) if isinstance(attribution, dict) else {}
        fields["operation"] = work.delivery.task_name.removeprefix("capgate.")[:64]
    if work.spec is not None:
        fields["service_key"] = work.spec.service_key.value
    denied = work.denied
    granted = work.granted
    if error is not None and error.details.get("denied"):
        denied = tuple(str(s) for s in error.details["denied"])
        # The authorizer raised before the step could keep what was granted.
        granted = tuple(str(s) for s in error.details.get("granted", granted))
    result = work.result
    if result is not None:
        fields["resource_type"] = result.resource_type
        fields["resource_id"] = result.resource_id
        fields["response_summary"] = summarize_response(work.operation or "", result.response)
    return AuditEvent(
        outcome=outcome,
        attempt=work.attempt,
        requested_scopes=work.requested,
        granted_scopes=granted,
        denied_scopes=denied,
        error_kind=error.kind.value if error else None,
        error_code=error.code if error else None,
        error_message=error.message if error else None,
        retry_delay_ms=delay_ms,
        retry_reason=why,
        duration_ms=work.elapsed_ms(),
        worker_host=deps.worker_host,
        task_id=work.delivery.task_id,
        **fields,
    )


@lru_cache(maxsize=4)
def _upsert(dialect: str) -> Executable:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_COMMANDS)
    return statement.on_conflict_do_update(
        index_elements=[_COMMANDS.c.command_id],
        set_={name: statement.excluded[name] for name in _PROGRESS},
    )


def upsert_command(
    session: Session, work: Work, status: str, now: datetime, *, deliveries: int = 1
) -> None:
    """Insert or update the command row in one statement (no read first).

    Insert-or-update in the database, so a row another transaction added or
    changed since this attempt read it is updated, never duplicated.
    ``deliveries`` restarts at 1 once an attempt has an outcome.
    """
    envelope = work.envelope
    assert envelope is not None
    values = {
        "command_id": envelope.command_id,
        "plugin_id": envelope.context.plugin_id,
        "operation": envelope.operation,
        "fingerprint": work.fingerprint,
        "created_at": now,
        "status": status,
        "attempt": work.attempt,
        "failures": work.failures,
        "series_start": work.series_start,
        "deliveries": deliveries,
        "deferred_ms": work.deferred_ms,
        "task_id": work.delivery.task_id,
        "history": work.history,
        "updated_at": now,
    }
    session.execute(_upsert(session.get_bind().dialect.name), values)
