"""Operator changes to the registry, each audited in the same transaction.

:class:`RegistryAdmin` works inside the caller's session: the change and its
audit row (execution kind ``lifecycle``, operation ``plugins.<verb>``) commit
together or not at all. New key secrets are returned once, in an
:class:`IssuedKey`, and stored only sealed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from capgate.audit.events import AuditEvent, Outcome
from capgate.contracts.context import ExecutionKind
from capgate.contracts.errors import PluginServiceError
from capgate.database import utcnow
from capgate.registry.finders import find_key, get_capability, get_plugin
from capgate.registry.rates import parse_rate
from capgate.registry.sealing import KeySealer, new_key_secret
from capgate.registry.tables import (
    Capability,
    CapabilityGrant,
    Plugin,
    PluginStatus,
    SigningKey,
)
from capgate.registry.validation import check_identifier, check_plugin_name, scope_of

__all__ = ["AuditWriter", "IssuedKey", "RegistryAdmin"]

AuditWriter = Callable[[Session, AuditEvent], object]
"""Writes one audit row inside the given session (``capgate.audit``'s recorder)."""


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A plugin's new signing key; the secret is shown to the operator once."""

    plugin_id: str
    plugin_name: str
    key_id: str
    secret: str = field(repr=False)


def _rate_text(rate: str | None) -> str | None:
    if rate is None:
        return None
    try:
        return str(parse_rate(rate))
    except ValueError as exc:
        raise PluginServiceError.validation("invalid_rate", str(exc)) from None


class RegistryAdmin:
    """Plugin lifecycle changes made by ``actor`` inside ``session``."""

    def __init__(
        self,
        session: Session,
        *,
        sealer: KeySealer,
        audit: AuditWriter,
        actor: str,
        reason: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._session = session
        self._sealer = sealer
        self._audit = audit
        self._actor = actor
        self._reason = reason
        self._clock = clock

    def add_plugin(self, name: str) -> IssuedKey:
        """Register plugin ``name`` (active) with a first signing key."""
        check_plugin_name(name)
        if self._session.query(Plugin).filter_by(name=name).one_or_none() is not None:
            raise PluginServiceError.validation(
                "plugin_exists", f"a plugin named {name!r} already exists"
            )
        plugin = Plugin(id=str(uuid.uuid4()), name=name, status=PluginStatus.ACTIVE.value)
        plugin.created_at = self._clock()
        self._session.add(plugin)
        self._session.flush()
        issued = self._new_key(plugin)
        self._record("plugins.add", plugin, key_id=issued.key_id)
        return issued

    def set_status(self, name: str, status: PluginStatus) -> Plugin:
        """Enable or disable a plugin (a disabled plugin's commands are refused)."""
        plugin = get_plugin(self._session, name)
        previous, plugin.status = plugin.status, status.value
        verb = "enable" if status is PluginStatus.ACTIVE else "disable"
        self._record(f"plugins.{verb}", plugin, summary={"previous_status": previous})
        return plugin

    def grant(
        self,
        name: str,
        capability_key: str,
        scope: str,
        *,
        rate: str | None = None,
        kind: ExecutionKind | None = None,
    ) -> Capability:
        """Grant ``scope`` to the capability (created if needed), with an optional rate."""
        plugin = get_plugin(self._session, name)
        scope_value = scope_of(scope).value
        rate_text = _rate_text(rate)
        capability = self._capability(plugin, capability_key, kind)
        existing = self._session.get(CapabilityGrant, (capability.id, scope_value))
        if existing is None:
            existing = CapabilityGrant(scope=scope_value, granted_at=self._clock())
            capability.grants.append(existing)
        existing.rate_limit = rate_text
        self._record(
            "plugins.grant",
            plugin,
            capability=capability,
            granted=(scope_value,),
            summary={"rate_limit": rate_text, "kind": capability.kind},
        )
        return capability

    def revoke(self, name: str, capability_key: str, scope: str) -> Capability:
        """Withdraw ``scope`` from the capability; waiting commands will be denied."""
        plugin = get_plugin(self._session, name)
        scope_value = scope_of(scope).value
        capability = get_capability(self._session, plugin, capability_key)
        grant = self._session.get(CapabilityGrant, (capability.id, scope_value))
        if grant is None:
            raise PluginServiceError.not_found(
                "grant_not_found",
                f"capability {capability_key!r} of {name!r} has no grant of {scope_value!r}",
            )
        capability.grants.remove(grant)
        self._record("plugins.revoke", plugin, capability=capability, denied=(scope_value,))
        return capability

    def rotate_key(self, name: str, *, revoke_old_after: timedelta | None = None) -> IssuedKey:
        """Issue a new key; old keys stay valid until ``revoke_old_after`` (None: until revoked)."""
        plugin = get_plugin(self._session, name)
        now = self._clock()
        old = [key for key in plugin.keys if not key.is_revoked(now)]
        issued = self._new_key(plugin)
        for key in old:
            key.rotated_at = now
            if revoke_old_after is not None:
                key.revoked_at = now + revoke_old_after
        summary: dict[str, Any] = {"old_key_ids": [key.id for key in old]}
        if revoke_old_after is not None:
            summary["old_keys_revoked_at"] = (now + revoke_old_after).isoformat()
        self._record("plugins.rotate_key", plugin, key_id=issued.key_id, summary=summary)
        return issued

    def revoke_key(self, key_id: str) -> SigningKey:
        """Revoke a key now (also brings a scheduled revocation forward)."""
        key = find_key(self._session, key_id)
        now = self._clock()
        if key.revoked_at is None or key.revoked_at > now:
            key.revoked_at = now
        plugin = self._session.get_one(Plugin, key.plugin_id)
        self._record("plugins.revoke_key", plugin, key_id=key.id)
        return key

    # -- helpers ---------------------------------------------------------------------

    def _capability(self, plugin: Plugin, key: str, kind: ExecutionKind | None) -> Capability:
        check_identifier(key, "capability key")
        found = self._session.query(Capability).filter_by(plugin_id=plugin.id, key=key)
        capability = found.one_or_none()
        if capability is None:
            capability = Capability(
                id=str(uuid.uuid4()),
                plugin_id=plugin.id,
                key=key,
                kind=(kind or ExecutionKind.ACTION).value,
                created_at=self._clock(),
            )
            self._session.add(capability)
            self._session.flush()
        elif kind is not None and kind.value != capability.kind:
            raise PluginServiceError.validation(
                "capability_kind_conflict",
                f"capability {key!r} is of kind {capability.kind!r}, not {kind.value!r}",
            )
        return capability

    def _new_key(self, plugin: Plugin) -> IssuedKey:
        key_id = f"key-{uuid.uuid4().hex}"
        secret = new_key_secret()
        key = SigningKey(
            id=key_id,
            plugin_id=plugin.id,
            sealed_secret=self._sealer.seal(key_id, secret),
            created_at=self._clock(),
        )
        plugin.keys.append(key)
        self._session.flush()
        return IssuedKey(plugin_id=plugin.id, plugin_name=plugin.name, key_id=key_id, secret=secret)

    def _record(
        self,
        operation: str,
        plugin: Plugin,
        *,
        capability: Capability | None = None,
        key_id: str | None = None,
        granted: tuple[str, ...] = (),
        denied: tuple[str, ...] = (),
        summary: dict[str, Any] | None = None,
    ) -> None:
        event = AuditEvent(
            outcome=Outcome.SUCCEEDED,
            execution_kind=ExecutionKind.LIFECYCLE.value,
            operation=operation,
            plugin_name=plugin.name,
            plugin_id=plugin.id,
            capability_id=capability.id if capability else None,
            capability_key=capability.key if capability else None,
            key_id=key_id,
            granted_scopes=granted,
            denied_scopes=denied,
            actor_id=self._actor,
            reason=self._reason,
            request_summary=summary or {},
        )
        self._session.flush()
        self._audit(self._session, event)
