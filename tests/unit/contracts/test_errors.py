"""PluginServiceError: one constructor per kind, a JSON form and pickling that survive queues."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable

import pytest
from pydantic import ValidationError

from capgate.contracts.errors import ErrorKind, ErrorModel, PluginServiceError

CONSTRUCTORS: list[tuple[Callable[..., PluginServiceError], ErrorKind, int]] = [
    (PluginServiceError.validation, ErrorKind.VALIDATION, 400),
    (PluginServiceError.not_found, ErrorKind.NOT_FOUND, 404),
    (PluginServiceError.permission, ErrorKind.PERMISSION, 403),
    (PluginServiceError.retryable, ErrorKind.RETRYABLE, 503),
    (PluginServiceError.fatal, ErrorKind.FATAL, 500),
]


@pytest.mark.parametrize(("make", "kind", "status"), CONSTRUCTORS)
def test_each_constructor_sets_its_kind_and_default_status(
    make: Callable[..., PluginServiceError], kind: ErrorKind, status: int
) -> None:
    error = make("some_code", "human text", reason="why", details={"field": "to"})
    assert (error.kind, error.status, error.code) == (kind, status, "some_code")
    assert error.details == {"field": "to"}
    assert str(error) == f"{kind.value}/some_code: human text"


def test_rate_limit_requires_and_keeps_the_wait_and_is_retryable() -> None:
    error = PluginServiceError.rate_limit("too_many", "slow down", retry_after_ms=2500)
    assert (error.kind, error.status, error.retry_after_ms) == (ErrorKind.RATE_LIMIT, 429, 2500)
    assert error.is_retryable
    assert PluginServiceError.retryable("timeout", "t").is_retryable
    assert not PluginServiceError.fatal("bad_credentials", "f").is_retryable
    assert "retry_after_ms=2500" in repr(error)


def sample() -> PluginServiceError:
    return PluginServiceError.rate_limit(
        "provider_throttled",
        "provider said 429",
        retry_after_ms=1200,
        reason="smtp 421",
        details={"provider": "corp-smtp", "attempt": 2},
    )


def test_json_round_trip_keeps_every_field() -> None:
    original = sample()
    again = PluginServiceError.from_json(original.to_json())
    assert again.to_dict() == original.to_dict()
    assert (again.kind, again.retry_after_ms, again.reason) == (
        ErrorKind.RATE_LIMIT,
        1200,
        "smtp 421",
    )


def test_pickle_and_copy_round_trip() -> None:
    original = sample()
    for again in (pickle.loads(pickle.dumps(original)), copy.copy(original)):
        assert isinstance(again, PluginServiceError)
        assert again.to_dict() == original.to_dict()


def test_from_json_refuses_a_malformed_error() -> None:
    with pytest.raises(ValidationError):
        PluginServiceError.from_dict({"kind": "NOPE", "code": "x", "message": "m", "status": 400})
    with pytest.raises(ValidationError):
        ErrorModel.model_validate(
            {"kind": "FATAL", "code": "Bad Code", "message": "m", "status": 500}
        )


def test_over_long_texts_are_cut_rather_than_failing_the_error_path() -> None:
    error = PluginServiceError.fatal("smtp_refused", "m" * 5000, reason="r" * 900)
    data = error.to_dict()
    assert len(data["message"]) == 2000 and data["message"].endswith("…")
    assert len(data["reason"]) == 500
    assert PluginServiceError.from_json(error.to_json()).code == "smtp_refused"
