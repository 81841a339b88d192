"""``capgate dead-letters`` on SQLite, over dead letters made by the real pipeline."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from capgate.audit.schema import AuditEventRow
from capgate.cli.main import cli
from capgate.settings import Settings
from capgate.workers.pump import RetryPump
from capgate.workers.tables import CommandRow, DeadLetterRow, ScheduledRetryRow
from capgate.workers.tokens import RetryTokens
from capgate.workers.wiring import dead_letter_hooks
from capgate.workers.work import Delivery, VerdictKind
from tests.support.world import SECRET, Plugin, World, delivery
from tests.unit.workers.test_pipeline import failing

OP = "users.activate"
# A payload value that must never be printed by the CLI.
SECRET_PAYLOAD = "user-with-a-very-private-name-42"
HOOK_CALLS: list[dict[str, Any]] = []


def record_hook(info: dict[str, Any]) -> None:
    """A hook named by 'module:attribute' in the settings test."""
    HOOK_CALLS.append(info)


@dataclass
class Scene:
    """A world holding one command dead-lettered by a FATAL handler."""

    world: World
    plugin: Plugin
    dead_id: int
    envelope: str


@pytest.fixture
def scene(sqlite_url: str) -> Scene:
    world = World.create(sqlite_url)
    plugin = world.add_plugin("alpha", "admin", {"users:write": None})
    text = plugin.command(OP, {"user_id": SECRET_PAYLOAD})
    verdict = world.pipeline({OP: failing("FATAL", 99, [])}).run(delivery(text, OP))
    assert verdict.outcome.value == "dead_lettered"
    with world.runtime.sessions() as session:
        [row] = session.scalars(select(DeadLetterRow)).all()
    return Scene(world, plugin, row.id, text)


def run(world: World, *args: str, input: str | None = None) -> Result:
    env = {"CAPGATE_DATABASE_URL": world.runtime.settings.database_url, "CAPGATE_SECRET": SECRET}
    return CliRunner().invoke(cli, ["dead-letters", *args], env=env, input=input)


def audit_rows(world: World, operation: str) -> list[AuditEventRow]:
    with world.runtime.sessions() as session:
        stmt = select(AuditEventRow).where(AuditEventRow.operation == operation)
        return list(session.scalars(stmt))


def dead_letters(world: World) -> list[DeadLetterRow]:
    with world.runtime.sessions() as session:
        return list(session.scalars(select(DeadLetterRow)))


def test_list_shows_the_dead_command(scene: Scene) -> None:
    world = scene.world
    command_id = json.loads(scene.envelope)["command_id"]
    table = run(world, "list")
    assert table.exit_code == 0, table.output
    assert command_id in table.output and "provider_down" in table.output
    as_json = run(world, "list", "--format", "json")
    [row] = [json.loads(line) for line in as_json.output.splitlines()]
    assert (row["id"], row["operation"], row["status"]) == (scene.dead_id, OP, "dead")


def test_show_prints_error_and_history_but_never_the_payload(scene: Scene) -> None:
    world = scene.world
    result = run(world, "show", str(scene.dead_id))
    assert result.exit_code == 0, result.output
    assert "FATAL provider_down" in result.output and "attempt 1" in result.output
    assert hashlib.sha256(scene.envelope.encode()).hexdigest() in result.output
    assert SECRET_PAYLOAD not in result.output


def test_unknown_id_fails_with_a_message(scene: Scene) -> None:
    world = scene.world
    for args in (["show", "999"], ["replay", "999", "--yes"]):
        result = run(world, *args)
        assert result.exit_code != 0
        assert "no dead letter 999" in result.output


def test_replay_schedules_the_next_attempt_and_is_audited(scene: Scene) -> None:
    world = scene.world
    result = run(world, "replay", str(scene.dead_id), "--actor", "ops-ann", "--reason", "fixed")
    assert result.exit_code != 0 and dead_letters(world)[0].status == "dead"  # not confirmed
    result = run(
        world, "replay", str(scene.dead_id), "--actor", "ops-ann", "--reason", "fixed", "--yes"
    )
    assert result.exit_code == 0, result.output
    with world.runtime.sessions() as session:
        [retry] = session.scalars(select(ScheduledRetryRow)).all()
        command = session.get(CommandRow, retry.command_id)
    assert command is not None and retry.attempt == command.attempt + 1 == 2
    [row] = dead_letters(world)
    assert (row.status, row.replayed_by) == ("replayed", "ops-ann")
    [event] = audit_rows(world, "dead_letters.replay")
    assert (event.actor_id, event.reason, event.command_id) == ("ops-ann", "fixed", row.command_id)
    again = run(world, "replay", str(scene.dead_id), "--yes")
    assert again.exit_code != 0 and "already replayed" in again.output
    assert len(audit_rows(world, "dead_letters.replay")) == 1


def test_list_hides_replayed_unless_all(scene: Scene) -> None:
    world = scene.world
    assert run(world, "replay", str(scene.dead_id), "--yes").exit_code == 0
    assert "no dead letters" in run(world, "list").output
    assert "replayed" in run(world, "list", "--all").output


def test_purge_asks_and_deletes_only_when_told(scene: Scene) -> None:
    world = scene.world
    declined = run(world, "purge", input="n\n")
    assert "Delete 1 dead letter(s)" in declined.output and len(dead_letters(world)) == 1
    assert audit_rows(world, "dead_letters.purge") == []
    too_old = run(world, "purge", "--before", "2001-01-01", "--yes")
    assert "purged 0" in too_old.output and len(dead_letters(world)) == 1
    result = run(world, "purge", "--yes", "--actor", "ops-bob")
    assert result.exit_code == 0 and "purged 1" in result.output
    assert dead_letters(world) == []
    events = audit_rows(world, "dead_letters.purge")
    assert [(e.actor_id, e.request_summary["purged"]) for e in events][-1] == ("ops-bob", 1)
    assert [e.outcome for e in events] == ["succeeded"] * 2


def test_replayed_command_runs_again_as_a_new_series(scene: Scene) -> None:
    world = scene.world
    assert run(world, "replay", str(scene.dead_id), "--yes").exit_code == 0
    published: list[tuple[ScheduledRetryRow, str]] = []
    pump = RetryPump(
        world.runtime.sessions, lambda row, token: published.append((row, token)),
        RetryTokens(SECRET),
    )  # fmt: skip
    assert pump.run_once() == 1
    [(row, token)] = published
    calls: list[int] = []
    healthy = world.pipeline({OP: failing("FATAL", 0, calls)})
    redelivery = Delivery(
        body=row.envelope, task_name=row.task_name, task_id=row.task_id, retry_token=token
    )
    verdict = healthy.run(redelivery)
    assert verdict.kind is VerdictKind.SUCCEEDED and verdict.attempt == 2
    assert calls == [2]
    with world.runtime.sessions() as session:
        stmt = select(AuditEventRow).where(AuditEventRow.command_id == row.command_id)
        trail = [
            (r.attempt, r.operation, r.outcome)
            for r in session.scalars(stmt.order_by(AuditEventRow.id))
        ]
    assert trail == [
        (1, OP, "dead_lettered"),
        (1, "dead_letters.replay", "retry_scheduled"),
        (2, OP, "succeeded"),
    ]


def test_a_hook_is_called_with_the_dead_letter(sqlite_url: str) -> None:
    world = World.create(sqlite_url)
    plugin = world.add_plugin("alpha", "admin", {"users:write": None})
    seen: list[dict[str, Any]] = []
    pipeline = world.pipeline({OP: failing("FATAL", 99, [])}, hooks=(seen.append,))
    text = plugin.command(OP, {"user_id": "u-1"})
    pipeline.run(delivery(text, OP))
    [row] = dead_letters(world)
    [info] = seen
    assert info["dead_letter_id"] == row.id and info["operation"] == OP
    assert info["command_id"] == json.loads(text)["command_id"]
    assert info["error"]["code"] == "provider_down"


def test_hooks_are_loaded_from_the_settings() -> None:
    settings = Settings(dead_letter_hooks=[f"{__name__}:record_hook"])
    [hook] = dead_letter_hooks(settings)
    hook({"dead_letter_id": 7})
    assert HOOK_CALLS[-1] == {"dead_letter_id": 7}
    with pytest.raises(ValueError, match=r"CAPGATE_DEAD_LETTER_HOOKS\[0\]"):
        dead_letter_hooks(Settings(dead_letter_hooks=["no_colon_here"]))
