"""What the authenticate and authorize steps read: records and the two lookup ports.

:class:`RegistryReader` (database, cached) implements both ports for the
worker; :class:`StaticRegistry` is the in-memory fake for unit tests and the
demo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from capgate.registry.rates import RateLimit

__all__ = [
    "CapabilityRecord",
    "GrantLookup",
    "KeyLookup",
    "KeyRecord",
    "PluginRecord",
    "StaticRegistry",
]


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A signing key with its secret in clear (held in memory only, never printed)."""

    key_id: str
    plugin_id: str
    secret: str = field(repr=False)
    revoked_at: datetime | None = None

    def is_revoked(self, now: datetime) -> bool:
        """True once the revocation time has passed (a future one is a rotation's grace)."""
        return self.revoked_at is not None and self.revoked_at <= now


@dataclass(frozen=True, slots=True)
class PluginRecord:
    """A plugin's identity and status."""

    plugin_id: str
    name: str
    status: str

    @property
    def is_active(self) -> bool:
        """True when the plugin's commands are accepted."""
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class CapabilityRecord:
    """A capability, its granted scopes and each scope's rate limit (absent: unlimited)."""

    capability_id: str
    plugin_id: str
    key: str
    kind: str
    scopes: frozenset[str]
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)


class KeyLookup(Protocol):
    """Signing keys and plugins, as authenticate needs them."""

    def key(self, key_id: str) -> KeyRecord | None:
        """The key ``key_id`` (revoked ones too), or None if unknown."""
        ...

    def plugin(self, plugin_id: str) -> PluginRecord | None:
        """The plugin ``plugin_id``, or None if unknown."""
        ...


class GrantLookup(Protocol):
    """Capabilities and their grants, as authorize needs them."""

    def capability(self, capability_id: str) -> CapabilityRecord | None:
        """The capability ``capability_id`` with its grants, or None if unknown."""
        ...


@dataclass
class StaticRegistry:
    """An in-memory registry implementing both lookups (tests, the demo)."""

    keys: dict[str, KeyRecord] = field(default_factory=dict)
    plugins: dict[str, PluginRecord] = field(default_factory=dict)
    capabilities: dict[str, CapabilityRecord] = field(default_factory=dict)

    def key(self, key_id: str) -> KeyRecord | None:
        """The key ``key_id`` or None."""
        return self.keys.get(key_id)

    def plugin(self, plugin_id: str) -> PluginRecord | None:
        """The plugin ``plugin_id`` or None."""
        return self.plugins.get(plugin_id)

    def capability(self, capability_id: str) -> CapabilityRecord | None:
        """The capability ``capability_id`` or None."""
        return self.capabilities.get(capability_id)
