"""A command whose worker cannot reach the result backend still runs (docs/reliability.md, 3).

In the broker-restart scenario a command was received, then acknowledged
without ever running: the broker's Redis is also the result backend, and
Celery's ``task_track_started`` wrote the STARTED state before the task
body. That write failed while Redis was down, Celery counted the task as
failed outside its body and, with late acknowledgement, acknowledged it.
Here the worker's result backend is a port nobody listens on, so every such
write fails: the command must still run and be audited.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from scenarios.servers import RedisServer
from tests.e2e.workers import WorkerProcess, audit_rows, client_for, name, wait_for, worker_env
from tests.support.services import free_port, unavailable
from tests.support.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_a_command_runs_when_the_result_backend_is_unreachable(
    world: World, e2e_settings: dict[str, str], tmp_path: Path
) -> None:
    unreachable = f"redis://127.0.0.1:{free_port()}/1"
    env = worker_env({**e2e_settings, "CAPGATE_RESULT_BACKEND": unreachable})
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        plugin = world.add_plugin(name(), "admin", {"users:write": None})
        handle = client_for(plugin, e2e_settings).send(
            "users.revoke_sessions", {"user_id": "u-bob"}
        )
        rows = wait_for(lambda: audit_rows(world, handle.command_id), 60)
        assert rows == [(1, "succeeded", None)]
    finally:
        worker.stop()


def test_a_result_written_while_the_result_backend_is_down_arrives_when_it_is_back(
    world: World, e2e_settings: dict[str, str], tmp_path: Path
) -> None:
    """The command runs and is audited while the result backend's Redis is down;
    the worker keeps retrying the result write, so the caller waiting for it
    gets it once Redis is back (before, Celery gave up at once and the caller
    timed out)."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server (the test starts its own)")
    results = RedisServer(tmp_path / "results")
    results.start()
    settings = {**e2e_settings, "CAPGATE_RESULT_BACKEND": results.url(1)}
    worker = WorkerProcess(worker_env(settings), tmp_path / "worker.log")
    try:
        worker.wait_ready()
        plugin = world.add_plugin(name(), "admin", {"users:write": None})
        client = client_for(plugin, settings)
        results.shutdown()
        handle = client.send("users.revoke_sessions", {"user_id": "u-bob"})
        rows = wait_for(lambda: audit_rows(world, handle.command_id), 60)
        assert rows == [(1, "succeeded", None)]  # ran, audited, result not stored yet
        time.sleep(2.0)
        results.start()
        assert handle.result(timeout=60)["revoked"] >= 0
    finally:
        worker.stop()
        results.shutdown()
