"""Envelope building, signing and verification."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from capgate.contracts import envelope as envelope_module
from capgate.contracts.envelope import (
    CommandEnvelope,
    build_envelope,
    compute_signature,
    signing_input,
    verify_signature,
)
from tests.unit.contracts.samples import SECRET, VALID_PAYLOADS, make_context, signed_envelope


def signed(**overrides: Any) -> dict[str, Any]:
    return signed_envelope("users.assign_role", **overrides)


def test_built_envelope_is_valid_signed_and_named_for_its_task() -> None:
    envelope = signed(command_id="cmd-1", ttl=timedelta(minutes=2))
    assert verify_signature(envelope, SECRET)
    model = CommandEnvelope.model_validate(envelope)
    assert model.task_name == "capgate.users.assign_role"
    assert model.idempotency_key == "cmd-1"
    assert model.expires_at - model.issued_at == timedelta(minutes=2)
    assert envelope["issued_at"] == "2026-01-02T03:04:05.000000Z"


def test_signature_ignores_layout_but_covers_every_field() -> None:
    envelope = signed()
    reordered = json.loads(json.dumps(dict(reversed(list(envelope.items()))), indent=4))
    assert verify_signature(reordered, SECRET)
    tampered = [
        {**envelope, "operation": "users.activate"},
        {**envelope, "payload": {**envelope["payload"], "role": "admin"}},
        {**envelope, "context": {**envelope["context"], "plugin_id": "plg_other"}},
        {**envelope, "expires_at": "2099-01-01T00:00:00.000000Z"},
        {**envelope, "extra": 1},
    ]
    for changed in tampered:
        assert not verify_signature(changed, SECRET)


def test_wrong_key_missing_or_malformed_signature_fail() -> None:
    envelope = signed()
    assert not verify_signature(envelope, SECRET + "x")
    assert not verify_signature({k: v for k, v in envelope.items() if k != "signature"}, SECRET)
    assert not verify_signature({**envelope, "signature": 12345}, SECRET)
    assert not verify_signature({**envelope, "signature": envelope["signature"].upper()}, SECRET)
    # A lone surrogate can arrive through a JSON escape; it must not raise.
    assert not verify_signature({**envelope, "signature": "\ud800" * 64}, SECRET)
    assert not verify_signature({**envelope, "signature": "é" * 64}, SECRET)


def test_signing_input_excludes_only_the_signature() -> None:
    envelope = signed()
    assert b'"signature"' not in signing_input(envelope)
    assert signing_input(envelope) == signing_input({**envelope, "signature": "0" * 64})
    assert compute_signature(envelope, SECRET) == envelope["signature"]


def test_verification_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = envelope_module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(envelope_module.hmac, "compare_digest", spy)
    envelope = signed()
    assert verify_signature(envelope, SECRET)
    assert calls == [(envelope["signature"].encode(), envelope["signature"].encode())]


def test_envelope_model_refuses_bad_fields_naming_them() -> None:
    envelope = signed()
    cases = [
        ({"format_version": 2}, "format_version"),
        ({"operation": "Email.Send"}, "operation"),
        ({"signature": "xyz"}, "signature"),
        ({"issued_at": "2026-01-02T03:04:05"}, "issued_at"),
        ({"command_id": "has space"}, "command_id"),
        ({"unexpected": True}, "unexpected"),
    ]
    for change, field in cases:
        with pytest.raises(ValidationError) as caught:
            CommandEnvelope.model_validate({**envelope, **change})
        assert field in {str(error["loc"][0]) for error in caught.value.errors()}, change


def test_envelope_must_expire_after_it_is_issued() -> None:
    envelope = signed()
    with pytest.raises(ValidationError, match="expires_at must be later than issued_at"):
        CommandEnvelope.model_validate({**envelope, "expires_at": envelope["issued_at"]})


def test_float_in_payload_cannot_be_signed() -> None:
    with pytest.raises(ValueError, match="non-integer"):
        build_envelope(
            operation="storage.create_release_link",
            payload={**VALID_PAYLOADS["storage.create_release_link"], "ttl_seconds": 60.0},
            context=make_context(),
            key_id="key_1",
            secret=SECRET,
        )
