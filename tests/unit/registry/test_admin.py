"""Operator changes to the registry, each with its audit event in the same transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from capgate.contracts.context import ExecutionKind
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.database import unit_of_work, utcnow
from capgate.registry.sealing import KeySealer
from capgate.registry.tables import Capability, Plugin, PluginStatus, SigningKey
from capgate.registry.views import list_plugins, show_plugin
from tests.unit.registry.conftest import SERVER_SECRET
from tests.unit.registry.fakes import AdminFactory, RecordedEvents


def test_add_stores_the_key_sealed_and_audits(
    sessions: sessionmaker[Session], admin_in: AdminFactory, audit_log: RecordedEvents
) -> None:
    with unit_of_work(sessions) as session:
        issued = admin_in(session).add_plugin("digest")
    with sessions() as session:
        key = session.get_one(SigningKey, issued.key_id)
        plugin = session.get_one(Plugin, issued.plugin_id)
    assert plugin.name == "digest" and plugin.status == "active"
    assert issued.secret not in key.sealed_secret
    assert KeySealer(SERVER_SECRET).open(key.id, key.sealed_secret) == issued.secret
    assert issued.secret not in repr(issued)
    [event] = audit_log
    assert event.operation == "plugins.add"
    assert event.execution_kind == "lifecycle"
    assert (event.actor_id, event.plugin_id, event.key_id) == ("alice", plugin.id, key.id)
    assert issued.secret not in event.model_dump_json()


def test_a_name_is_registered_once(sessions: sessionmaker[Session], admin_in: AdminFactory) -> None:
    with unit_of_work(sessions) as session:
        admin_in(session).add_plugin("digest")
    with pytest.raises(PluginServiceError) as caught, unit_of_work(sessions) as session:
        admin_in(session).add_plugin("digest")
    assert caught.value.code == "plugin_exists"


@pytest.mark.parametrize("name", ["Digest", "9lives", "a b", "x" * 65, ""])
def test_names_plugins_cannot_use_are_refused(
    sessions: sessionmaker[Session], admin_in: AdminFactory, name: str
) -> None:
    with pytest.raises(PluginServiceError) as caught, unit_of_work(sessions) as session:
        admin_in(session).add_plugin(name)
    assert caught.value.code == "invalid_plugin_name"


def test_grant_creates_the_capability_then_updates_the_rate(
    sessions: sessionmaker[Session], admin_in: AdminFactory, audit_log: RecordedEvents
) -> None:
    with unit_of_work(sessions) as session:
        admin = admin_in(session)
        admin.add_plugin("digest")
        admin.grant("digest", "mailer", "email:send", rate="100/minute")
        admin.grant("digest", "mailer", "email:send", rate="5/second")
        admin.grant("digest", "mailer", "users:write")
    with sessions() as session:
        view = show_plugin(session, "digest")
    [capability] = view.capabilities
    assert capability.kind == "action"
    assert [(g.scope, g.rate_limit) for g in capability.grants] == [
        ("email:send", "5/second"),
        ("users:write", None),
    ]
    assert audit_log.operations() == ["plugins.add"] + ["plugins.grant"] * 3
    assert audit_log[1].granted_scopes == ("email:send",)
    assert audit_log[1].capability_key == "mailer"


def test_grant_refuses_unknown_scope_plugin_and_rate(
    sessions: sessionmaker[Session], admin_in: AdminFactory
) -> None:
    with unit_of_work(sessions) as session:
        admin_in(session).add_plugin("digest")
    cases = [
        (("digest", "mailer", "email:sendx"), {}, "unknown_scope"),
        (("nobody", "mailer", "email:send"), {}, "unknown_plugin"),
        (("digest", "bad key!", "email:send"), {}, "invalid_identifier"),
    ]
    for args, options, code in cases:
        with pytest.raises(PluginServiceError) as caught, unit_of_work(sessions) as session:
            admin_in(session).grant(*args, **options)
        assert caught.value.code == code
    with pytest.raises(PluginServiceError, match="unknown period"), unit_of_work(sessions) as s:
        admin_in(s).grant("digest", "mailer", "email:send", rate="1/fortnight")


def test_grant_with_a_conflicting_kind_is_refused(
    sessions: sessionmaker[Session], admin_in: AdminFactory
) -> None:
    with unit_of_work(sessions) as session:
        admin = admin_in(session)
        admin.add_plugin("digest")
        admin.grant("digest", "watcher", "email:send", kind=ExecutionKind.TRIGGER)
    with pytest.raises(PluginServiceError) as caught, unit_of_work(sessions) as session:
        admin_in(session).grant("digest", "watcher", "users:write", kind=ExecutionKind.ACTION)
    assert caught.value.code == "capability_kind_conflict"


def test_revoke_removes_one_scope(
    sessions: sessionmaker[Session], admin_in: AdminFactory, audit_log: RecordedEvents
) -> None:
    with unit_of_work(sessions) as session:
        admin = admin_in(session)
        admin.add_plugin("digest")
        admin.grant("digest", "mailer", "email:send")
        admin.grant("digest", "mailer", "users:write")
        admin.revoke("digest", "mailer", "users:write")
    with sessions() as session:
        [capability] = session.query(Capability).all()
        assert [g.scope for g in capability.grants] == ["email:send"]
    assert audit_log[-1].operation == "plugins.revoke"
    assert audit_log[-1].denied_scopes == ("users:write",)
    with pytest.raises(PluginServiceError) as caught, unit_of_work(sessions) as session:
        admin_in(session).revoke("digest", "mailer", "users:write")
    assert (caught.value.kind, caught.value.code) == (ErrorKind.NOT_FOUND, "grant_not_found")


def test_rotation_keeps_the_old_key_until_its_grace_ends(
    sessions: sessionmaker[Session], admin_in: AdminFactory, audit_log: RecordedEvents
) -> None:
    with unit_of_work(sessions) as session:
        first = admin_in(session).add_plugin("digest")
    with unit_of_work(sessions) as session:
        second = admin_in(session).rotate_key("digest", revoke_old_after=timedelta(minutes=10))
    now = utcnow()
    with sessions() as session:
        old = session.get_one(SigningKey, first.key_id)
        new = session.get_one(SigningKey, second.key_id)
        summary = list_plugins(session, now)
    assert second.key_id != first.key_id and second.secret != first.secret
    assert old.rotated_at is not None and not old.is_revoked(now)
    assert old.is_revoked(now + timedelta(minutes=11))
    assert new.revoked_at is None
    assert summary[0].active_keys == 2
    assert audit_log[-1].request_summary["old_key_ids"] == [first.key_id]


def test_revoke_key_takes_effect_at_once_and_is_audited(
    sessions: sessionmaker[Session], admin_in: AdminFactory, audit_log: RecordedEvents
) -> None:
    with unit_of_work(sessions) as session:
        issued = admin_in(session).add_plugin("digest")
    with unit_of_work(sessions) as session:
        admin_in(session, actor="bob").revoke_key(issued.key_id)
    with sessions() as session:
        assert session.get_one(SigningKey, issued.key_id).is_revoked(utcnow())
        assert list_plugins(session, utcnow())[0].active_keys == 0
    assert (audit_log[-1].operation, audit_log[-1].actor_id) == ("plugins.revoke_key", "bob")
    with pytest.raises(PluginServiceError) as caught, unit_of_work(sessions) as session:
        admin_in(session).revoke_key("key-nobody")
    assert caught.value.code == "unknown_key"


def test_disable_and_enable(
    sessions: sessionmaker[Session], admin_in: AdminFactory, audit_log: RecordedEvents
) -> None:
    with unit_of_work(sessions) as session:
        admin_in(session).add_plugin("digest")
        admin_in(session).set_status("digest", PluginStatus.DISABLED)
    with sessions() as session:
        assert show_plugin(session, "digest").status == "disabled"
    with unit_of_work(sessions) as session:
        admin_in(session).set_status("digest", PluginStatus.ACTIVE)
    with sessions() as session:
        assert show_plugin(session, "digest").status == "active"
    assert audit_log.operations()[1:] == ["plugins.disable", "plugins.enable"]


def test_a_failed_change_leaves_nothing_behind(
    sessions: sessionmaker[Session], admin_in: AdminFactory
) -> None:
    with pytest.raises(PluginServiceError), unit_of_work(sessions) as session:
        admin = admin_in(session)
        admin.add_plugin("digest")
        admin.grant("digest", "mailer", "no:such-scope")
    with sessions() as session:
        assert list_plugins(session, utcnow()) == []
