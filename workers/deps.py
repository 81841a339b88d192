"""What the pipeline needs from the outside, handed over by the composition root."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from capgate.adapters.base import Handler
from capgate.audit.events import AuditEvent
from capgate.contracts.envelope import CommandEnvelope
from capgate.database import utcnow
from capgate.registry.rates import RateLimit
from capgate.workers.policy import PolicyBook
from capgate.workers.ratelimit import LimitStore
from capgate.workers.tokens import RetryTokens

__all__ = ["DeadLetterHook", "Grants", "PipelineDeps"]


@dataclass(frozen=True, slots=True)
class Grants:
    """What the registry says a command's capability may do, read server-side."""

    requested: tuple[str, ...]
    granted: tuple[str, ...]
    rates: Mapping[str, RateLimit]


class Authenticator(Protocol):
    """Checks the signature and identity; returns the verified envelope or raises."""

    def __call__(self, body: Any, now: datetime, *, scheduled: bool = False) -> CommandEnvelope: ...


class Authorizer(Protocol):
    """Checks scopes against grants; returns them or raises PERMISSION."""

    def __call__(self, envelope: CommandEnvelope) -> Grants: ...


DeadLetterHook = Callable[[dict[str, Any]], None]
"""Called after a dead letter commits, with its id, command id, operation and error."""


@dataclass(frozen=True, slots=True)
class PipelineDeps:
    """Everything one pipeline run touches."""

    sessions: sessionmaker[Session]
    authenticate: Authenticator
    authorize: Authorizer
    limiter: LimitStore
    handlers: Mapping[str, Handler]
    record_audit: Callable[[Session, AuditEvent], object]
    tokens: RetryTokens
    policies: PolicyBook = field(default_factory=PolicyBook)
    clock: Callable[[], datetime] = utcnow
    jitter: Callable[[], float] = random.random
    max_deliveries: int = 5
    external_operations: frozenset[str] = frozenset({"email.send"})
    dead_letter_hooks: tuple[DeadLetterHook, ...] = ()
    worker_host: str | None = None
