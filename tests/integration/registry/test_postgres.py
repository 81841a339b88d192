"""The registry on real PostgreSQL: migration, the operator CLI, lookups and key rotation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from capgate.contracts.errors import PluginServiceError
from capgate.database import make_session_factory, utcnow
from capgate.registry.authenticate import authenticate
from capgate.registry.authorize import authorize
from capgate.registry.rates import RateLimit
from capgate.registry.reader import RegistryReader
from tests.unit.registry.cli_steps import SERVER_SECRET, add, audit_rows, grant, run, url_of
from tests.unit.registry.support import context, envelope
from tests.unit.registry.test_migration import registry_differences

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]


def reader_for(engine: Engine) -> RegistryReader:
    # ttl=0: every lookup reads the database, as after the cache TTL.
    return RegistryReader(make_session_factory(engine), SERVER_SECRET, ttl=0)


def test_the_migrated_schema_matches_the_models(migrated_engine: Engine) -> None:
    assert migrated_engine.dialect.name == "postgresql"
    assert registry_differences(migrated_engine) == []


def test_cli_lifecycle_is_stored_and_audited(migrated_engine: Engine) -> None:
    url = url_of(migrated_engine)
    key = add(url, "digest")
    grant(url, "digest", "mailer", "email:send", "--rate", "2/second")
    grant(url, "digest", "watch", "users:write", "--kind", "trigger")
    run(url, "disable", "digest", "--actor", "dave")
    shown = run(url, "show", "digest").stdout
    assert "disabled" in shown and "2/second" in shown and "watch (trigger)" in shown
    assert key["key_secret"] not in shown
    rows = audit_rows(migrated_engine)
    assert [row.operation for row in rows] == [
        "plugins.add",
        "plugins.grant",
        "plugins.grant",
        "plugins.disable",
    ]
    assert rows[-1].actor_id == "dave"
    assert all(row.execution_kind == "lifecycle" for row in rows)
    plugin = reader_for(migrated_engine).plugin(key["plugin_id"])
    assert plugin is not None and plugin.status == "disabled"


def test_lookups_and_grant_revocation(migrated_engine: Engine) -> None:
    url = url_of(migrated_engine)
    key = add(url, "digest")
    out = grant(url, "digest", "mailer", "email:send", "--rate", "100/minute").stdout
    capability_id = out.rsplit("capability ", 1)[1].strip(" )\n")
    reader = reader_for(migrated_engine)
    capability = reader.capability(capability_id)
    assert capability is not None and capability.rate_limits == {
        "email:send": RateLimit(100, "minute")
    }
    ctx = context(plugin_id=key["plugin_id"], plugin_name="digest", capability_id=capability_id)
    assert authorize("email.send", ctx, grants=reader).allowed
    run(url, "revoke", "digest", "--capability", "mailer", "--scope", "email:send")
    with pytest.raises(PluginServiceError) as caught:
        authorize("email.send", ctx, grants=reader)
    assert caught.value.code == "scope_not_granted"
    assert caught.value.details["granted"] == []


def test_key_rotation_accepts_both_keys_until_the_old_one_is_revoked(
    migrated_engine: Engine,
) -> None:
    url = url_of(migrated_engine)
    old = add(url, "digest")
    new = add_rotated(url)
    reader = reader_for(migrated_engine)

    def signed(key: dict[str, str]) -> str:
        return envelope(
            key_id=key["key_id"],
            secret=key["key_secret"],
            issued_at=utcnow(),
            plugin_id=old["plugin_id"],
            plugin_name="digest",
        )

    in_flight = signed(old)  # sent before the revocation, still queued after it
    for key in (old, new):
        assert authenticate(signed(key), keys=reader, now=utcnow()).plugin.name == "digest"
    run(url, "revoke-key", old["key_id"])
    with pytest.raises(PluginServiceError) as caught:
        authenticate(in_flight, keys=reader, now=utcnow())
    assert caught.value.code == "revoked_key"
    assert authenticate(signed(new), keys=reader, now=utcnow()).envelope.key_id == new["key_id"]


def add_rotated(url: str) -> dict[str, str]:
    rotated: dict[str, str] = json.loads(run(url, "rotate-key", "digest", "--json").stdout)
    return rotated
