"""The plugin service context: required fields, bounded ids, aware timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from capgate.contracts.context import ExecutionKind, PluginServiceContext
from tests.unit.contracts.samples import make_context

REQUIRED = {
    "plugin_name",
    "plugin_id",
    "capability_id",
    "capability_key",
    "execution_kind",
    "timestamp",
}


def test_required_fields_are_exactly_the_seed_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        PluginServiceContext.model_validate({})
    assert {str(error["loc"][0]) for error in caught.value.errors()} == REQUIRED


def test_optional_ids_default_to_none_and_kinds_are_the_four_seed_ones() -> None:
    context = make_context()
    assert context.trigger_event_id is None and context.manual_invoker_id is None
    assert {kind.value for kind in ExecutionKind} == {"action", "trigger", "register", "lifecycle"}


def test_timestamps_must_be_aware_and_become_utc() -> None:
    paris = timezone(timedelta(hours=1))
    context = make_context(timestamp=datetime(2026, 1, 1, 13, 0, tzinfo=paris))
    assert context.timestamp == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert context.timestamp.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError) as caught:
        make_context(timestamp=datetime(2026, 1, 1, 12, 0))
    assert caught.value.errors()[0]["loc"] == ("timestamp",)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("plugin_id", "has space"),
        ("plugin_id", "x" * 129),
        ("capability_id", ""),
        ("correlation_id", "-leading-dash"),
        ("invocation_id", "new\nline"),
        ("plugin_name", "Upper"),
        ("execution_kind", "cron"),
    ],
)
def test_bad_ids_and_kinds_are_refused_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make_context(**{field: value})
    assert [error["loc"][0] for error in caught.value.errors()] == [field]


def test_context_is_frozen_and_closed() -> None:
    context = make_context()
    with pytest.raises(ValidationError):
        context.plugin_id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        make_context(scopes=["email:send"])
