"""Builders shared by the registry unit tests: a plugin, its key, signed envelopes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from capgate.contracts.context import ExecutionKind, PluginServiceContext
from capgate.contracts.envelope import build_envelope, compute_signature
from capgate.registry.lookups import CapabilityRecord, KeyRecord, PluginRecord, StaticRegistry
from capgate.registry.rates import parse_rate

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PLUGIN_ID = "plugin-a"
KEY_ID = "key-a"
SECRET = "secret-of-plugin-a-0123456789abcdef"
CAPABILITY_ID = "cap-a"


def registry() -> StaticRegistry:
    """Plugin A (active) with key A and a capability holding email:send at 10/minute."""
    return StaticRegistry(
        keys={KEY_ID: KeyRecord(KEY_ID, PLUGIN_ID, SECRET)},
        plugins={PLUGIN_ID: PluginRecord(PLUGIN_ID, "plugin-a", "active")},
        capabilities={
            CAPABILITY_ID: CapabilityRecord(
                CAPABILITY_ID,
                PLUGIN_ID,
                "mailer",
                "action",
                frozenset({"email:send"}),
                {"email:send": parse_rate("10/minute")},
            )
        },
    )


def context(**changes: Any) -> PluginServiceContext:
    """Plugin A's context for capability ``mailer``."""
    values: dict[str, Any] = {
        "plugin_name": "plugin-a",
        "plugin_id": PLUGIN_ID,
        "capability_id": CAPABILITY_ID,
        "capability_key": "mailer",
        "execution_kind": ExecutionKind.ACTION,
        "correlation_id": "flow-1",
        "timestamp": NOW,
    }
    values.update(changes)
    return PluginServiceContext(**values)


def envelope(
    *,
    key_id: str = KEY_ID,
    secret: str = SECRET,
    issued_at: datetime = NOW,
    ttl: timedelta = timedelta(minutes=15),
    **context_changes: Any,
) -> str:
    """A correctly signed ``email.send`` envelope text."""
    return build_envelope(
        operation="email.send",
        payload={"to": ["a@example.com"], "subject": "hi", "text": "body"},
        context=context(**context_changes),
        key_id=key_id,
        secret=secret,
        command_id="cmd-1",
        issued_at=issued_at,
        ttl=ttl,
    )


def resign(text: str, change: dict[str, Any], *, secret: str = SECRET) -> str:
    """``text`` with top-level fields replaced, then signed again with ``secret``."""
    obj = json.loads(text)
    obj.update(change)
    obj["signature"] = compute_signature(obj, secret)
    return json.dumps(obj)
