"""``capgate health`` against real PostgreSQL and Redis, and with a part unreachable."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from capgate.cli.main import cli
from capgate.database import make_engine
from capgate.migrate import head_revision, upgrade
from tests.conftest import _reset_postgres
from tests.support.services import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def env(postgres_url: str, redis_url: str) -> Iterator[dict[str, str]]:
    """Settings of a healthy deployment: migrated PostgreSQL, Redis databases 7-9."""
    engine = make_engine(postgres_url)
    upgrade(engine)
    base = redis_url.rstrip("/")
    yield {
        "CAPGATE_DATABASE_URL": postgres_url,
        "CAPGATE_BROKER_URL": f"{base}/7",
        "CAPGATE_RESULT_BACKEND": f"{base}/8",
        "CAPGATE_RATE_LIMIT_URL": f"{base}/9",
    }
    _reset_postgres(engine)
    engine.dispose()


def health(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, ["health", "--timeout", "2", *args], env=env)


def test_every_part_reachable_prints_ok_lines_and_exits_0(env: dict[str, str]) -> None:
    result = health(env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["ok", "broker"],
        ["ok", "database"],
        ["ok", "migrations"],
        ["ok", "result-backend"],
        ["ok", "rate-limit-store"],
    ]
    assert lines[0] == f"ok broker {env['CAPGATE_BROKER_URL']}"
    engine = make_engine(env["CAPGATE_DATABASE_URL"])
    try:
        assert lines[2].endswith(f"at {head_revision(engine)}")  # the newest migration
    finally:
        engine.dispose()


def test_an_unreachable_rate_limit_store_fails_by_name_and_exits_1(env: dict[str, str]) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    result = health({**env, "CAPGATE_RATE_LIMIT_URL": closed})
    assert result.exit_code == 1
    failed = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert failed == [f"FAIL rate-limit-store {closed}: {failed[0].split(': ', 1)[1]}"]
    assert "refused" in failed[0].lower()


def test_a_broker_password_is_never_printed_and_json_names_the_failure(
    env: dict[str, str],
) -> None:
    broker = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    result = health({**env, "CAPGATE_BROKER_URL": broker}, "--json")
    assert result.exit_code == 1
    assert "hunter2-secret" not in result.output
    report = json.loads(result.output)
    assert report["ok"] is False
    by_name = {check["name"]: check for check in report["checks"]}
    assert by_name["broker"]["ok"] is False
    assert by_name["broker"]["target"].startswith("redis://:***@127.0.0.1:")
    assert all(by_name[name]["ok"] for name in ("database", "migrations", "rate-limit-store"))


def test_an_unmigrated_database_fails_the_migrations_check(
    env: dict[str, str], sqlite_url: str
) -> None:
    result = health({**env, "CAPGATE_DATABASE_URL": sqlite_url})
    assert result.exit_code == 1
    assert "ok database" in result.output
    assert "FAIL migrations" in result.output and "capgate db upgrade" in result.output


def test_an_unreachable_database_fails_database_and_migrations(env: dict[str, str]) -> None:
    closed = f"postgresql://capgate@127.0.0.1:{free_port()}/capgate"
    result = health({**env, "CAPGATE_DATABASE_URL": closed})
    assert result.exit_code == 1
    failed = [line.split()[1] for line in result.output.splitlines() if line.startswith("FAIL")]
    assert failed == ["database", "migrations"]
