"""End to end: an email that exhausts its attempts, replayed by an operator with the CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from capgate.workers.tables import DeadLetterRow
from tests.e2e.workers import (
    CAPGATE,
    WorkerProcess,
    audit_rows,
    client_for,
    name,
    wait_for,
    worker_env,
)
from tests.support.services import free_port
from tests.support.smtp_server import SmtpTestServer
from tests.support.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def dead_letter_ids(world: World, command_id: str) -> list[int]:
    with world.runtime.sessions() as session:
        stmt = select(DeadLetterRow.id).where(DeadLetterRow.command_id == command_id)
        return list(session.scalars(stmt))


def test_exhausted_email_is_replayed_from_the_cli_and_delivered_once(
    world: World, e2e_settings: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here until the replay
    plugin = world.add_plugin(name(), "mailer", {"email:send": None})
    client = client_for(plugin, e2e_settings)
    env = worker_env(e2e_settings)
    worker = WorkerProcess(env, tmp_path / "worker.log")
    server = SmtpTestServer(port)
    try:
        worker.wait_ready()
        smtp = {"host": "127.0.0.1", "port": port, "security": "none", "sender": "a@example.com"}
        client.call(
            "email.register_provider", {"name": "relay", "kind": "smtp", "config": smtp}, timeout=30
        )
        handle = client.send("email.send", {"to": ["bob@example.com"], "subject": "s", "text": "x"})
        # max_attempts=3 with sub-second waits (tests/e2e/workers.py policies()).
        [dead_id] = wait_for(lambda: dead_letter_ids(world, handle.command_id), 60)
        listed = subprocess.run(
            [CAPGATE, "dead-letters", "list"], env=env, capture_output=True, text=True, check=True
        )
        assert handle.command_id in listed.stdout
        server.start()
        try:
            replay = [CAPGATE, "dead-letters", "replay", str(dead_id), "--yes", "--actor", "ops"]
            done = subprocess.run(replay, env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            wait_for(lambda: audit_rows(world, handle.command_id)[-1][1] == "succeeded", 60)
        finally:
            server.stop()
    finally:
        worker.stop()
    assert [r[:2] for r in audit_rows(world, handle.command_id)] == [
        (1, "retry_scheduled"),
        (2, "retry_scheduled"),
        (3, "dead_lettered"),
        (3, "retry_scheduled"),  # the operator's replay (dead_letters.replay)
        (4, "succeeded"),
    ]
    assert len(server.received) == 1
