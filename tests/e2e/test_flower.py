"""Flower against a real worker: tasks under their operation names, states, no bodies.

A real Flower process (basic auth from FLOWER_BASIC_AUTH, as docker-compose
sets it) watches a real worker's events; the test reads Flower's HTTP API.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from capgate.contracts.catalog import get_operation
from tests.e2e.workers import WorkerProcess, policies, worker_env
from tests.support.ops import (
    client_for,
    http_get,
    http_json,
    ops_settings,
    seeded_world,
    unique,
    wait_for,
)
from tests.support.services import free_port
from tests.support.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

AUTH = ("operator", "flower-test-password")
MARKER = "marker-5e1d0c-body-never-shown"


class FlowerProcess:
    """``celery -A capgate.workers.main flower`` on 127.0.0.1, its log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab")
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "capgate.workers.main",
            "flower",
            f"--port={self.port}",
            "--address=127.0.0.1",
        ]
        env = {**env, "FLOWER_BASIC_AUTH": f"{AUTH[0]}:{AUTH[1]}"}
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.log = log

    def wait_ready(self) -> None:
        def up() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"flower exited:\n{self.log.read_text()[-3000:]}")
            try:
                return http_get(f"{self.url}/healthcheck")[0] == 200
            except OSError:
                return False

        wait_for(up, 60, "Flower answering /healthcheck")

    def tasks(self) -> dict[str, Any]:
        tasks: dict[str, Any] = http_json(f"{self.url}/api/tasks", auth=AUTH)
        return tasks

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture
def settings(postgres_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    # email.send waits a minute before its retry, so Flower shows it in RETRY
    # for the whole test instead of racing through the attempts.
    slow = {"retryable": {"retry": True, "initial_ms": 60_000, "cap_ms": 60_000, "jitter": 0}}
    return {
        **ops_settings(postgres_url, redis_url, tmp_path),
        "CAPGATE_RETRY_POLICIES": policies(operations={"email.send": slow}),
    }


@pytest.fixture
def world(settings: dict[str, str]) -> Iterator[World]:
    with seeded_world(settings["CAPGATE_DATABASE_URL"]) as world:
        yield world


@pytest.fixture
def flower(settings: dict[str, str], tmp_path: Path, world: World) -> Iterator[FlowerProcess]:
    process = FlowerProcess(worker_env(settings), tmp_path / "flower.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture
def worker(settings: dict[str, str], tmp_path: Path, flower: FlowerProcess) -> Iterator[None]:
    process = WorkerProcess(worker_env(settings), tmp_path / "worker.log")
    try:
        process.wait_ready()
        yield
    finally:
        process.stop()


def publish_without_argsrepr(settings: dict[str, str], operation: str, envelope: str) -> None:
    """Publish as a careless client would: no argsrepr, so the body is the default repr."""
    app = Celery("careless", broker=settings["CAPGATE_BROKER_URL"], set_as_current=False)
    app.conf.task_serializer = "json"
    spec = get_operation(operation)
    with app.connection_for_write() as connection:
        app.send_task(
            spec.task_name,
            args=[envelope],
            queue=spec.queue,
            routing_key=spec.queue,
            connection=connection,
        )


@pytest.mark.usefixtures("worker")
def test_flower_shows_a_succeeded_and_a_retried_command_by_name_and_never_the_body(
    world: World, settings: dict[str, str], flower: FlowerProcess
) -> None:
    assert http_get(f"{flower.url}/api/tasks")[0] == 401
    assert http_get(f"{flower.url}/api/tasks", auth=(AUTH[0], "wrong"))[0] == 401

    admin = client_for(world.add_plugin(unique(), "admin", {"users:write": None}), settings)
    succeeded = admin.send(
        "users.assign_role",
        {"user_id": "u-bob", "role": "viewer", "options": {"reason": MARKER}},
    )
    succeeded.result(timeout=30)

    mailer = client_for(world.add_plugin(unique(), "mailer", {"email:send": None}), settings)
    closed = {"host": "127.0.0.1", "port": free_port(), "security": "none", "sender": "a@x.org"}
    mailer.call(
        "email.register_provider", {"name": "relay", "kind": "smtp", "config": closed}, timeout=30
    )
    # Nothing listens on the relay's port: RETRYABLE, so the worker schedules a retry.
    email = {"to": ["bob@example.com"], "subject": MARKER, "text": f"body {MARKER}"}
    publish_without_argsrepr(settings, "email.send", mailer.envelope("email.send", email))

    def both() -> dict[str, Any] | None:
        tasks = flower.tasks()
        done = tasks.get(succeeded.command_id, {}).get("state") == "SUCCESS"
        retried = any(
            t["name"] == "capgate.email.send" and t["state"] == "RETRY" for t in tasks.values()
        )
        return tasks if done and retried else None

    tasks = wait_for(both, 60, "Flower showing the succeeded and the retried command")

    shown = tasks[succeeded.command_id]
    assert shown["name"] == "capgate.users.assign_role"
    assert shown["args"].startswith("(<envelope ") and shown["args"].endswith(" bytes>,)")
    [retried] = [t for t in tasks.values() if t["state"] == "RETRY"]
    assert retried["name"] == "capgate.email.send"
    assert retried["args"].startswith("(<envelope ")
    # Neither the task list nor a task's own page shows any part of a body.
    assert MARKER not in json.dumps(tasks)
    for task_id in (succeeded.command_id, retried["uuid"]):
        info = http_json(f"{flower.url}/api/task/info/{task_id}", auth=AUTH)
        assert MARKER not in json.dumps(info)
