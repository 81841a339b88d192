"""Rate limits shared by all workers: GCRA in Redis, on the Redis server's clock.

One key per (plugin, capability, scope) holds a "theoretical arrival time".
The Lua script reads the server's ``TIME`` so workers with skewed clocks
agree, and is atomic, so concurrent workers cannot both take the last slot.
A rate of ``N/period`` (``capgate.registry.rates.RateLimit``) allows a burst
of N and then one every period/N.

A caller told to wait has its slot *reserved* at the time it is told: the
retry runs then without asking again. Without the reservation, every
deferred command would come back at the same moment and all but one would
be deferred again (a thundering herd that never drains).

A provider that answers 429 sets a shared "blocked until" for itself, so
every worker backs off, not only the one that was told.

If the store is down, privileged operations fail closed: RETRYABLE
``rate_limiter_unavailable``. :class:`MemoryLimitStore` is the same
algorithm in process memory, for the embedded demo and unit tests.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from capgate.contracts.errors import PluginServiceError
from capgate.registry.rates import RateLimit

__all__ = ["LimitStore", "MemoryLimitStore", "RedisLimitStore", "interval_ms"]

_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, new_tat - now))
if allow_at > now then return allow_at - now end
return 0
"""

_BLOCK = """
local current = redis.call('PTTL', KEYS[1])
if current < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
"""


def interval_ms(rate: RateLimit) -> int:
    """Time between calls once the burst is used."""
    return max(1, rate.period_seconds * 1000 // rate.count)


class LimitStore(Protocol):
    """Where limits and provider blocks live."""

    def acquire(self, key: str, rate: RateLimit) -> int:
        """Take a slot under ``rate``: 0 if it is now, else the ms until the reserved slot."""
        ...

    def block(self, provider: str, duration_ms: int) -> None:
        """Record that ``provider`` must not be called for ``duration_ms``."""
        ...

    def blocked_for(self, provider: str) -> int:
        """How many ms ``provider`` is still blocked (0 if not)."""
        ...


def _unavailable(exc: Exception) -> PluginServiceError:
    return PluginServiceError.retryable(
        "rate_limiter_unavailable",
        "the rate-limit store is unreachable; refusing to run unthrottled",
        retry_after_ms=5_000,
        details={"error": type(exc).__name__},
    )


class RedisLimitStore:
    """Limits in Redis, shared by every worker."""

    def __init__(self, client: Any, *, prefix: str = "capgate:") -> None:
        self._client = client
        self._prefix = prefix
        self._gcra = client.register_script(_GCRA)
        self._block = client.register_script(_BLOCK)

    def acquire(self, key: str, rate: RateLimit) -> int:
        """See :meth:`LimitStore.acquire`."""
        try:
            wait = self._gcra(
                keys=[f"{self._prefix}rl:{key}"],
                args=[interval_ms(rate), rate.period_seconds * 1000],
            )
        except Exception as exc:
            raise _unavailable(exc) from exc
        return int(wait)

    def block(self, provider: str, duration_ms: int) -> None:
        """See :meth:`LimitStore.block`."""
        try:
            self._block(keys=[f"{self._prefix}blocked:{provider}"], args=[max(1, duration_ms)])
        except Exception as exc:
            raise _unavailable(exc) from exc

    def blocked_for(self, provider: str) -> int:
        """See :meth:`LimitStore.blocked_for`."""
        try:
            ttl = int(self._client.pttl(f"{self._prefix}blocked:{provider}"))
        except Exception as exc:
            raise _unavailable(exc) from exc
        return max(ttl, 0)


class MemoryLimitStore:
    """The same GCRA in process memory (one process only: demo and tests)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._tat: dict[str, int] = {}
        self._blocked: dict[str, int] = {}
        self._lock = threading.Lock()

    def _now(self) -> int:
        return int(self._clock() * 1000)

    def acquire(self, key: str, rate: RateLimit) -> int:
        """See :meth:`LimitStore.acquire`."""
        with self._lock:
            now = self._now()
            tat = max(self._tat.get(key, now), now)
            new_tat = tat + interval_ms(rate)
            self._tat[key] = new_tat
            return max(new_tat - rate.period_seconds * 1000 - now, 0)

    def block(self, provider: str, duration_ms: int) -> None:
        """See :meth:`LimitStore.block`."""
        with self._lock:
            until = self._now() + duration_ms
            self._blocked[provider] = max(self._blocked.get(provider, 0), until)

    def blocked_for(self, provider: str) -> int:
        """See :meth:`LimitStore.blocked_for`."""
        with self._lock:
            return max(self._blocked.get(provider, 0) - self._now(), 0)
