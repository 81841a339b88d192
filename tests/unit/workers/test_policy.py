"""The retry policy as data plus one pure function: ``decide`` row by row, with exact numbers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from pydantic import ValidationError

from capgate.contracts.errors import ErrorKind
from capgate.settings import Settings
from capgate.workers.policy import (
    DEFAULT_POLICY,
    Decision,
    KindPolicy,
    OperationPolicy,
    PolicyBook,
    decide,
)
from capgate.workers.wiring import policy_book

FAST = OperationPolicy(
    retryable=KindPolicy(
        retry=True, initial_ms=100, multiplier=2.0, cap_ms=1_000, max_attempts=6, jitter=0.5
    ),
    unexpected=KindPolicy(retry=True, initial_ms=40, multiplier=3.0, cap_ms=500, max_attempts=2),
    rate_limit_budget_ms=10_000,
    rate_limit_min_wait_ms=50,
)


def fixed(value: float) -> Callable[[], float]:
    """A jitter source that always draws ``value``."""
    return lambda: value


def run(
    kind: ErrorKind,
    failures: int = 1,
    *,
    hint_ms: int | None = None,
    deferred_ms: int = 0,
    policy: OperationPolicy = FAST,
    unexpected: bool = False,
    jitter: float = 0.0,
) -> Decision:
    return decide(
        kind,
        failures=failures,
        hint_ms=hint_ms,
        deferred_ms=deferred_ms,
        policy=policy,
        unexpected=unexpected,
        jitter=fixed(jitter),
    )


@pytest.mark.parametrize(
    "kind", [ErrorKind.VALIDATION, ErrorKind.NOT_FOUND, ErrorKind.PERMISSION, ErrorKind.FATAL]
)
@pytest.mark.parametrize("unexpected", [False, True])
def test_caller_and_fatal_errors_are_never_retried(kind: ErrorKind, unexpected: bool) -> None:
    # Not even with a hint, a fresh budget, or a policy that retries everything.
    decision = run(kind, hint_ms=10, unexpected=unexpected)
    assert decision == Decision(False, 0, f"{kind.value} is never retried")


def test_retryable_backs_off_exponentially_up_to_the_cap() -> None:
    delays = [run(ErrorKind.RETRYABLE, failures=n).delay_ms for n in range(1, 6)]
    assert delays == [100, 200, 400, 800, 1_000]
    assert run(ErrorKind.RETRYABLE, failures=3).why == "exponential backoff after failure 3"


def test_retryable_jitter_shortens_by_an_exact_fraction() -> None:
    # jitter 0.5 of the policy times the injected 0.5 -> 25 % shorter.
    assert run(ErrorKind.RETRYABLE, failures=2, jitter=0.5).delay_ms == 150
    assert run(ErrorKind.RETRYABLE, failures=5, jitter=0.5).delay_ms == 750


def test_retryable_gives_up_after_max_attempts() -> None:
    assert run(ErrorKind.RETRYABLE, failures=5).retry is True
    decision = run(ErrorKind.RETRYABLE, failures=6)
    assert decision == Decision(False, 0, "6 of 6 attempts used")


def test_retryable_takes_the_hint_as_a_floor_not_a_ceiling() -> None:
    raised = run(ErrorKind.RETRYABLE, failures=1, hint_ms=5_000)
    assert raised == Decision(True, 5_000, "backoff 100 ms raised to the error's hint")
    # A hint below the backoff does not shorten it.
    assert run(ErrorKind.RETRYABLE, failures=3, hint_ms=10).delay_ms == 400


def test_retryable_hint_does_not_buy_attempts_past_the_maximum() -> None:
    assert run(ErrorKind.RETRYABLE, failures=6, hint_ms=1).retry is False


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.999999])
@pytest.mark.parametrize("failures", [1, 2, 4, 5])
def test_jitter_never_goes_below_its_bound_nor_above_the_backoff(
    draw: float, failures: int
) -> None:
    policy = FAST.retryable
    raw = min(policy.cap_ms, policy.initial_ms * policy.multiplier ** (failures - 1))
    delay = run(ErrorKind.RETRYABLE, failures=failures, jitter=draw).delay_ms
    assert (1 - policy.jitter) * raw <= delay <= raw
    assert delay >= (1 - policy.jitter) * policy.initial_ms


def test_rate_limit_waits_the_hint_without_using_an_attempt() -> None:
    # failures is far past max_attempts: a rate limit does not count.
    decision = run(ErrorKind.RATE_LIMIT, failures=99, hint_ms=1_234)
    assert decision == Decision(True, 1_234, "rate limited: waiting the limiter's hint")


def test_rate_limit_waits_at_least_the_minimum() -> None:
    assert run(ErrorKind.RATE_LIMIT, hint_ms=None).delay_ms == 50
    assert run(ErrorKind.RATE_LIMIT, hint_ms=3).delay_ms == 50


def test_rate_limit_stops_when_the_deferral_budget_is_spent() -> None:
    assert run(ErrorKind.RATE_LIMIT, hint_ms=4_000, deferred_ms=6_000).retry is True
    decision = run(ErrorKind.RATE_LIMIT, hint_ms=4_001, deferred_ms=6_000)
    assert decision == Decision(False, 0, "rate-limit budget of 10000 ms exhausted")


def test_unexpected_errors_use_their_own_bounded_policy() -> None:
    first = run(ErrorKind.RETRYABLE, failures=1, unexpected=True)
    assert first == Decision(True, 40, "exponential backoff after failure 1")
    assert run(ErrorKind.RETRYABLE, failures=1, unexpected=True, jitter=0.5).delay_ms == 35
    assert run(ErrorKind.RETRYABLE, failures=2, unexpected=True).retry is False


def test_a_kind_policy_that_does_not_retry_gives_up_at_once() -> None:
    policy = FAST.model_copy(update={"retryable": KindPolicy(retry=False)})
    decision = run(ErrorKind.RETRYABLE, policy=policy)
    assert decision == Decision(False, 0, "policy does not retry this kind")


def test_default_policy_matches_the_design() -> None:
    decision = decide(
        ErrorKind.RETRYABLE,
        failures=1,
        hint_ms=None,
        deferred_ms=0,
        policy=DEFAULT_POLICY,
        jitter=fixed(0.0),
    )
    assert decision.delay_ms == 1_000
    assert DEFAULT_POLICY.retryable.max_attempts == 5
    assert DEFAULT_POLICY.unexpected.max_attempts == 3


def test_cap_below_initial_is_refused() -> None:
    with pytest.raises(ValidationError, match="cap_ms must be at least initial_ms"):
        KindPolicy(initial_ms=500, cap_ms=100)


@pytest.fixture
def policy_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    overrides = {
        "default": {"retryable": {"retry": True, "initial_ms": 300, "cap_ms": 2_000}},
        "operations": {
            "email.send": {
                "retryable": {"retry": True, "initial_ms": 15_000, "cap_ms": 60_000},
                "rate_limit_budget_ms": 1_000,
            }
        },
    }
    monkeypatch.setenv("CAPGATE_RETRY_POLICIES", json.dumps(overrides))
    yield


def test_policy_book_overrides_one_operation_from_settings(policy_env: None) -> None:
    book = policy_book(Settings())
    send = book.for_operation("email.send")
    other = book.for_operation("users.deactivate")
    assert send.retryable.initial_ms == 15_000
    assert send.rate_limit_budget_ms == 1_000
    assert other.retryable.initial_ms == 300
    assert other.rate_limit_budget_ms == DEFAULT_POLICY.rate_limit_budget_ms
    # Fields not overridden keep their defaults.
    assert send.unexpected == DEFAULT_POLICY.unexpected
    assert book.for_operation(None) == book.default


def test_policy_book_without_overrides_is_the_default() -> None:
    book = policy_book(Settings(retry_policies={}))
    assert book.for_operation("email.send") == DEFAULT_POLICY


def test_policy_book_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        PolicyBook.model_validate({"default": {"retryable": {"retries": 3}}})
