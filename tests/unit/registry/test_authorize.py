"""The authorize step checks the capability's server-side grants, never the message."""

from __future__ import annotations

import pytest

from capgate.contracts.context import PluginServiceContext
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.registry.authorize import authorize
from capgate.registry.lookups import CapabilityRecord
from capgate.registry.rates import RateLimit
from tests.unit.registry.support import CAPABILITY_ID, PLUGIN_ID, context, registry


def deny(
    operation: str = "email.send",
    *,
    ctx: PluginServiceContext | None = None,
    required: list[str] | None = None,
) -> PluginServiceError:
    with pytest.raises(PluginServiceError) as caught:
        authorize(operation, ctx or context(), grants=registry(), required=required)
    return caught.value


def test_a_granted_scope_is_allowed_with_its_rate_limit() -> None:
    decision = authorize("email.send", context(), grants=registry())
    assert decision.allowed
    assert decision.requested == ("email:send",)
    assert decision.denied == ()
    assert decision.rate_limits == {"email:send": RateLimit(10, "minute")}


def test_scope_not_granted_says_what_was_needed_and_what_was_granted() -> None:
    error = deny("users.assign_role")
    assert (error.kind, error.code) == (ErrorKind.PERMISSION, "scope_not_granted")
    assert error.details["requested"] == ["users:write"]
    assert error.details["granted"] == ["email:send"]
    assert error.details["denied"] == ["users:write"]
    assert "users:write" in error.message and "email:send" in error.message


def test_explicit_required_scopes_override_the_catalog() -> None:
    error = deny(required=["email:send", "storage:link"])
    assert error.details["denied"] == ["storage:link"]


def test_unknown_capability() -> None:
    error = deny(ctx=context(capability_id="cap-nobody"))
    assert (error.kind, error.code) == (ErrorKind.PERMISSION, "unknown_capability")


def test_capability_of_another_plugin() -> None:
    grants = registry()
    grants.capabilities["cap-b"] = CapabilityRecord(
        "cap-b", "plugin-b", "mailer", "action", frozenset({"email:send"})
    )
    with pytest.raises(PluginServiceError) as caught:
        authorize("email.send", context(capability_id="cap-b"), grants=grants)
    assert caught.value.code == "capability_not_owned"


def test_capability_key_that_does_not_match_the_id() -> None:
    assert deny(ctx=context(capability_key="other")).code == "capability_key_mismatch"


def test_unknown_operation_is_a_validation_error() -> None:
    error = deny("email.teleport")
    assert (error.kind, error.code) == (ErrorKind.VALIDATION, "unknown_operation")


def test_a_revoked_grant_denies() -> None:
    grants = registry()
    grants.capabilities[CAPABILITY_ID] = CapabilityRecord(
        CAPABILITY_ID, PLUGIN_ID, "mailer", "action", frozenset()
    )
    with pytest.raises(PluginServiceError) as caught:
        authorize("email.send", context(), grants=grants)
    assert caught.value.details["granted"] == []
