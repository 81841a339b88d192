"""The service catalog: every scope used, every operation guarded and validated."""

from __future__ import annotations

from typing import Any

import pytest

from capgate.contracts.catalog import (
    CATALOG,
    SERVICE_DESCRIPTIONS,
    ServiceKey,
    get_operation,
    operations_for,
    queue_for,
    required_scopes,
    task_name,
    validate_payload,
)
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.contracts.scopes import PluginServiceScope
from tests.unit.contracts.samples import INVALID_PAYLOADS, VALID_PAYLOADS


def test_every_scope_is_required_by_some_operation() -> None:
    used = set().union(*(spec.scopes for spec in CATALOG.values()))
    assert used == set(PluginServiceScope)


def test_every_operation_requires_at_least_one_scope() -> None:
    assert all(spec.scopes for spec in CATALOG.values())


def test_every_service_key_has_operations_and_a_description() -> None:
    for key in ServiceKey:
        assert operations_for(key), key
        assert SERVICE_DESCRIPTIONS[key].strip(), key


def test_operation_names_start_with_their_service_prefix_and_samples_cover_all() -> None:
    assert set(VALID_PAYLOADS) == set(CATALOG) == set(INVALID_PAYLOADS)
    for name, spec in CATALOG.items():
        assert spec.name == name
        assert name.split(".")[0] in {spec.service_key.value, "email"}


def test_task_and_queue_names_follow_the_wire_format() -> None:
    assert task_name("email.send") == "capgate.email.send"
    assert queue_for("email.send") == "capgate.email_providers"
    assert queue_for("bundle_assignments.disable") == "capgate.bundle_assignments"
    assert required_scopes("users.revoke_sessions") == {PluginServiceScope.USERS_WRITE}
    assert required_scopes("storage.head_object") == {PluginServiceScope.STORAGE_LINK}
    assert [spec.name for spec in operations_for("storage")] == [
        "storage.create_release_link",
        "storage.head_object",
    ]


def test_unknown_operation_is_a_validation_error() -> None:
    with pytest.raises(PluginServiceError) as caught:
        get_operation("email.teleport")
    assert caught.value.kind is ErrorKind.VALIDATION
    assert caught.value.code == "unknown_operation"
    with pytest.raises(ValueError, match="not a valid ServiceKey"):
        operations_for("mail")


@pytest.mark.parametrize("operation", sorted(VALID_PAYLOADS))
def test_every_operation_accepts_its_sample(operation: str) -> None:
    model = validate_payload(operation, VALID_PAYLOADS[operation])
    assert isinstance(model, get_operation(operation).payload)
    # Round trip through JSON gives the same value (what the worker will see).
    again = validate_payload(operation, model.model_dump(mode="json"))
    assert again == model


@pytest.mark.parametrize("operation", sorted(INVALID_PAYLOADS))
def test_every_operation_rejects_bad_input_naming_the_field(operation: str) -> None:
    data, field = INVALID_PAYLOADS[operation]
    with pytest.raises(PluginServiceError) as caught:
        validate_payload(operation, data)
    error = caught.value
    assert (error.kind, error.code) == (ErrorKind.VALIDATION, "invalid_payload")
    assert field in [item["field"] for item in error.details["errors"]]
    assert field in error.message


def test_payload_errors_do_not_echo_secret_values() -> None:
    data: dict[str, Any] = {
        "name": "smtp",
        "kind": "smtp",
        "config": {"password": "hunter2-" + "x" * 5000},
    }
    with pytest.raises(PluginServiceError) as caught:
        validate_payload("email.register_provider", data)
    assert "hunter2" not in caught.value.to_json()
    assert caught.value.details["errors"][0]["field"] == "config.password"
