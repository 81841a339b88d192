"""Build a :class:`Pipeline` from settings: the worker side of the composition root."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from capgate.adapters.base import Handler
from capgate.audit.recorder import AuditRecorder
from capgate.bootstrap import Runtime
from capgate.contracts.envelope import CommandEnvelope
from capgate.contracts.errors import PluginServiceError
from capgate.registry.authenticate import authenticate as registry_authenticate
from capgate.registry.authorize import authorize as registry_authorize
from capgate.registry.reader import RegistryReader
from capgate.workers.deps import DeadLetterHook, Grants, PipelineDeps
from capgate.workers.pipeline import Pipeline
from capgate.workers.policy import PolicyBook
from capgate.workers.ratelimit import LimitStore
from capgate.workers.tokens import RetryTokens

__all__ = ["build_pipeline", "registry_checks"]


class registry_checks:  # noqa: N801 - used like a pair of functions
    """Authenticate and authorize against the registry tables (cached reads)."""

    def __init__(self, reader: RegistryReader) -> None:
        self._reader = reader

    def authenticate(self, body: Any, now: datetime, *, scheduled: bool = False) -> CommandEnvelope:
        """The verified envelope, or a PERMISSION/VALIDATION error.

        ``scheduled`` deliveries (capgate's own retries) may be past expiry.
        """
        if not isinstance(body, str | bytes):
            raise PluginServiceError.validation(
                "envelope_not_text",
                f"the task argument must be the envelope JSON text, not {type(body).__name__}",
            )
        return registry_authenticate(
            body, keys=self._reader, now=now, accept_expired=scheduled
        ).envelope

    def authorize(self, envelope: CommandEnvelope) -> Grants:
        """The capability's grants; PERMISSION if a needed scope is missing."""
        decision = registry_authorize(envelope.operation, envelope.context, grants=self._reader)
        return Grants(decision.requested, decision.granted, decision.rate_limits)


def build_pipeline(
    runtime: Runtime,
    *,
    limiter: LimitStore,
    handlers: Mapping[str, Handler],
    policies: PolicyBook | None = None,
    hooks: tuple[DeadLetterHook, ...] = (),
    grant_cache_ttl: float = 5.0,
    max_deliveries: int = 5,
) -> Pipeline:
    """Wire the registry, audit recorder, limiter and adapters into a pipeline."""
    secret = runtime.settings.secret.get_secret_value()
    checks = registry_checks(RegistryReader(runtime.sessions, secret, ttl=grant_cache_ttl))
    recorder = AuditRecorder(secret)
    deps = PipelineDeps(
        sessions=runtime.sessions,
        authenticate=checks.authenticate,
        authorize=checks.authorize,
        limiter=limiter,
        handlers=handlers,
        record_audit=recorder.record,
        tokens=RetryTokens(secret),
        policies=policies or PolicyBook(),
        dead_letter_hooks=hooks,
        worker_host=socket.gethostname(),
        max_deliveries=max_deliveries,
    )
    return Pipeline(deps)
