"""One enable/disable handler for every switchable resource.

``ResourceToggle("bundles", enabled=False)`` is the handler of
``bundles.disable``; the six resources differ only by their table
(:data:`capgate.adapters.resource_tables.TOGGLEABLE`). Toggling is
idempotent: switching a resource to the state it is in changes nothing,
writes no change-log row and answers ``changed: false``.

The switch is one conditional ``UPDATE ... RETURNING`` in Core rather than
an ORM load, change and flush: it takes the row lock itself (concurrent
toggles serialise on it and only the one that really changes the row
writes a change-log row), and it costs one round trip and a fraction of
the CPU of the ORM path, which was a quarter of a worker's time per
command (docs/performance.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, select, update

from capgate.adapters.base import AdapterResult, Invocation
from capgate.adapters.change_log import record_change
from capgate.adapters.payloads import payload_of
from capgate.adapters.resource_tables import TOGGLEABLE
from capgate.contracts.errors import PluginServiceError
from capgate.contracts.toggles import ToggleResource

__all__ = ["RESOURCE_TYPES", "ResourceToggle"]

RESOURCE_TYPES: dict[str, str] = {
    "bundles": "bundle",
    "bundle_assignments": "bundle_assignment",
    "recipients": "recipient",
    "actions": "action_definition",
    "triggers": "trigger_definition",
    "pipelines": "pipeline",
}
"""Service key -> the resource type named in audit and change-log rows."""


class ResourceToggle:
    """The handler of ``<service_key>.enable`` or ``<service_key>.disable``."""

    def __init__(self, service_key: str, *, enabled: bool) -> None:
        """``service_key`` is one of :data:`RESOURCE_TYPES`."""
        model: Any = TOGGLEABLE[service_key]
        table: Table = model.__table__
        self._type = RESOURCE_TYPES[service_key]
        self._enabled = enabled
        # Built once: only the values change from one command to the next.
        self._switch = (
            update(table)
            .where(table.c.id == bindparam("resource_id"), table.c.enabled != enabled)
            .values(enabled=enabled, updated_at=bindparam("now"))
            .returning(table.c.id)
        )
        self._exists = select(table.c.id).where(table.c.id == bindparam("resource_id"))

    def __repr__(self) -> str:
        verb = "enable" if self._enabled else "disable"
        return f"ResourceToggle({self._type}, {verb})"

    def __call__(self, invocation: Invocation) -> AdapterResult:
        """Switch the resource; NOT_FOUND ``<type>_not_found`` for an unknown id."""
        payload = payload_of(invocation, ToggleResource)
        session = invocation.session
        params: dict[str, Any] = {"resource_id": payload.resource_id, "now": invocation.now}
        changed = session.execute(self._switch, params).first() is not None
        if changed:
            record_change(
                invocation,
                resource_type=self._type,
                resource_id=payload.resource_id,
                action="enable" if self._enabled else "disable",
                before={"enabled": not self._enabled},
                after={"enabled": self._enabled},
            )
        elif session.execute(self._exists, params).first() is None:
            raise PluginServiceError.not_found(
                f"{self._type}_not_found", f"no {self._type} with id {payload.resource_id!r}"
            )
        resource_id = payload.resource_id
        response = {"resource_id": resource_id, "enabled": self._enabled, "changed": changed}
        return AdapterResult(response, self._type, resource_id)
