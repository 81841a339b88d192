"""The shared audit options and the toggle payload."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from capgate.contracts.options import METADATA_MAX_KEYS, OperationOptions
from capgate.contracts.toggles import ToggleResource


def fields_of(exc: ValidationError) -> set[str]:
    return {".".join(str(part) for part in error["loc"]) for error in exc.errors()}


def test_options_default_to_empty_and_every_payload_has_them() -> None:
    toggle = ToggleResource(resource_id="bundle_1")
    assert toggle.options == OperationOptions()
    assert toggle.options.audit_metadata == {}


def test_options_accept_every_documented_field() -> None:
    options = OperationOptions.model_validate(
        {
            "actor_id": "user_1",
            "reason": "  quarterly cleanup  ",
            "audit_metadata": {"ticket": "OPS-1", "count": 3, "dry_run": False, "note": None},
            "requested_at": "2026-01-01T00:00:00+01:00",
        }
    )
    assert options.reason == "quarterly cleanup"
    assert options.requested_at is not None and options.requested_at.utcoffset() is not None
    assert options.model_dump(mode="json")["requested_at"] == "2025-12-31T23:00:00Z"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"actor_id": "has space"}, "actor_id"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"requested_at": datetime(2026, 1, 1)}, "requested_at"),
        ({"audit_metadata": {"k": 1.5}}, "audit_metadata.k"),
        ({"audit_metadata": {"k": [1]}}, "audit_metadata.k"),
        ({"audit_metadata": {"k": 2**53}}, "audit_metadata.k"),
        ({"audit_metadata": {"clé": "v"}}, "audit_metadata.clé.[key]"),
        ({"audit_metadata": {"k" * 65: "v"}}, "audit_metadata." + "k" * 65 + ".[key]"),
        ({"audit_metadata": {"k": "x" * 5000}}, "audit_metadata"),
        ({"audit_metadata": {f"k{i}": 1 for i in range(METADATA_MAX_KEYS + 1)}}, "audit_metadata"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_options_refuse_bad_values_naming_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OperationOptions.model_validate(options)
    assert fields_of(caught.value) == {field}


def test_metadata_keeps_booleans_and_integers_apart() -> None:
    metadata = OperationOptions(audit_metadata={"flag": True, "one": 1}).audit_metadata
    assert metadata["flag"] is True
    assert type(metadata["one"]) is int


def test_toggle_payload_is_frozen_and_names_a_bad_id() -> None:
    toggle = ToggleResource(resource_id="pipe_1")
    with pytest.raises(ValidationError):
        toggle.resource_id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError) as caught:
        ToggleResource.model_validate({"resource_id": "x" * 129})
    assert fields_of(caught.value) == {"resource_id"}
