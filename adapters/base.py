"""The port every operation handler implements, and what it gets and returns.

The worker pipeline validates the payload against the operation's model,
opens one unit of work, and calls the handler with an :class:`Invocation`.
A handler that changes the database does so through ``invocation.session``
and never commits: the pipeline commits the change, the audit row and the
idempotency record together. A handler raises only ``PluginServiceError``;
vendor exceptions are translated inside the adapter (one table per adapter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from capgate.contracts.context import PluginServiceContext

__all__ = ["AdapterResult", "Handler", "Invocation"]


@dataclass(frozen=True, slots=True)
class Invocation:
    """One attempt of one command, as a handler sees it."""

    command_id: str
    operation: str
    payload: BaseModel
    context: PluginServiceContext
    session: Session
    attempt: int
    now: datetime


@dataclass(frozen=True, slots=True)
class AdapterResult:
    """What a handler returns: the caller's result and what the audit row names.

    ``response`` goes back to the plugin (and, summarised, into the audit
    row), so it must be JSON-compatible and must not hold a secret.
    """

    response: dict[str, Any] = field(default_factory=dict)
    resource_type: str | None = None
    resource_id: str | None = None


Handler = Callable[[Invocation], AdapterResult]
