"""The authenticate step refuses each kind of bad command with its own code."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from capgate.contracts.envelope import MAX_ENVELOPE_BYTES
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.registry.authenticate import authenticate
from capgate.registry.lookups import KeyRecord, PluginRecord, StaticRegistry
from tests.unit.registry.support import (
    KEY_ID,
    NOW,
    PLUGIN_ID,
    SECRET,
    envelope,
    registry,
    resign,
)


def refuse(raw: str | bytes, keys: StaticRegistry | None = None) -> PluginServiceError:
    with pytest.raises(PluginServiceError) as caught:
        authenticate(raw, keys=keys or registry(), now=NOW)
    return caught.value


def test_a_correctly_signed_command_is_authenticated() -> None:
    command = authenticate(envelope(), keys=registry(), now=NOW)
    assert command.envelope.command_id == "cmd-1"
    assert command.plugin.name == "plugin-a"
    assert command.attribution["plugin_id"] == PLUGIN_ID
    assert command.attribution["capability_key"] == "mailer"
    assert command.attribution["key_id"] == KEY_ID


def test_bytes_are_accepted_like_text() -> None:
    assert authenticate(envelope().encode(), keys=registry(), now=NOW).envelope.key_id == KEY_ID


def test_too_large_is_refused_before_parsing() -> None:
    error = refuse(b"{" + b" " * MAX_ENVELOPE_BYTES + b"}")
    assert (error.kind, error.code) == (ErrorKind.VALIDATION, "envelope_too_large")
    assert error.details["attribution"] == {}


@pytest.mark.parametrize(
    "raw", ["{not json", '{"a": 1, "a": 2}', '{"a": NaN}', b"\xff\xfe", "[" * 100_000]
)
def test_malformed_json(raw: str | bytes) -> None:
    error = refuse(raw)
    assert (error.kind, error.code) == (ErrorKind.VALIDATION, "malformed_json")


def test_a_json_array_is_an_invalid_envelope() -> None:
    assert refuse("[1, 2]").code == "invalid_envelope"


def test_missing_key_id_is_an_invalid_envelope_naming_the_field() -> None:
    obj = json.loads(envelope())
    del obj["key_id"]
    error = refuse(json.dumps(obj))
    assert (error.kind, error.code) == (ErrorKind.VALIDATION, "invalid_envelope")
    assert "key_id" in error.message
    assert error.details["attribution"]["command_id"] == "cmd-1"


def test_unknown_key() -> None:
    error = refuse(envelope(key_id="key-nobody"))
    assert (error.kind, error.code) == (ErrorKind.PERMISSION, "unknown_key")
    assert error.details["attribution"] == {
        "command_id": "cmd-1",
        "idempotency_key": "cmd-1",
        "operation": "email.send",
        "key_id": "key-nobody",
    }
    assert error.details["signature_verified"] is False


def test_revoked_key() -> None:
    keys = registry()
    keys.keys[KEY_ID] = KeyRecord(KEY_ID, PLUGIN_ID, SECRET, revoked_at=NOW)
    error = refuse(envelope(), keys)
    assert (error.kind, error.code) == (ErrorKind.PERMISSION, "revoked_key")
    assert error.details["attribution"]["plugin_id"] == PLUGIN_ID


def test_a_key_whose_revocation_is_still_ahead_is_accepted() -> None:
    keys = registry()
    keys.keys[KEY_ID] = KeyRecord(KEY_ID, PLUGIN_ID, SECRET, revoked_at=NOW + timedelta(minutes=1))
    assert authenticate(envelope(), keys=keys, now=NOW).envelope.key_id == KEY_ID


def test_bad_signature_from_a_changed_payload() -> None:
    obj = json.loads(envelope())
    obj["payload"]["to"] = ["attacker@example.com"]
    error = refuse(json.dumps(obj))
    assert (error.kind, error.code) == (ErrorKind.PERMISSION, "bad_signature")
    assert error.details["signature_verified"] is False
    # The claimed context is not believed before the signature is checked.
    assert "capability_id" not in error.details["attribution"]


def test_bad_signature_from_the_wrong_secret() -> None:
    assert refuse(envelope(secret="not-the-secret")).code == "bad_signature"


def test_an_unsignable_value_is_an_invalid_envelope() -> None:
    obj = json.loads(envelope())
    obj["payload"]["amount"] = 1.5
    error = refuse(json.dumps(obj))
    assert (error.kind, error.code) == (ErrorKind.VALIDATION, "invalid_envelope")


def test_schema_errors_name_the_field_after_the_signature_matched() -> None:
    error = refuse(resign(envelope(), {"operation": "Not An Operation"}))
    assert (error.kind, error.code) == (ErrorKind.VALIDATION, "invalid_envelope")
    assert "operation" in error.message
    assert error.details["errors"][0]["field"] == "operation"
    assert error.details["signature_verified"] is True


def test_key_of_plugin_a_claiming_plugin_b() -> None:
    keys = registry()
    keys.plugins["plugin-b"] = PluginRecord("plugin-b", "plugin-b", "active")
    error = refuse(envelope(plugin_id="plugin-b", plugin_name="plugin-b"), keys)
    assert (error.kind, error.code) == (ErrorKind.PERMISSION, "key_plugin_mismatch")
    assert error.details["attribution"]["plugin_id"] == PLUGIN_ID
    assert error.details["claimed_plugin_id"] == "plugin-b"


def test_unknown_plugin() -> None:
    keys = registry()
    del keys.plugins[PLUGIN_ID]
    assert refuse(envelope(), keys).code == "unknown_plugin"


def test_disabled_plugin() -> None:
    keys = registry()
    keys.plugins[PLUGIN_ID] = PluginRecord(PLUGIN_ID, "plugin-a", "disabled")
    error = refuse(envelope(), keys)
    assert (error.kind, error.code) == (ErrorKind.PERMISSION, "plugin_disabled")
    assert error.details["attribution"]["plugin_name"] == "plugin-a"


def test_context_naming_another_plugin_name() -> None:
    assert refuse(envelope(plugin_name="someone-else")).code == "plugin_name_mismatch"


def test_issued_too_far_in_the_future() -> None:
    error = refuse(envelope(issued_at=NOW + timedelta(minutes=10)))
    assert (error.kind, error.code) == (ErrorKind.PERMISSION, "issued_in_future")


def test_a_little_clock_skew_is_tolerated() -> None:
    raw = envelope(issued_at=NOW + timedelta(seconds=30))
    assert authenticate(raw, keys=registry(), now=NOW).envelope.command_id == "cmd-1"


def test_expired_command() -> None:
    error = refuse(envelope(issued_at=NOW - timedelta(minutes=20)))
    assert (error.kind, error.code) == (ErrorKind.PERMISSION, "command_expired")


def test_a_lifetime_longer_than_allowed_is_refused() -> None:
    with pytest.raises(PluginServiceError) as caught:
        authenticate(
            envelope(ttl=timedelta(hours=2)),
            keys=registry(),
            now=NOW,
            max_lifetime=timedelta(hours=1),
        )
    assert (caught.value.kind, caught.value.code) == (ErrorKind.VALIDATION, "lifetime_too_long")


def test_no_error_detail_contains_the_secret() -> None:
    keys = registry()
    keys.plugins[PLUGIN_ID] = PluginRecord(PLUGIN_ID, "plugin-a", "disabled")
    error = refuse(envelope(), keys)
    assert SECRET not in error.to_json()
    assert SECRET not in repr(keys.keys[KEY_ID])


def test_hostile_text_is_not_copied_into_the_attribution() -> None:
    obj = json.loads(envelope(key_id="key-nobody"))
    obj["command_id"] = "x" * 5000
    obj["operation"] = "drop table; --"
    error = refuse(json.dumps(obj))
    assert error.details["attribution"] == {"idempotency_key": "cmd-1", "key_id": "key-nobody"}


def test_a_lone_surrogate_in_the_payload_is_an_invalid_envelope() -> None:
    text = envelope().replace('"subject":"hi"', '"subject":"\\ud800"')
    assert refuse(text).code == "invalid_envelope"


def test_a_lone_surrogate_as_the_signature_is_a_bad_signature() -> None:
    obj = json.loads(envelope())
    obj["signature"] = "\ud800"
    assert refuse(json.dumps(obj)).code == "bad_signature"
