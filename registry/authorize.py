"""The worker's authorize step: does the calling capability hold every scope the operation needs?

The scopes come from the catalog (``capgate.contracts.catalog``) and the
grants from the registry at execution time; nothing the message claims
about its permissions is used. Run it on an authenticated context only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from capgate.contracts.context import PluginServiceContext
from capgate.contracts.errors import PluginServiceError
from capgate.registry.lookups import CapabilityRecord, GrantLookup
from capgate.registry.rates import RateLimit

__all__ = ["ScopeDecision", "authorize"]


@dataclass(frozen=True, slots=True)
class ScopeDecision:
    """What was needed, what the capability holds and what is missing (sorted)."""

    requested: tuple[str, ...]
    granted: tuple[str, ...]
    denied: tuple[str, ...]
    capability: CapabilityRecord

    @property
    def allowed(self) -> bool:
        """True when nothing requested is missing."""
        return not self.denied

    @property
    def rate_limits(self) -> dict[str, RateLimit]:
        """The rate limit of each requested scope that has one (for the rate limiter)."""
        limits = self.capability.rate_limits
        return {scope: limits[scope] for scope in self.requested if scope in limits}


def _required(operation: str) -> Iterable[str]:
    # Imported here so the registry does not load every payload model at import.
    from capgate.contracts.catalog import required_scopes

    return required_scopes(operation)


def authorize(
    operation: str,
    context: PluginServiceContext,
    *,
    grants: GrantLookup,
    required: Iterable[str] | None = None,
) -> ScopeDecision:
    """Decide whether ``context``'s capability may run ``operation``.

    ``required`` overrides the catalog's scopes (tests, definitions). Raises
    PERMISSION ``unknown_capability``, ``capability_not_owned``,
    ``capability_key_mismatch`` or ``scope_not_granted`` (details: requested,
    granted, denied), or VALIDATION ``unknown_operation`` from the catalog.
    """
    requested = tuple(
        sorted({str(s) for s in (required if required is not None else _required(operation))})
    )
    where = {"operation": operation, "capability_id": context.capability_id}
    capability = grants.capability(context.capability_id)
    if capability is None:
        raise PluginServiceError.permission(
            "unknown_capability",
            f"capability {context.capability_id!r} is not registered",
            details={**where, "requested": list(requested)},
        )
    if capability.plugin_id != context.plugin_id:
        raise PluginServiceError.permission(
            "capability_not_owned",
            f"capability {context.capability_id!r} does not belong to plugin {context.plugin_id!r}",
            details={**where, "requested": list(requested)},
        )
    if capability.key != context.capability_key:
        raise PluginServiceError.permission(
            "capability_key_mismatch",
            f"capability {context.capability_id!r} is {capability.key!r}, "
            f"not {context.capability_key!r}",
            details={**where, "requested": list(requested)},
        )
    granted = tuple(sorted(capability.scopes))
    denied = tuple(scope for scope in requested if scope not in capability.scopes)
    decision = ScopeDecision(requested, granted, denied, capability)
    if denied:
        raise PluginServiceError.permission(
            "scope_not_granted",
            f"{operation} needs {', '.join(requested)}; capability {capability.key!r} "
            f"was granted {', '.join(granted) or 'nothing'} (missing: {', '.join(denied)})",
            details={
                **where,
                "requested": list(requested),
                "granted": list(granted),
                "denied": list(denied),
            },
        )
    return decision
