"""Sample inputs shared by the contract tests: one valid payload per operation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from capgate.contracts.context import PluginServiceContext
from capgate.contracts.envelope import build_envelope

SECRET = "test-signing-secret-0123456789abcdef"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

_TOGGLE = {"resource_id": "res_1", "options": {"actor_id": "user_1", "reason": "cleanup"}}

VALID_PAYLOADS: dict[str, dict[str, Any]] = {
    "email.register_provider": {
        "name": "corp-smtp",
        "kind": "smtp",
        "config": {"host": "smtp.example.com", "port": 587, "starttls": True, "password": "pw"},
    },
    "email.unregister_provider": {"name": "corp-smtp"},
    "email.set_active_provider": {"name": "corp-smtp"},
    "email.list_providers": {},
    "email.send": {
        "to": ["a@example.com"],
        "cc": ["b@example.org"],
        "subject": "Weekly digest",
        "text": "Hello",
        "attachments": [
            {"filename": "report.csv", "content_type": "text/csv", "content_base64": "YSxiCg=="}
        ],
        "headers": {"X-Campaign": "digest"},
    },
    "users.assign_role": {"user_id": "user_1", "role": "editor"},
    "users.activate": {"user_id": "user_1"},
    "users.deactivate": {"user_id": "user_1", "options": {"reason": "left the company"}},
    "users.revoke_sessions": {"user_id": "user_1", "issued_before": "2026-01-01T00:00:00Z"},
    "bundles.enable": _TOGGLE,
    "bundles.disable": _TOGGLE,
    "bundle_assignments.enable": _TOGGLE,
    "bundle_assignments.disable": _TOGGLE,
    "recipients.enable": _TOGGLE,
    "recipients.disable": _TOGGLE,
    "actions.enable": _TOGGLE,
    "actions.disable": _TOGGLE,
    "triggers.enable": _TOGGLE,
    "triggers.disable": _TOGGLE,
    "pipelines.enable": _TOGGLE,
    "pipelines.disable": _TOGGLE,
    "storage.create_release_link": {
        "bundle_id": "b_1",
        "recipient_id": "r_1",
        "ttl_seconds": 3600,
        "content_hash": "sha256:" + "ab" * 32,
    },
    "storage.head_object": {"bundle_id": "b_1", "object_key": "reports/2026/q1.pdf"},
}

# One bad input per operation and the field the error must name.
INVALID_PAYLOADS: dict[str, tuple[dict[str, Any], str]] = {
    "email.register_provider": ({"name": "x", "kind": "carrier-pigeon"}, "kind"),
    "email.unregister_provider": ({"name": "Bad Name"}, "name"),
    "email.set_active_provider": ({}, "name"),
    "email.list_providers": ({"surprise": 1}, "surprise"),
    "email.send": ({"to": ["not-an-address"], "subject": "s", "text": "t"}, "to.0"),
    "users.assign_role": ({"user_id": "u", "role": "god"}, "role"),
    "users.activate": ({"user_id": "../etc"}, "user_id"),
    "users.deactivate": ({"user_id": ""}, "user_id"),
    "users.revoke_sessions": (
        {"user_id": "u", "issued_before": "2026-01-01T00:00:00"},
        "issued_before",
    ),
    "storage.create_release_link": (
        {"bundle_id": "b", "recipient_id": "r", "ttl_seconds": 10, "content_hash": "x"},
        "ttl_seconds",
    ),
    "storage.head_object": ({"bundle_id": "b", "object_key": "../secret"}, "object_key"),
}
for _name in VALID_PAYLOADS:
    if _name.endswith((".enable", ".disable")):
        INVALID_PAYLOADS[_name] = ({"resource_id": "a b"}, "resource_id")


def make_context(**overrides: Any) -> PluginServiceContext:
    """A valid context; keyword arguments replace fields."""
    fields: dict[str, Any] = {
        "plugin_name": "digest-mailer",
        "plugin_id": "plg_1",
        "capability_id": "cap_1",
        "capability_key": "digest",
        "execution_kind": "action",
        "timestamp": NOW,
    }
    fields.update(overrides)
    return PluginServiceContext(**fields)


def signed_envelope(operation: str, **overrides: Any) -> dict[str, Any]:
    """A signed envelope (parsed) carrying the sample payload of ``operation``."""
    fields: dict[str, Any] = {
        "payload": VALID_PAYLOADS[operation],
        "context": make_context(),
        "key_id": "key_1",
        "secret": SECRET,
        "issued_at": NOW,
    }
    fields.update(overrides)
    envelope: dict[str, Any] = json.loads(build_envelope(operation=operation, **fields))
    return envelope
