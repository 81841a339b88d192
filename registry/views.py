"""Read-only views of the registry for operators (``capgate plugins list/show``).

Nothing here carries a key secret: keys are shown by id and state only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capgate.registry.finders import get_plugin
from capgate.registry.tables import Capability, Plugin, SigningKey

__all__ = [
    "CapabilityView",
    "GrantView",
    "KeyView",
    "PluginSummary",
    "PluginView",
    "list_plugins",
    "show_plugin",
]


@dataclass(frozen=True, slots=True)
class PluginSummary:
    """One line of ``capgate plugins list``."""

    id: str
    name: str
    status: str
    created_at: datetime
    capabilities: int
    active_keys: int


@dataclass(frozen=True, slots=True)
class GrantView:
    """A granted scope and its rate limit (None: unlimited)."""

    scope: str
    rate_limit: str | None


@dataclass(frozen=True, slots=True)
class CapabilityView:
    """A capability with its grants."""

    id: str
    key: str
    kind: str
    grants: tuple[GrantView, ...]


@dataclass(frozen=True, slots=True)
class KeyView:
    """A signing key's id and times (never its secret)."""

    id: str
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """``active``, ``revoking`` (revocation scheduled) or ``revoked``."""
        if self.revoked_at is None:
            return "active"
        return "revoked" if self.revoked_at <= now else "revoking"


@dataclass(frozen=True, slots=True)
class PluginView:
    """Everything ``capgate plugins show`` prints."""

    id: str
    name: str
    status: str
    created_at: datetime
    capabilities: tuple[CapabilityView, ...]
    keys: tuple[KeyView, ...]


def list_plugins(session: Session, now: datetime) -> list[PluginSummary]:
    """Every plugin, by name, with counts of capabilities and unrevoked keys."""
    capabilities = select(func.count()).where(Capability.plugin_id == Plugin.id).scalar_subquery()
    active_keys = (
        select(func.count())
        .where(SigningKey.plugin_id == Plugin.id)
        .where((SigningKey.revoked_at.is_(None)) | (SigningKey.revoked_at > now))
        .scalar_subquery()
    )
    rows = session.execute(select(Plugin, capabilities, active_keys).order_by(Plugin.name))
    return [
        PluginSummary(plugin.id, plugin.name, plugin.status, plugin.created_at, caps, keys)
        for plugin, caps, keys in rows
    ]


def show_plugin(session: Session, name: str) -> PluginView:
    """The plugin ``name`` with its capabilities, grants and keys."""
    plugin = get_plugin(session, name)
    return PluginView(
        id=plugin.id,
        name=plugin.name,
        status=plugin.status,
        created_at=plugin.created_at,
        capabilities=tuple(
            CapabilityView(
                capability.id,
                capability.key,
                capability.kind,
                tuple(GrantView(grant.scope, grant.rate_limit) for grant in capability.grants),
            )
            for capability in plugin.capabilities
        ),
        keys=tuple(
            KeyView(key.id, key.created_at, key.rotated_at, key.revoked_at) for key in plugin.keys
        ),
    )
