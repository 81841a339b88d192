"""``capgate plugins`` on SQLite: each change is printed, stored and audited together."""

from __future__ import annotations

from sqlalchemy import Engine

from capgate.database import make_session_factory, utcnow
from capgate.registry.authenticate import authenticate
from capgate.registry.reader import RegistryReader
from tests.unit.registry.cli_steps import SERVER_SECRET, add, audit_rows, grant, run, url_of
from tests.unit.registry.support import envelope


def test_add_prints_the_key_once_and_show_never_does(registry_engine: Engine) -> None:
    url = url_of(registry_engine)
    printed = run(url, "add", "digest", "--actor", "carol").stdout
    secret = next(
        line.split()[-1] for line in printed.splitlines() if line.startswith("key secret")
    )
    shown = run(url, "show", "digest").stdout + run(url, "list").stdout
    assert "digest" in shown and secret not in shown
    [row] = audit_rows(registry_engine)
    assert (row.operation, row.actor_id, row.execution_kind) == (
        "plugins.add",
        "carol",
        "lifecycle",
    )
    assert secret not in str(vars(row))


def test_the_printed_key_signs_commands_the_worker_accepts(registry_engine: Engine) -> None:
    url = url_of(registry_engine)
    key = add(url, "digest")
    grant(url, "digest", "mailer", "email:send")
    reader = RegistryReader(make_session_factory(registry_engine), SERVER_SECRET)
    raw = envelope(
        key_id=key["key_id"],
        secret=key["key_secret"],
        issued_at=utcnow(),
        plugin_id=key["plugin_id"],
        plugin_name="digest",
    )
    assert authenticate(raw, keys=reader, now=utcnow()).plugin.name == "digest"


def test_every_change_writes_one_audit_row(registry_engine: Engine) -> None:
    url = url_of(registry_engine)
    first = add(url, "digest")
    grant(url, "digest", "mailer", "email:send", "--rate", "100/minute")
    run(url, "revoke", "digest", "--capability", "mailer", "--scope", "email:send")
    run(url, "rotate-key", "digest", "--revoke-old-after", "5")
    run(url, "revoke-key", first["key_id"], "--reason", "leaked")
    run(url, "disable", "digest")
    run(url, "enable", "digest")
    rows = audit_rows(registry_engine)
    assert [row.operation for row in rows] == [
        "plugins.add",
        "plugins.grant",
        "plugins.revoke",
        "plugins.rotate_key",
        "plugins.revoke_key",
        "plugins.disable",
        "plugins.enable",
    ]
    assert rows[1].granted_scopes == ["email:send"]
    assert rows[1].request_summary["rate_limit"] == "100/minute"
    assert rows[4].reason == "leaked"
    assert {row.plugin_name for row in rows} == {"digest"}


def test_a_refused_change_writes_nothing(registry_engine: Engine) -> None:
    url = url_of(registry_engine)
    add(url, "digest")
    result = run(
        url, "revoke", "digest", "--capability", "mailer", "--scope", "email:send", ok=False
    )
    assert "unknown_capability" in result.output
    result = run(url, "add", "digest", ok=False)
    assert "plugin_exists" in result.output
    assert len(audit_rows(registry_engine)) == 1


def test_bad_rates_and_scopes_get_clear_errors(registry_engine: Engine) -> None:
    url = url_of(registry_engine)
    add(url, "digest")
    bad_rate = grant(url, "digest", "m", "email:send", "--rate", "9/fortnight", ok=False)
    assert "unknown period 'fortnight'" in bad_rate.output
    bad_scope = grant(url, "digest", "m", "mail", ok=False)
    assert "unknown_scope" in bad_scope.output and "email:send" in bad_scope.output
    both = run(url, "rotate-key", "digest", "--revoke-old", "--revoke-old-after", "1", ok=False)
    assert "not both" in both.output


def test_rotate_key_with_revoke_old_leaves_one_usable_key(registry_engine: Engine) -> None:
    url = url_of(registry_engine)
    first = add(url, "digest")
    second = run(url, "rotate-key", "digest", "--revoke-old", "--json").stdout
    shown = run(url, "show", "digest").stdout
    assert f"{first['key_id']}  revoked" in shown
    assert first["key_secret"] not in shown and "key_secret" in second
    [row] = [line.split() for line in run(url, "list").stdout.splitlines() if "digest" in line]
    assert row[1:4] == ["active", "0", "1"]  # status, capabilities, usable keys


def test_a_database_that_was_never_migrated_gets_a_hint(tmp_path: object) -> None:
    result = run(f"sqlite:///{tmp_path}/empty.db", "list", ok=False)
    assert "capgate db upgrade" in result.output


def test_a_concurrent_conflict_says_to_run_again() -> None:
    from sqlalchemy.exc import IntegrityError

    from capgate.cli.plugins import _fail

    error = _fail(IntegrityError("INSERT ...", {}, Exception("duplicate key")))
    assert "run it again" in error.message
