"""``capgate audit tail|export|verify|prune`` on a database with rows."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from capgate.audit.events import Outcome
from capgate.audit.query import AuditFilter, follow
from capgate.audit.store import AuditStore
from capgate.cli.main import cli
from capgate.database import make_session_factory
from tests.integration.audit_support import SECRET, behind_the_triggers, event


@pytest.fixture
def runner(
    migrated_engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    """A CLI runner pointed at a migrated database holding five rows."""
    monkeypatch.setenv("CAPGATE_DATABASE_URL", database_url)
    monkeypatch.setenv("CAPGATE_SECRET", SECRET)
    store = AuditStore(make_session_factory(migrated_engine), secret=SECRET)
    store.record_many(
        [
            event(command_id="c-1", plugin_name="digest", outcome=Outcome.SUCCEEDED),
            event(command_id="c-2", plugin_name="digest", outcome=Outcome.FAILED),
            event(command_id="c-3", plugin_name="backup", operation="storage.create_link"),
            event(command_id="c-4", plugin_name="backup", correlation_id="corr-9"),
            event(command_id="c-5", plugin_name="digest", capability_key="daily"),
        ]
    )
    return CliRunner()


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_db_upgrade_twice_is_safe(runner: CliRunner) -> None:
    assert "database at revision" in _ok(runner, "db", "upgrade")
    assert "database at revision" in _ok(runner, "db", "upgrade")


def test_tail_prints_the_newest_rows_oldest_first(runner: CliRunner) -> None:
    lines = _ok(runner, "audit", "tail", "-n", "2").splitlines()
    assert lines[0].split()[:3] == ["id", "recorded_at", "outcome"]
    assert [line.split()[-2] for line in lines[1:]] == ["c-4", "c-5"]


def test_export_jsonl_filters_by_plugin_and_outcome(runner: CliRunner) -> None:
    out = _ok(runner, "audit", "export", "--format", "jsonl", "--plugin", "digest")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["command_id"] for r in rows] == ["c-1", "c-2", "c-5"]
    assert rows[0]["requested_scopes"] == ["email:send"]
    out = _ok(runner, "audit", "export", "--format", "jsonl", "--outcome", "failed")
    assert [json.loads(line)["command_id"] for line in out.splitlines()] == ["c-2"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (("--capability", "daily"), ["c-5"]),
        (("--operation", "storage.create_link"), ["c-3"]),
        (("--correlation-id", "corr-9"), ["c-4"]),
        (("--command-id", "c-2"), ["c-2"]),
        (("--since", "2000-01-01", "--until", "2000-01-02"), []),
        (("--since", "2000-01-01T00:00:00+00:00"), ["c-1", "c-2", "c-3", "c-4", "c-5"]),
    ],
)
def test_export_csv_filters(runner: CliRunner, flags: tuple[str, ...], expected: list[str]) -> None:
    out = _ok(runner, "audit", "export", "--format", "csv", *flags)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["command_id"] for r in rows] == expected


def test_export_shows_no_progress_when_stderr_is_not_a_terminal(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["audit", "export", "--format", "jsonl"])
    assert result.exit_code == 0 and result.stderr == ""


def test_a_bad_date_is_a_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["audit", "export", "--since", "yesterday"])
    assert result.exit_code == 2 and "not an ISO date" in result.output


def test_verify_passes_then_names_the_edited_row(
    runner: CliRunner, migrated_engine: Engine
) -> None:
    assert "audit trail intact" in _ok(runner, "audit", "verify")
    with behind_the_triggers(migrated_engine) as connection:
        connection.execute(text("UPDATE audit_events SET plugin_name = 'evil' WHERE id = 3"))
    result = runner.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert "first problem: row 3 edited" in result.stderr


def test_prune_leaves_its_own_row(runner: CliRunner) -> None:
    out = _ok(runner, "audit", "prune", "--before", "2000-01-01", "--actor", "ops-anna")
    assert "deleted 0 rows" in out
    rows = [json.loads(x) for x in _ok(runner, "audit", "export", "--format", "jsonl").splitlines()]
    assert rows[-1]["operation"] == "audit.prune" and rows[-1]["actor_id"] == "ops-anna"
    assert "audit trail intact" in _ok(runner, "audit", "verify")
    result = runner.invoke(cli, ["audit", "prune", "--before", "2999-01-01"])
    assert result.exit_code == 2 and "future" in result.output


def test_follow_yields_rows_written_later(runner: CliRunner, migrated_engine: Engine) -> None:
    store = AuditStore(make_session_factory(migrated_engine), secret=SECRET)
    writes = iter([lambda: store.record(event(command_id="late-1")), lambda: None])
    rows = list(
        follow(migrated_engine, AuditFilter(), after=5, polls=2, sleep=lambda _s: next(writes)())
    )
    assert [r["command_id"] for r in rows] == ["late-1"]
