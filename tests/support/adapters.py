"""Helpers for adapter tests: a context, an invocation, a migrated session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from capgate.adapters.base import Invocation
from capgate.contracts.context import ExecutionKind, PluginServiceContext
from capgate.database import make_session_factory

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "test-server-secret-with-at-least-32-characters"


def context(plugin_id: str = "plugin-a", capability_id: str = "cap-a") -> PluginServiceContext:
    """A context from ``plugin_id``'s capability ``capability_id``."""
    return PluginServiceContext(
        plugin_name=plugin_id.replace("plugin-", "p-"),
        plugin_id=plugin_id,
        capability_id=capability_id,
        capability_key="key",
        execution_kind=ExecutionKind.ACTION,
        timestamp=NOW,
    )


def invocation(
    session: Session,
    operation: str,
    payload: BaseModel,
    *,
    plugin_id: str = "plugin-a",
    capability_id: str = "cap-a",
    command_id: str = "cmd-1",
    attempt: int = 1,
    now: datetime = NOW,
) -> Invocation:
    """One attempt of ``operation`` with ``payload``."""
    return Invocation(
        command_id=command_id,
        operation=operation,
        payload=payload,
        context=context(plugin_id, capability_id),
        session=session,
        attempt=attempt,
        now=now,
    )


def open_session(engine: Engine) -> Iterator[Session]:
    """A session on ``engine`` whose work is rolled back after the test."""
    session = make_session_factory(engine)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
