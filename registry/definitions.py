"""Definition creation, enforced: a definition may only need scopes its capability holds.

The seed's "enforce during definition creation": an action or trigger
definition that needs a scope its capability was not granted is refused
with PERMISSION ``scope_not_granted`` naming the missing scopes.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from capgate.contracts.errors import PluginServiceError
from capgate.database import utcnow
from capgate.registry.finders import get_capability, get_plugin
from capgate.registry.tables import CapabilityDefinition
from capgate.registry.validation import check_identifier, scope_of

__all__ = ["create_definition"]


def create_definition(
    session: Session,
    plugin_name: str,
    capability_key: str,
    definition_id: str,
    required_scopes: Iterable[str],
) -> CapabilityDefinition:
    """Store a definition of ``capability_key`` that needs ``required_scopes``.

    Raises ``PluginServiceError``: PERMISSION ``scope_not_granted`` (details:
    requested, granted, denied), NOT_FOUND ``unknown_plugin`` /
    ``unknown_capability``, VALIDATION ``unknown_scope``, ``invalid_identifier``
    or ``definition_exists``.
    """
    check_identifier(definition_id, "definition id")
    requested = sorted({scope_of(scope).value for scope in required_scopes})
    plugin = get_plugin(session, plugin_name)
    capability = get_capability(session, plugin, capability_key)
    granted = sorted(grant.scope for grant in capability.grants)
    denied = [scope for scope in requested if scope not in granted]
    if denied:
        raise PluginServiceError.permission(
            "scope_not_granted",
            f"definition {definition_id!r} needs {', '.join(denied)}, which capability "
            f"{capability_key!r} of {plugin_name!r} was not granted "
            f"(granted: {', '.join(granted) or 'none'})",
            details={
                "definition_id": definition_id,
                "capability_id": capability.id,
                "requested": requested,
                "granted": granted,
                "denied": denied,
            },
        )
    if session.get(CapabilityDefinition, definition_id) is not None:
        raise PluginServiceError.validation(
            "definition_exists", f"definition {definition_id!r} already exists"
        )
    definition = CapabilityDefinition(
        id=definition_id,
        capability_id=capability.id,
        required_scopes=" ".join(requested),
        created_at=utcnow(),
    )
    session.add(definition)
    session.flush()
    return definition
