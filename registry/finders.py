"""Find registry rows by what operators type, or fail with a clear NOT_FOUND error."""

from __future__ import annotations

from sqlalchemy.orm import Session

from capgate.contracts.errors import PluginServiceError
from capgate.registry.tables import Capability, Plugin, SigningKey

__all__ = ["find_key", "get_capability", "get_plugin"]


def get_plugin(session: Session, name: str) -> Plugin:
    """The plugin called ``name``; ``unknown_plugin`` if there is none."""
    plugin = session.query(Plugin).filter_by(name=name).one_or_none()
    if plugin is None:
        raise PluginServiceError.not_found(
            "unknown_plugin", f"no plugin named {name!r}", details={"plugin_name": name}
        )
    return plugin


def get_capability(session: Session, plugin: Plugin, key: str) -> Capability:
    """The capability ``key`` of ``plugin``; ``unknown_capability`` if there is none."""
    capability = session.query(Capability).filter_by(plugin_id=plugin.id, key=key).one_or_none()
    if capability is None:
        raise PluginServiceError.not_found(
            "unknown_capability",
            f"plugin {plugin.name!r} has no capability {key!r}",
            details={"plugin_name": plugin.name, "capability_key": key},
        )
    return capability


def find_key(session: Session, key_id: str) -> SigningKey:
    """The signing key ``key_id``; ``unknown_key`` if there is none."""
    key = session.get(SigningKey, key_id)
    if key is None:
        raise PluginServiceError.not_found(
            "unknown_key", f"no signing key {key_id!r}", details={"key_id": key_id}
        )
    return key
