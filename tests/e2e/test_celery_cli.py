"""End to end: the plain ``celery -A capgate.workers.main worker`` command runs commands too.

Operators who manage Celery themselves start workers with Celery's own
command line, one queue per service; this is that command, from the same
virtual environment, with nothing but the CAPGATE_* environment.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from capgate.adapters.user_tables import User
from capgate.workers.celery_app import queue_names
from tests.e2e.test_raw_protocol import EMPTY_EMBED, QUEUE, message
from tests.e2e.workers import WorkerProcess, audit_rows, client_for, name, wait_for, worker_env
from tests.support.services import free_port
from tests.support.smtp_server import SmtpTestServer
from tests.support.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CELERY = str(Path(sys.executable).parent / "celery")


class CeleryWorker(WorkerProcess):
    """``celery -A capgate.workers.main worker``, watched like a ``capgate worker``."""

    def command(self, *args: str) -> list[str]:
        """Celery's own command line instead of ``capgate worker``."""
        hostname = f"celery{time.monotonic_ns()}@%h"
        return [
            CELERY,
            "-A",
            "capgate.workers.main",
            "worker",
            "--loglevel=INFO",
            "--concurrency=1",
            "--hostname",
            hostname,
            *args,
        ]


@pytest.fixture
def celery_worker(
    world: World, e2e_settings: dict[str, str], tmp_path: Path
) -> Iterator[CeleryWorker]:
    process = CeleryWorker(worker_env(e2e_settings), tmp_path / "celery.log", "-Q", "capgate.users")
    process.wait_ready()
    yield process
    process.stop()


def test_celery_command_line_worker_runs_a_users_command(
    world: World, celery_worker: CeleryWorker, e2e_settings: dict[str, str]
) -> None:
    client = client_for(world.add_plugin(name(), "admin", {"users:write": None}), e2e_settings)
    handle = client.send("users.deactivate", {"user_id": "u-carol"})
    assert handle.result(timeout=30) == {"user_id": "u-carol", "active": False, "changed": True}
    assert audit_rows(world, handle.command_id) == [(1, "succeeded", None)]
    with world.runtime.sessions() as session:
        assert session.scalars(select(User.active).where(User.id == "u-carol")).one() is False
    log = celery_worker.log.read_text()
    # Celery's own worker consumed it, from the one queue it was told to serve.
    assert f"Task capgate.users.deactivate[{handle.command_id}] received" in log
    assert [line.split()[1] for line in log.splitlines() if "exchange=capgate" in line] == [
        "capgate.users"
    ]


@pytest.fixture
def plain_celery_worker(
    world: World, e2e_settings: dict[str, str], tmp_path: Path
) -> Iterator[CeleryWorker]:
    """``celery -A capgate.workers.main worker`` with no -Q, as the README offers it."""
    process = CeleryWorker(worker_env(e2e_settings), tmp_path / "celery.log")
    process.wait_ready()
    yield process
    process.stop()


def test_celery_command_line_worker_runs_the_retry_pump(
    world: World, plain_celery_worker: CeleryWorker, e2e_settings: dict[str, str]
) -> None:
    port = free_port()
    plugin = world.add_plugin(name(), "mailer", {"email:send": None})
    client = client_for(plugin, e2e_settings)
    smtp = {"host": "127.0.0.1", "port": port, "security": "none", "sender": "a@example.com"}
    client.call(
        "email.register_provider", {"name": "relay", "kind": "smtp", "config": smtp}, timeout=30
    )
    handle = client.send("email.send", {"to": ["bob@example.com"], "subject": "hi", "text": "x"})
    # Nothing listens yet: attempt 1 fails RETRYABLE and schedules a retry...
    assert wait_for(lambda: audit_rows(world, handle.command_id), 30)[0][:2] == (
        1,
        "retry_scheduled",
    )
    server = SmtpTestServer(port).start()
    try:
        # ...which this worker's pump publishes when due (email.send waits 15 s).
        handle.result(timeout=60)
    finally:
        server.stop()
    assert [r[:2] for r in audit_rows(world, handle.command_id)] == [
        (1, "retry_scheduled"),
        (2, "succeeded"),
    ]
    assert len(server.received) == 1


def test_celery_command_line_worker_serves_the_plugin_queues_only(
    plain_celery_worker: CeleryWorker,
) -> None:
    log_path = plain_celery_worker.log
    queues = [
        line.split()[1] for line in log_path.read_text().splitlines() if "exchange=capgate" in line
    ]
    assert "capgate.internal" not in queues
    assert sorted(queues) == sorted(queue_names())


def test_celery_command_line_worker_withholds_message_bodies_from_its_log(
    plain_celery_worker: CeleryWorker, e2e_settings: dict[str, str]
) -> None:
    log_path = plain_celery_worker.log
    # A message Celery cannot run is logged with its body quoted, unless
    # capgate's log formatting is installed.
    marker = f"body-marker-{uuid.uuid4().hex}"
    task_id = str(uuid.uuid4())
    broker = redis.Redis.from_url(e2e_settings["CAPGATE_BROKER_URL"])
    try:
        body = json.dumps([[marker], {}, EMPTY_EMBED]).encode()
        broker.lpush(QUEUE, message("capgate.no_such_task", task_id, body))
        wait_for(lambda: "capgate.no_such_task" in log_path.read_text(errors="replace") or None, 30)
    finally:
        broker.close()
    log = log_path.read_text(errors="replace")
    assert "withheld by capgate" in log
    assert marker not in log
