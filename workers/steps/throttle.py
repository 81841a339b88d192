"""Step: apply the capability's rate limits and any provider's shared back-off."""

from __future__ import annotations

from capgate.contracts.errors import PluginServiceError
from capgate.workers.deps import PipelineDeps
from capgate.workers.work import Work

__all__ = ["provider_key", "throttle"]


def provider_key(work: Work) -> str | None:
    """The provider an email command will use, as the back-off key ('active' if unnamed)."""
    if work.envelope is None or work.envelope.operation != "email.send":
        return None
    named = getattr(work.payload, "provider", None)
    return f"email:{named or 'active'}"


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
    provider = provider_key(work)
    if provider is not None:
        blocked = deps.limiter.blocked_for(provider)
        if blocked > 0:
            raise PluginServiceError.rate_limit(
                "provider_backoff",
                f"{provider} asked every worker to back off",
                retry_after_ms=blocked,
                details={"provider": provider},
            )
