"""The shared provider back-off: one provider's 429 makes every worker wait.

The email adapter asks the gate before it sends through a provider, and
tells it when the provider answered "too many requests". It is keyed by the
provider's registered name, which only the adapter knows for certain (a
command may name the provider or use the active one). The worker's rate
limiter (``capgate.workers.ratelimit``) is the production gate: Redis, so
every worker sees the block.
"""

from __future__ import annotations

import logging
from typing import Protocol

from capgate.contracts.errors import ErrorKind, PluginServiceError

__all__ = ["OpenGate", "ProviderGate", "check_gate", "gate_key", "share_backoff"]

log = logging.getLogger(__name__)


class ProviderGate(Protocol):
    """Where provider blocks live (a ``LimitStore`` is one)."""

    def blocked_for(self, provider: str) -> int:
        """Milliseconds ``provider`` is still blocked (0 if not)."""
        ...

    def block(self, provider: str, duration_ms: int) -> None:
        """Block ``provider`` for ``duration_ms`` (the longest block wins)."""
        ...


class OpenGate:
    """A gate that never blocks: tests and single-shot tools."""

    def blocked_for(self, provider: str) -> int:
        """Never blocked."""
        return 0

    def block(self, provider: str, duration_ms: int) -> None:
        """Nothing to remember."""


def gate_key(provider_name: str) -> str:
    """The gate key of an email provider."""
    return f"email:{provider_name}"


def check_gate(gate: ProviderGate, provider_name: str) -> None:
    """Raise RATE_LIMIT ``provider_backoff`` while the provider is blocked."""
    wait = gate.blocked_for(gate_key(provider_name))
    if wait > 0:
        raise PluginServiceError.rate_limit(
            "provider_backoff",
            f"provider {provider_name!r} asked every worker to back off",
            retry_after_ms=wait,
            details={"provider": provider_name},
        )


def share_backoff(gate: ProviderGate, provider_name: str, error: PluginServiceError) -> None:
    """After a provider's RATE_LIMIT answer, block it for every worker."""
    if error.kind is not ErrorKind.RATE_LIMIT:
        return
    try:
        gate.block(gate_key(provider_name), error.retry_after_ms or 1_000)
    except PluginServiceError:
        # The 429 itself still reaches the retry policy; only sharing failed.
        log.warning("could not share back-off of %s: gate unavailable", provider_name)
