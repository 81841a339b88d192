"""The worker's view of the registry: read from the database, cached for a short TTL.

Grants and keys are read when a command executes, not when it was sent: a
grant revoked or a key revoked while a command waits in the queue denies it.
Each answer (including "unknown") is cached for ``ttl`` seconds
(:data:`DEFAULT_TTL_SECONDS`, 5 s), so a change takes effect on every worker
within that time; ``ttl=0`` disables the cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from pydantic import SecretStr
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from capgate.contracts.errors import PluginServiceError
from capgate.registry.lookups import CapabilityRecord, KeyRecord, PluginRecord
from capgate.registry.rates import parse_rate
from capgate.registry.sealing import KeySealer, UnsealError
from capgate.registry.tables import Capability, Plugin, SigningKey

__all__ = ["DEFAULT_TTL_SECONDS", "RegistryReader"]

DEFAULT_TTL_SECONDS = 5.0
"""How long a registry answer is reused before the database is asked again."""

_MAX_ENTRIES = 10_000
T = TypeVar("T")


class _TtlCache(Generic[T]):
    """A bounded map whose entries expire; the oldest go first when it is full.

    Bounded because ids come from untrusted messages: a flood of random key
    ids must not grow worker memory.
    """

    def __init__(self, ttl: float, clock: Callable[[], float], max_entries: int) -> None:
        self._ttl, self._clock, self._max = ttl, clock, max_entries
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], T]) -> T:
        now = self._clock()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        value = load()
        if self._ttl > 0:
            with self._lock:
                self._entries[key] = (now + self._ttl, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class RegistryReader:
    """Implements ``KeyLookup`` and ``GrantLookup`` on the registry tables."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        secret: SecretStr | str,
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = _MAX_ENTRIES,
    ) -> None:
        self._sessions = session_factory
        self._sealer = KeySealer(secret)
        self._keys: _TtlCache[KeyRecord | None] = _TtlCache(ttl, clock, max_entries)
        self._plugins: _TtlCache[PluginRecord | None] = _TtlCache(ttl, clock, max_entries)
        self._capabilities: _TtlCache[CapabilityRecord | None] = _TtlCache(ttl, clock, max_entries)

    def key(self, key_id: str) -> KeyRecord | None:
        """The key ``key_id`` with its secret opened, or None if unknown."""
        return self._keys.get(key_id, lambda: self._read(self._load_key, key_id))

    def plugin(self, plugin_id: str) -> PluginRecord | None:
        """The plugin ``plugin_id``, or None if unknown."""
        return self._plugins.get(plugin_id, lambda: self._read(self._load_plugin, plugin_id))

    def capability(self, capability_id: str) -> CapabilityRecord | None:
        """The capability with its scopes and rate limits, or None if unknown."""
        return self._capabilities.get(
            capability_id, lambda: self._read(self._load_capability, capability_id)
        )

    def invalidate(self) -> None:
        """Forget every cached answer (tests; a worker told of a change)."""
        for cache in (self._keys, self._plugins, self._capabilities):
            cache.clear()

    def _read(self, load: Callable[[Session, str], T], ident: str) -> T:
        try:
            with self._sessions() as session:
                return load(session, ident)
        except SQLAlchemyError as exc:
            # The registry is the database: an outage is temporary, retry later.
            raise PluginServiceError.retryable(
                "registry_unavailable", f"registry lookup failed: {type(exc).__name__}"
            ) from exc

    def _load_key(self, session: Session, key_id: str) -> KeyRecord | None:
        row = session.get(SigningKey, key_id)
        if row is None:
            return None
        try:
            secret = self._sealer.open(row.id, row.sealed_secret)
        except UnsealError as exc:
            # Wrong server secret or a tampered row: retrying will not help.
            raise PluginServiceError.fatal(
                "signing_key_unreadable", str(exc), details={"key_id": row.id}
            ) from exc
        return KeyRecord(row.id, row.plugin_id, secret, row.revoked_at)

    @staticmethod
    def _load_plugin(session: Session, plugin_id: str) -> PluginRecord | None:
        row = session.get(Plugin, plugin_id)
        return None if row is None else PluginRecord(row.id, row.name, row.status)

    @staticmethod
    def _load_capability(session: Session, capability_id: str) -> CapabilityRecord | None:
        row = session.get(Capability, capability_id)
        if row is None:
            return None
        limits = {g.scope: parse_rate(g.rate_limit) for g in row.grants if g.rate_limit}
        return CapabilityRecord(
            capability_id=row.id,
            plugin_id=row.plugin_id,
            key=row.key,
            kind=row.kind,
            scopes=frozenset(g.scope for g in row.grants),
            rate_limits=limits,
        )
