"""The values that flow through the pipeline: a delivery in, a verdict out.

``Work`` is the one mutable object of an attempt: each step reads what the
earlier ones found and adds its own finding. Nothing here knows Celery.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from capgate.adapters.base import AdapterResult
from capgate.audit.events import Outcome
from capgate.contracts.catalog import OperationSpec
from capgate.contracts.envelope import CommandEnvelope
from capgate.contracts.errors import PluginServiceError
from capgate.registry.rates import RateLimit

__all__ = ["Delivery", "Verdict", "VerdictKind", "Work"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as the broker handed it over."""

    body: Any
    task_name: str
    task_id: str | None = None
    retry_token: str | None = None
    redelivered: bool = False
    worker_host: str | None = None


class VerdictKind(StrEnum):
    """What the task does with the message once its audit row is committed."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RETRY_SCHEDULED = "retry_scheduled"
    DUPLICATE_DELIVERY = "duplicate_delivery"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The settled outcome of one attempt (already audited and committed)."""

    kind: VerdictKind
    outcome: Outcome
    command_id: str | None
    attempt: int
    response: dict[str, Any] | None = None
    error: PluginServiceError | None = None
    retry_at: datetime | None = None


@dataclass(slots=True)
class Work:
    """Everything known about one attempt so far."""

    delivery: Delivery
    now: datetime
    started: float = field(default_factory=time.perf_counter)
    raw: dict[str, Any] | None = None
    envelope: CommandEnvelope | None = None
    spec: OperationSpec | None = None
    payload: BaseModel | None = None
    attempt: int = 1
    failures: int = 0
    deferred_ms: int = 0
    series_start: int = 1
    history: list[dict[str, Any]] = field(default_factory=list)
    known_command: bool = False
    requested: tuple[str, ...] = ()
    granted: tuple[str, ...] = ()
    denied: tuple[str, ...] = ()
    rates: Mapping[str, RateLimit] = field(default_factory=dict)
    result: AdapterResult | None = None
    deduplicated: bool = False
    claimed: bool = False
    fingerprint: str = ""
    session: Session | None = None
    """The attempt's transaction: the command row is read in the one that commits it."""

    @property
    def command_id(self) -> str | None:
        """The command id, once authenticated."""
        return self.envelope.command_id if self.envelope else None

    @property
    def operation(self) -> str | None:
        """The operation, once authenticated."""
        return self.envelope.operation if self.envelope else None

    def elapsed_ms(self) -> int:
        """Milliseconds since the attempt started."""
        return int((time.perf_counter() - self.started) * 1000)
