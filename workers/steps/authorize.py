"""Step: check the scopes the operation needs against the capability's grants.

Grants are read server-side (through the registry's short cache); the
message's own claims are never trusted.
"""

from __future__ import annotations

from capgate.workers.deps import PipelineDeps
from capgate.workers.work import Work

__all__ = ["authorize"]


def authorize(work: Work, deps: PipelineDeps) -> None:
    """Record requested and granted scopes; the authorizer raises PERMISSION on a gap."""
    assert work.envelope is not None and work.spec is not None
    work.requested = tuple(sorted(scope.value for scope in work.spec.scopes))
    grants = deps.authorize(work.envelope)
    work.granted = grants.granted
    work.rates = grants.rates
