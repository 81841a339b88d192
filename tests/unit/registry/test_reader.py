"""The worker reads keys and grants from the database at execution time, cached briefly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.database import make_engine, make_session_factory, unit_of_work, utcnow
from capgate.registry.admin import IssuedKey
from capgate.registry.authenticate import authenticate
from capgate.registry.authorize import authorize
from capgate.registry.rates import RateLimit
from capgate.registry.reader import RegistryReader
from capgate.registry.tables import PluginStatus
from tests.unit.registry.conftest import SERVER_SECRET
from tests.unit.registry.fakes import AdminFactory
from tests.unit.registry.support import context, envelope


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def digest(sessions: sessionmaker[Session], admin_in: AdminFactory) -> tuple[IssuedKey, str]:
    """Plugin ``digest`` with capability ``mailer`` granted email:send at 100/minute."""
    with unit_of_work(sessions) as session:
        admin = admin_in(session)
        issued = admin.add_plugin("digest")
        capability = admin.grant("digest", "mailer", "email:send", rate="100/minute")
        return issued, capability.id


def signed(issued: IssuedKey, capability_id: str) -> str:
    return envelope(
        key_id=issued.key_id,
        secret=issued.secret,
        issued_at=utcnow(),
        plugin_id=issued.plugin_id,
        plugin_name="digest",
        capability_id=capability_id,
    )


def test_lookups_return_what_the_operator_registered(
    sessions: sessionmaker[Session], digest: tuple[IssuedKey, str]
) -> None:
    issued, capability_id = digest
    reader = RegistryReader(sessions, SERVER_SECRET)
    key = reader.key(issued.key_id)
    assert key is not None and key.secret == issued.secret and key.plugin_id == issued.plugin_id
    plugin = reader.plugin(issued.plugin_id)
    assert plugin is not None and plugin.name == "digest" and plugin.is_active
    capability = reader.capability(capability_id)
    assert capability is not None
    assert capability.scopes == {"email:send"}
    assert capability.rate_limits == {"email:send": RateLimit(100, "minute")}
    assert reader.key("key-nobody") is None and reader.capability("nobody") is None


def test_a_command_from_the_database_registry_passes_both_steps(
    sessions: sessionmaker[Session], digest: tuple[IssuedKey, str]
) -> None:
    issued, capability_id = digest
    reader = RegistryReader(sessions, SERVER_SECRET)
    command = authenticate(signed(issued, capability_id), keys=reader, now=utcnow())
    decision = authorize("email.send", command.envelope.context, grants=reader)
    assert decision.granted == ("email:send",)


def test_a_grant_revoked_while_waiting_denies_once_the_cache_expires(
    sessions: sessionmaker[Session], admin_in: AdminFactory, digest: tuple[IssuedKey, str]
) -> None:
    issued, capability_id = digest
    clock = Clock()
    reader = RegistryReader(sessions, SERVER_SECRET, ttl=5, clock=clock)
    ctx = context(plugin_id=issued.plugin_id, plugin_name="digest", capability_id=capability_id)
    authorize("email.send", ctx, grants=reader)
    with unit_of_work(sessions) as session:
        admin_in(session).revoke("digest", "mailer", "email:send")
    clock.now += 4.9  # within the TTL the cached grant is still used
    authorize("email.send", ctx, grants=reader)
    clock.now += 0.2
    with pytest.raises(PluginServiceError) as caught:
        authorize("email.send", ctx, grants=reader)
    assert caught.value.code == "scope_not_granted"


def test_ttl_zero_reads_the_database_every_time(
    sessions: sessionmaker[Session], admin_in: AdminFactory, digest: tuple[IssuedKey, str]
) -> None:
    issued, _ = digest
    reader = RegistryReader(sessions, SERVER_SECRET, ttl=0)
    assert reader.plugin(issued.plugin_id) is not None
    with unit_of_work(sessions) as session:
        admin_in(session).set_status("digest", PluginStatus.DISABLED)
    plugin = reader.plugin(issued.plugin_id)
    assert plugin is not None and not plugin.is_active


def test_key_rotation_old_key_works_until_revoked(
    sessions: sessionmaker[Session], admin_in: AdminFactory, digest: tuple[IssuedKey, str]
) -> None:
    old, capability_id = digest
    reader = RegistryReader(sessions, SERVER_SECRET, ttl=0)
    with unit_of_work(sessions) as session:
        new = admin_in(session).rotate_key("digest")
    for key in (old, new):  # both active during the rotation
        authenticate(signed(key, capability_id), keys=reader, now=utcnow())
    with unit_of_work(sessions) as session:
        admin_in(session).revoke_key(old.key_id)
    with pytest.raises(PluginServiceError) as caught:
        authenticate(signed(old, capability_id), keys=reader, now=utcnow())
    assert caught.value.code == "revoked_key"
    authenticate(signed(new, capability_id), keys=reader, now=utcnow())


def test_scheduled_revocation_takes_effect_at_its_time(
    sessions: sessionmaker[Session], admin_in: AdminFactory, digest: tuple[IssuedKey, str]
) -> None:
    old, capability_id = digest
    reader = RegistryReader(sessions, SERVER_SECRET, ttl=0)
    with unit_of_work(sessions) as session:
        admin_in(session).rotate_key("digest", revoke_old_after=timedelta(minutes=10))
    raw = signed(old, capability_id)
    authenticate(raw, keys=reader, now=utcnow() + timedelta(minutes=9))
    with pytest.raises(PluginServiceError) as caught:
        authenticate(raw, keys=reader, now=utcnow() + timedelta(minutes=10, seconds=1))
    assert caught.value.code == "revoked_key"


def test_a_wrong_server_secret_is_fatal_not_a_bad_signature(
    sessions: sessionmaker[Session], digest: tuple[IssuedKey, str]
) -> None:
    issued, _ = digest
    with pytest.raises(PluginServiceError) as caught:
        RegistryReader(sessions, "another-server-secret").key(issued.key_id)
    assert (caught.value.kind, caught.value.code) == (ErrorKind.FATAL, "signing_key_unreadable")


def test_an_unreachable_database_is_retryable(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/missing/dir/registry.db")
    try:
        with pytest.raises(PluginServiceError) as caught:
            RegistryReader(make_session_factory(engine), SERVER_SECRET).plugin("p")
    finally:
        engine.dispose()
    assert (caught.value.kind, caught.value.code) == (ErrorKind.RETRYABLE, "registry_unavailable")


def test_the_cache_is_bounded(
    sessions: sessionmaker[Session], digest: tuple[IssuedKey, str]
) -> None:
    issued, _ = digest
    clock = Clock()
    reader = RegistryReader(sessions, SERVER_SECRET, ttl=60, clock=clock, max_entries=2)
    reader.plugin(issued.plugin_id)
    reader.plugin("a")
    reader.plugin("b")  # pushes the oldest entry out
    with unit_of_work(sessions) as session:
        session.execute(text("UPDATE plugins SET status = 'disabled'"))
    plugin = reader.plugin(issued.plugin_id)
    assert plugin is not None and not plugin.is_active
