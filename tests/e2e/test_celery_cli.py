"""End to end: the plain ``celery -A capgate.workers.main worker`` command runs commands too.

Operators who manage Celery themselves start workers with Celery's own
command line, one queue per service; this is that command, from the same
virtual environment, with nothing but the CAPGATE_* environment.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from capgate.adapters.user_tables import User
from tests.e2e.workers import WorkerProcess, audit_rows, client_for, name, worker_env
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
