"""One enable/disable handler for every switchable resource.

``ResourceToggle("bundles", enabled=False)`` is the handler of
``bundles.disable``; the six resources differ only by their table
(:data:`capgate.adapters.resource_tables.TOGGLEABLE`). Toggling is
idempotent: switching a resource to the state it is in changes nothing,
writes no change-log row and answers ``changed: false``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

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
        self._model: Any = TOGGLEABLE[service_key]
        self._type = RESOURCE_TYPES[service_key]
        self._enabled = enabled

    def __repr__(self) -> str:
        verb = "enable" if self._enabled else "disable"
        return f"ResourceToggle({self._type}, {verb})"

    def __call__(self, invocation: Invocation) -> AdapterResult:
        """Switch the resource; NOT_FOUND ``<type>_not_found`` for an unknown id."""
        payload = payload_of(invocation, ToggleResource)
        # Lock the row (PostgreSQL) so concurrent toggles serialise and only
        # the one that really changes it writes a change-log row.
        query = select(self._model).where(self._model.id == payload.resource_id).with_for_update()
        row = invocation.session.scalars(query).first()
        if row is None:
            raise PluginServiceError.not_found(
                f"{self._type}_not_found", f"no {self._type} with id {payload.resource_id!r}"
            )
        changed = row.enabled != self._enabled
        if changed:
            before = {"enabled": row.enabled}
            row.enabled, row.updated_at = self._enabled, invocation.now
            record_change(
                invocation,
                resource_type=self._type,
                resource_id=row.id,
                action="enable" if self._enabled else "disable",
                before=before,
                after={"enabled": self._enabled},
            )
            invocation.session.flush()
        response = {"resource_id": row.id, "enabled": self._enabled, "changed": changed}
        return AdapterResult(response, self._type, row.id)
