"""A command whose attempt is killed at the hard time limit is run again and audited.

Celery acknowledges a message whose task hit the hard time limit unless the
task says otherwise (``acks_on_timeout``); the attempt's transaction died with
the pool process, so the command was gone with no audit row at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.e2e.test_raw_protocol import new_plugin, send_valid
from tests.e2e.workers import WorkerProcess, audit_rows, wait_for, worker_env
from tests.support.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stuck_worker(
    world: World, e2e_settings: dict[str, str], tmp_path: Path
) -> Iterator[WorkerProcess]:
    """A worker whose first revoke_sessions hangs past its 1 s / 3 s time limits."""
    env = worker_env(e2e_settings)
    env["CAPGATE_ADAPTER_OVERRIDES"] = json.dumps(
        {"users.revoke_sessions": "tests.e2e.stuck_handler:revoke_sessions"}
    )
    env["STUCK_MARKER"] = str(tmp_path / "stuck-once")
    env["CAPGATE_TASK_SOFT_TIME_LIMIT"] = "1"
    env["CAPGATE_TASK_TIME_LIMIT"] = "3"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    process = WorkerProcess(env, tmp_path / "stuck-worker.log")
    process.wait_ready()
    yield process
    process.stop()


def test_an_attempt_killed_at_the_hard_time_limit_is_delivered_again_and_audited(
    world: World, stuck_worker: WorkerProcess, e2e_settings: dict[str, str], tmp_path: Path
) -> None:
    broker = redis.Redis.from_url(e2e_settings["CAPGATE_BROKER_URL"])
    try:
        command_id = send_valid(broker, new_plugin(world))
        wait_for(lambda: (tmp_path / "stuck-once").exists(), 30)
        # Killed after 3 s, given back to the queue, run again: one audited attempt.
        rows = wait_for(lambda: audit_rows(world, command_id), 45)
    finally:
        broker.close()
    log = stuck_worker.log.read_text(errors="replace")
    assert "Hard time limit (3s) exceeded" in log
    assert rows == [(1, "succeeded", None)], log[-3000:]
