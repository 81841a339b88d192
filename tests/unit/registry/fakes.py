"""An audit writer that remembers what it was asked to write."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from capgate.audit.events import AuditEvent
from capgate.registry.admin import RegistryAdmin

AdminFactory = Callable[..., RegistryAdmin]
"""Builds a RegistryAdmin for a session (the ``admin_in`` fixture)."""


class RecordedEvents(list[AuditEvent]):
    """Audit events in the order written; callable like the real recorder."""

    def __call__(self, session: Session, event: AuditEvent) -> None:
        assert session.in_transaction(), (
            "audit rows must be written inside the change's transaction"
        )
        self.append(event)

    def operations(self) -> list[str | None]:
        """The operation of each event."""
        return [event.operation for event in self]
