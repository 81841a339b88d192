"""End to end: every catalog operation through one real worker, real PostgreSQL and SMTP.

One worker process serves the whole scenario (starting one is the slow
part). Each command's effect is checked in the core tables the way the core
would see it, and each command has exactly one audit row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from capgate.adapters.change_log import ChangeLogEntry
from capgate.adapters.email.tables import EmailProvider
from capgate.adapters.release_links import release_link_key, verify_release_link
from capgate.adapters.resource_tables import TOGGLEABLE
from capgate.adapters.toggles import RESOURCE_TYPES
from capgate.adapters.user_tables import User, UserSession
from capgate.audit.schema import AuditEventRow
from capgate.contracts.catalog import CATALOG
from capgate.contracts.client import PluginClient
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.contracts.scopes import PluginServiceScope
from tests.e2e.workers import WorkerProcess, audit_rows, client_for, name
from tests.support.services import free_port
from tests.support.smtp_server import SmtpTestServer
from tests.support.world import SECRET, World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PASSWORD = "backup-password-never-shown"
OPTIONS = {"actor_id": "u-alice", "reason": "quarterly clean-up"}
# A seeded id per toggleable service (adapters/seed.py).
SEEDED = {
    "bundles": "b-onboarding",
    "bundle_assignments": "a-onboarding-globex",
    "recipients": "r-globex",
    "actions": "act-send-digest",
    "triggers": "trg-nightly",
    "pipelines": "p-release",
}


class Calls:
    """Sends commands for one or more plugins and remembers each command id."""

    def __init__(self) -> None:
        self.done: dict[str, str] = {}  # command id -> operation

    def call(self, client: PluginClient, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        handle = client.send(operation, payload)
        self.done[handle.command_id] = operation
        return handle.result(timeout=30)

    def refused(
        self, client: PluginClient, operation: str, payload: dict[str, Any]
    ) -> tuple[str, PluginServiceError]:
        handle = client.send(operation, payload)
        with pytest.raises(PluginServiceError) as caught:
            handle.result(timeout=30)
        return handle.command_id, caught.value


@pytest.fixture
def smtp() -> Iterator[SmtpTestServer]:
    server = SmtpTestServer(free_port()).start()
    yield server
    server.stop()


def test_every_operation_runs_through_a_real_worker(
    world: World,
    worker: WorkerProcess,
    e2e_settings: dict[str, str],
    smtp: SmtpTestServer,
) -> None:
    everything = {scope.value: None for scope in PluginServiceScope}
    owner = client_for(world.add_plugin(name(), "operator", everything), e2e_settings)
    other = client_for(world.add_plugin(name(), "mailer", {"email:send": None}), e2e_settings)
    calls = Calls()

    denied = _email(calls, owner, other, smtp, world)
    _users(calls, owner, world)
    _toggles(calls, owner, world)
    _storage(calls, owner, world, Path(e2e_settings["CAPGATE_STORAGE_ROOT"]))

    assert set(calls.done.values()) == set(CATALOG), "every catalog operation ran"
    for command_id, operation in calls.done.items():
        assert audit_rows(world, command_id) == [(1, "succeeded", None)], operation
    assert audit_rows(world, denied) == [(1, "denied", "not_provider_owner")]
    with world.runtime.sessions() as session:
        trail = [
            json.dumps([row.request_summary, row.response_summary, row.error_message])
            for row in session.scalars(select(AuditEventRow))
        ]
    assert trail and not any(PASSWORD in text for text in trail), "no secret in the audit trail"


def _email(
    calls: Calls, owner: PluginClient, other: PluginClient, smtp: SmtpTestServer, world: World
) -> str:
    relay = {"host": "127.0.0.1", "port": smtp.port, "security": "none", "sender": "a@example.com"}
    backup = {**relay, "username": "mailer", "password": PASSWORD}
    first = calls.call(
        owner, "email.register_provider", {"name": "relay", "kind": "smtp", "config": relay}
    )
    assert first == {"name": "relay", "kind": "smtp", "active": True, "created": True}
    second = calls.call(
        owner, "email.register_provider", {"name": "backup", "kind": "smtp", "config": backup}
    )
    assert second["active"] is False and second["created"] is True
    assert calls.call(owner, "email.set_active_provider", {"name": "backup"}) == {
        "name": "backup",
        "changed": True,
    }

    listing = calls.call(other, "email.list_providers", {})
    owner_id = owner.credentials.plugin_id
    assert listing == {
        "providers": [
            {"name": "backup", "kind": "smtp", "owner_plugin_id": owner_id, "active": True},
            {"name": "relay", "kind": "smtp", "owner_plugin_id": owner_id, "active": False},
        ]
    }
    with world.runtime.sessions() as session:
        sealed = session.scalars(select(EmailProvider.sealed_config)).all()
    assert all(PASSWORD not in text for text in sealed), "encrypted at rest"

    sent = calls.call(
        owner,
        "email.send",
        {
            "provider": "relay",
            "to": ["bob@example.com"],
            "subject": "Quarterly report",
            "text": "Ready.",
        },
    )
    assert sent["provider"] == "relay"
    assert [m["Subject"] for m in smtp.received] == ["Quarterly report"]
    assert smtp.received[0]["Message-ID"] == sent["message_id"]

    denied_id, error = calls.refused(other, "email.unregister_provider", {"name": "backup"})
    assert (error.kind, error.code) == (ErrorKind.PERMISSION, "not_provider_owner")
    gone = calls.call(owner, "email.unregister_provider", {"name": "backup"})
    assert gone == {"name": "backup", "was_active": True}
    with world.runtime.sessions() as session:
        assert session.scalars(select(EmailProvider.name)).all() == ["relay"]
    return denied_id


def _users(calls: Calls, owner: PluginClient, world: World) -> None:
    role = calls.call(
        owner, "users.assign_role", {"user_id": "u-bob", "role": "viewer", "options": OPTIONS}
    )
    assert role == {"user_id": "u-bob", "role": "viewer", "changed": True}
    off = calls.call(owner, "users.deactivate", {"user_id": "u-carol", "options": OPTIONS})
    assert off == {"user_id": "u-carol", "active": False, "changed": True}
    with world.runtime.sessions() as session:
        carol = session.get(User, "u-carol")
        assert carol is not None and carol.active is False
    on = calls.call(owner, "users.activate", {"user_id": "u-carol", "options": OPTIONS})
    assert on == {"user_id": "u-carol", "active": True, "changed": True}
    revoked = calls.call(owner, "users.revoke_sessions", {"user_id": "u-bob", "options": OPTIONS})
    assert revoked == {"revoked": 2}

    with world.runtime.sessions() as session:
        bob, carol = session.get(User, "u-bob"), session.get(User, "u-carol")
        assert bob is not None and bob.role == "viewer"
        assert carol is not None and carol.active is True
        sessions = {s.id: s.revoked_at for s in session.scalars(select(UserSession))}
        changes = session.scalars(
            select(ChangeLogEntry)
            .where(ChangeLogEntry.resource_type == "user")
            .order_by(ChangeLogEntry.id)
        ).all()
    assert sessions["s-bob-1"] is not None and sessions["s-bob-2"] is not None
    assert sessions["s-carol-1"] is None, "only bob's sessions were revoked"
    assert [(c.resource_id, c.action) for c in changes] == [
        ("u-bob", "assign_role"),
        ("u-carol", "deactivate"),
        ("u-carol", "activate"),
        ("u-bob", "revoke_sessions"),
    ]
    assert changes[0].before == {"role": "editor"} and changes[0].after == {"role": "viewer"}
    assert {(c.actor_id, c.reason) for c in changes} == {("u-alice", "quarterly clean-up")}
    assert {c.plugin_id for c in changes} == {owner.credentials.plugin_id}


def _toggles(calls: Calls, owner: PluginClient, world: World) -> None:
    for service, resource_id in SEEDED.items():
        model: Any = TOGGLEABLE[service]
        payload = {"resource_id": resource_id, "options": OPTIONS}
        off = calls.call(owner, f"{service}.disable", payload)
        assert off == {"resource_id": resource_id, "enabled": False, "changed": True}
        with world.runtime.sessions() as session:
            assert session.scalar(select(model.enabled).where(model.id == resource_id)) is False
        on = calls.call(owner, f"{service}.enable", payload)
        assert on == {"resource_id": resource_id, "enabled": True, "changed": True}
        with world.runtime.sessions() as session:
            assert session.scalar(select(model.enabled).where(model.id == resource_id)) is True
            actions = session.scalars(
                select(ChangeLogEntry.action)
                .where(ChangeLogEntry.resource_type == RESOURCE_TYPES[service])
                .where(ChangeLogEntry.resource_id == resource_id)
                .order_by(ChangeLogEntry.id)
            ).all()
        assert actions == ["disable", "enable"], service
    with world.runtime.sessions() as session:
        total = session.scalar(select(func.count()).select_from(ChangeLogEntry))
    assert total == 4 + 2 * len(SEEDED)


def _storage(calls: Calls, owner: PluginClient, world: World, root: Path) -> None:
    content = b"%PDF-1.7 quarterly numbers"
    (root / "b-q1-report").mkdir(parents=True)
    (root / "b-q1-report" / "q1.pdf").write_bytes(content)
    digest = hashlib.sha256(content).hexdigest()

    head = calls.call(
        owner, "storage.head_object", {"bundle_id": "b-q1-report", "object_key": "q1.pdf"}
    )
    assert head == {
        "etag": f'"{digest}"',
        "content_type": "application/pdf",
        "length": len(content),
    }

    link = calls.call(
        owner,
        "storage.create_release_link",
        {
            "bundle_id": "b-q1-report",
            "recipient_id": "r-acme",
            "ttl_seconds": 3600,
            "content_hash": f"sha256:{digest}",
        },
    )
    token = parse_qs(urlsplit(link["url"]).query)["token"][0]
    claims = verify_release_link(
        token,
        key=release_link_key(SECRET),
        bundle_id="b-q1-report",
        recipient_id="r-acme",
        now=datetime.now(UTC),
        content_hash=f"sha256:{digest}",
    )
    assert claims.link_id == link["link_id"]
    assert claims.expires_at == datetime.fromisoformat(link["expires_at"])
    with pytest.raises(PluginServiceError) as wrong:
        verify_release_link(
            token,
            key=release_link_key(SECRET),
            bundle_id="b-q1-report",
            recipient_id="r-globex",
            now=datetime.now(UTC),
        )
    assert wrong.value.code == "release_link_wrong_recipient"
