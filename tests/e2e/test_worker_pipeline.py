"""End to end: real ``capgate worker`` processes on real Redis and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from capgate.contracts.errors import PluginServiceError
from capgate.workers.tables import CommandRow
from tests.e2e.conftest import worker
from tests.e2e.workers import (
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

# Older e2e modules import these helpers from here; they now live in
# tests/e2e/workers.py (and the fixture in conftest.py).
__all__ = ["_wait_for", "audit_rows", "client_for", "name", "worker"]
_wait_for = wait_for


def test_database_operation_succeeds_and_is_audited(
    world: World, worker: WorkerProcess, e2e_settings: dict[str, str]
) -> None:
    plugin = world.add_plugin(name(), "admin", {"users:write": None})
    client = client_for(plugin, e2e_settings)
    handle = client.send("users.revoke_sessions", {"user_id": "u-bob"})
    response = handle.result(timeout=30)
    assert "revoked" in response
    assert audit_rows(world, handle.command_id) == [(1, "succeeded", None)]


def test_denials_are_audited_and_never_retried(
    world: World, worker: WorkerProcess, e2e_settings: dict[str, str]
) -> None:
    plugin = world.add_plugin(name(), "mailer", {"email:send": None})
    client = client_for(plugin, e2e_settings)
    handle = client.send("users.deactivate", {"user_id": "u-bob"})
    with pytest.raises(PluginServiceError) as caught:
        handle.result(timeout=30)
    assert caught.value.code == "scope_not_granted"
    assert audit_rows(world, handle.command_id) == [(1, "denied", "scope_not_granted")]


def test_retry_after_a_wait_longer_than_the_visibility_timeout_runs_once_per_attempt(
    world: World, worker: WorkerProcess, e2e_settings: dict[str, str], tmp_path: Path
) -> None:
    # email.send waits 15 s after a failure: longer than the 12 s visibility
    # timeout. The wait is in the schedule, not in the broker, so Redis never
    # hands the message to a second worker.
    port = free_port()
    plugin = world.add_plugin(name(), "mailer", {"email:send": None})
    client = client_for(plugin, e2e_settings)
    smtp = {"host": "127.0.0.1", "port": port, "security": "none", "sender": "a@example.com"}
    client.call(
        "email.register_provider", {"name": "relay", "kind": "smtp", "config": smtp}, timeout=30
    )
    handle = client.send("email.send", {"to": ["bob@example.com"], "subject": "hi", "text": "x"})
    server = SmtpTestServer(port)
    # Nothing listens yet: attempt 1 fails RETRYABLE (connection refused).
    deadline_rows = wait_for(lambda: audit_rows(world, handle.command_id), 30)
    assert deadline_rows[0][:2] == (1, "retry_scheduled")
    server.start()
    try:
        handle.result(timeout=60)
    finally:
        server.stop()
    rows = audit_rows(world, handle.command_id)
    assert [r[:2] for r in rows] == [(1, "retry_scheduled"), (2, "succeeded")]
    assert len(server.received) == 1


def test_worker_killed_mid_command_is_redelivered_and_completes_once(
    world: World, e2e_settings: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    server = SmtpTestServer(port).start()
    server.behaviour.data_delay = 4.0  # the worker is killed while it waits here
    plugin = world.add_plugin(name(), "mailer", {"email:send": None})
    client = client_for(plugin, e2e_settings)
    first = WorkerProcess(worker_env(e2e_settings), tmp_path / "first.log")
    try:
        first.wait_ready()
        smtp = {"host": "127.0.0.1", "port": port, "security": "none", "sender": "a@example.com"}
        client.call(
            "email.register_provider", {"name": "relay", "kind": "smtp", "config": smtp}, timeout=30
        )
        handle = client.send("email.send", {"to": ["bob@example.com"], "subject": "s", "text": "x"})
        wait_for(lambda: "capgate.email.send" in first.log.read_text(), 30)
        import time

        time.sleep(1.0)
        first.kill()
        server.behaviour.data_delay = 0.0
        second = WorkerProcess(worker_env(e2e_settings), tmp_path / "second.log")
        try:
            second.wait_ready()
            handle.result(timeout=90)
        finally:
            second.stop()
    finally:
        first.stop()
        server.stop()
    rows = audit_rows(world, handle.command_id)
    # The killed attempt may have delivered: its resend says so before it succeeds.
    assert [r[:2] for r in rows] == [(1, "resent"), (1, "succeeded")]
    with world.runtime.sessions() as session:
        command = session.get(CommandRow, handle.command_id)
    assert command is not None and command.status == "succeeded"
    # At most the killed attempt's copy and the redelivered one reached the
    # relay, and both carry the same Message-ID, so the receiver can drop one.
    ids = {m["Message-ID"] for m in server.received}
    assert len(ids) == 1
