"""What one audit row says: :class:`AuditEvent` and its :class:`Outcome`.

Callers (the worker pipeline, the operator CLI) build an ``AuditEvent`` and
hand it to the recorder, which redacts, chains and writes it. Fields that
the database fills (event id, recorded-at on the database clock, chain hash)
are not here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AuditEvent", "Outcome"]


class Outcome(StrEnum):
    """How one attempt ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DENIED = "denied"
    REJECTED = "rejected"
    RATE_LIMITED = "rate_limited"
    RETRY_SCHEDULED = "retry_scheduled"
    DEAD_LETTERED = "dead_lettered"
    DEDUPLICATED = "deduplicated"
    RESENT = "resent"
    """Not an ending: this attempt sends again an email an earlier try may have delivered."""


class AuditEvent(BaseModel):
    """One attempt of one command (or one operator action) and how it ended.

    Everything is optional but the outcome: a message too malformed to parse
    still gets a row, with whatever could be attributed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: Outcome
    command_id: str | None = None
    attempt: int = Field(default=1, ge=1)
    idempotency_key: str | None = None
    plugin_name: str | None = None
    plugin_id: str | None = None
    capability_id: str | None = None
    capability_key: str | None = None
    execution_kind: str | None = None
    definition_id: str | None = None
    invocation_id: str | None = None
    trigger_event_id: str | None = None
    manual_invoker_id: str | None = None
    correlation_id: str | None = None
    key_id: str | None = None
    service_key: str | None = None
    operation: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    requested_scopes: tuple[str, ...] = ()
    granted_scopes: tuple[str, ...] = ()
    denied_scopes: tuple[str, ...] = ()
    error_kind: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_delay_ms: int | None = Field(default=None, ge=0)
    retry_reason: str | None = None
    duration_ms: int | None = Field(default=None, ge=0)
    actor_id: str | None = None
    reason: str | None = None
    request_summary: dict[str, Any] = Field(default_factory=dict)
    response_summary: dict[str, Any] = Field(default_factory=dict)
    worker_host: str | None = None
    task_id: str | None = None
