"""Helpers for the audit tests: events, and tampering behind the triggers' back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text

from capgate.audit.events import AuditEvent, Outcome

SECRET = "audit-test-secret-0123456789abcdefghij"


def event(**fields: Any) -> AuditEvent:
    """An event with plausible worker fields; keyword arguments override."""
    values: dict[str, Any] = {
        "outcome": Outcome.SUCCEEDED,
        "command_id": "cmd-1",
        "plugin_name": "digest",
        "plugin_id": "plg-1",
        "capability_id": "cap-1",
        "capability_key": "weekly",
        "execution_kind": "action",
        "operation": "email.send",
        "service_key": "email_providers",
        "correlation_id": "corr-1",
        "requested_scopes": ("email:send",),
        "granted_scopes": ("email:send",),
        "worker_host": "worker-a",
        "task_id": "task-1",
        "duration_ms": 12,
    }
    values.update(fields)
    return AuditEvent(**values)


@contextmanager
def behind_the_triggers(engine: Engine) -> Iterator[Connection]:
    """A transaction in which the append-only triggers do not fire (an attacker's view)."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # A superuser can do this; the chain must still catch what follows.
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            yield connection
            return
        names = connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        ).all()
        for name, _sql in names:
            connection.execute(text(f'DROP TRIGGER "{name}"'))
        yield connection
        for _name, sql in names:
            connection.execute(text(sql))
