"""Step: apply the capability's rate limits (per plugin, capability and scope).

A provider's own back-off (after a 429) is the email adapter's business: only
it knows which provider a command really uses (``adapters/email/gate.py``).
"""

from __future__ import annotations

from capgate.contracts.errors import PluginServiceError
from capgate.workers.deps import PipelineDeps
from capgate.workers.work import Work

__all__ = ["throttle"]


def _holds_reservation(work: Work) -> bool:
    """True when the last attempt was deferred by our limiter, which reserved this slot."""
    if not work.history:
        return False
    last = work.history[-1]
    return bool(last.get("outcome") == "rate_limited" and last.get("error_code") == "rate_limited")


def throttle(work: Work, deps: PipelineDeps) -> None:
    """Take a slot per limited scope (plugin, capability, scope), or raise RATE_LIMIT."""
    assert work.envelope is not None
    context = work.envelope.context
    for scope in () if _holds_reservation(work) else work.requested:
        rate = work.rates.get(scope)
        if rate is None:
            continue
        key = f"{context.plugin_id}:{context.capability_id}:{scope}"
        wait = deps.limiter.acquire(key, rate)
        if wait > 0:
            raise PluginServiceError.rate_limit(
                "rate_limited",
                f"{scope} is limited to {rate} for this capability",
                retry_after_ms=wait,
                details={"scope": scope, "rate": str(rate)},
            )
