"""The retry policy: data per operation and error kind, and one pure function.

``decide(kind, failures, hint_ms, deferred_ms, policy, jitter)`` says whether
to try again and after how long. Defaults follow DESIGN.md: VALIDATION,
NOT_FOUND, PERMISSION and FATAL never retry; RETRYABLE backs off
exponentially with bounded jitter and takes the hint as a floor; RATE_LIMIT
waits the hint without using up an attempt, bounded by a deferral budget.
Operations override the defaults in settings (``CAPGATE_RETRY_POLICIES``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from capgate.contracts.errors import ErrorKind

__all__ = [
    "DEFAULT_POLICY",
    "Decision",
    "KindPolicy",
    "OperationPolicy",
    "PolicyBook",
    "decide",
]

Jitter = Callable[[], float]
"""Returns a number in [0, 1); injected so tests are exact."""


class KindPolicy(BaseModel):
    """How one error kind is retried."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    retry: bool = False
    initial_ms: int = Field(default=1_000, ge=1)
    multiplier: float = Field(default=2.0, ge=1.0)
    cap_ms: int = Field(default=300_000, ge=1)
    max_attempts: int = Field(default=5, ge=1, description="Failures allowed before giving up.")
    jitter: float = Field(
        default=0.25, ge=0.0, lt=1.0, description="Delay varies by up to this fraction, downwards."
    )

    @model_validator(mode="after")
    def _cap_not_below_initial(self) -> KindPolicy:
        if self.cap_ms < self.initial_ms:
            raise ValueError("cap_ms must be at least initial_ms")
        return self


class OperationPolicy(BaseModel):
    """The policy of one operation: a KindPolicy per error kind, plus budgets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    retryable: KindPolicy = KindPolicy(retry=True, initial_ms=1_000, cap_ms=300_000, max_attempts=5)
    unexpected: KindPolicy = KindPolicy(retry=True, initial_ms=2_000, cap_ms=60_000, max_attempts=3)
    rate_limit_budget_ms: int = Field(
        default=3_600_000, ge=0, description="Total rate-limit waiting allowed for one command."
    )
    rate_limit_min_wait_ms: int = Field(default=50, ge=1)


DEFAULT_POLICY = OperationPolicy()


class PolicyBook(BaseModel):
    """Policies by operation name, with a default for the rest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: OperationPolicy = DEFAULT_POLICY
    operations: Mapping[str, OperationPolicy] = Field(default_factory=dict)

    def for_operation(self, operation: str | None) -> OperationPolicy:
        """The policy that applies to ``operation``."""
        if operation is None:
            return self.default
        return self.operations.get(operation, self.default)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do after a failed attempt."""

    retry: bool
    delay_ms: int
    why: str


_NO_RETRY = {ErrorKind.VALIDATION, ErrorKind.NOT_FOUND, ErrorKind.PERMISSION, ErrorKind.FATAL}


def backoff_ms(policy: KindPolicy, failures: int, jitter: Jitter) -> int:
    """Exponential delay for the ``failures``-th failure, jittered downwards.

    Jitter only shortens the delay, by at most ``policy.jitter``, so it is
    never near zero: at least ``(1 - jitter) * initial_ms``.
    """
    raw = min(policy.cap_ms, policy.initial_ms * policy.multiplier ** max(failures - 1, 0))
    return max(1, round(raw * (1.0 - policy.jitter * jitter())))


def decide(
    kind: ErrorKind,
    *,
    failures: int,
    hint_ms: int | None,
    deferred_ms: int,
    policy: OperationPolicy,
    unexpected: bool = False,
    jitter: Jitter = random.random,
) -> Decision:
    """Decide whether and when to retry after a failure.

    ``failures`` counts failures so far including this one (RATE_LIMIT
    deferrals excluded); ``deferred_ms`` is the rate-limit wait already spent.
    """
    if kind in _NO_RETRY:
        return Decision(False, 0, f"{kind.value} is never retried")
    if kind is ErrorKind.RATE_LIMIT:
        wait = max(hint_ms or 0, policy.rate_limit_min_wait_ms)
        if deferred_ms + wait > policy.rate_limit_budget_ms:
            return Decision(
                False, 0, f"rate-limit budget of {policy.rate_limit_budget_ms} ms exhausted"
            )
        return Decision(True, wait, "rate limited: waiting the limiter's hint")
    kind_policy = policy.unexpected if unexpected else policy.retryable
    if not kind_policy.retry:
        return Decision(False, 0, "policy does not retry this kind")
    if failures >= kind_policy.max_attempts:
        return Decision(False, 0, f"{failures} of {kind_policy.max_attempts} attempts used")
    delay = backoff_ms(kind_policy, failures, jitter)
    if hint_ms is not None and hint_ms > delay:
        return Decision(True, hint_ms, f"backoff {delay} ms raised to the error's hint")
    return Decision(True, delay, f"exponential backoff after failure {failures}")
