"""Real ``capgate worker`` processes on real Redis and PostgreSQL, for end-to-end tests.

Also the plugin side of those tests: a client for a registered plugin, the
audit rows of a command, and polling until something happened.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import redis
from sqlalchemy import select

from capgate.audit.recorder import AuditRecorder
from capgate.audit.schema import AuditEventRow
from capgate.contracts.client import PluginClient, PluginCredentials
from capgate.database import unit_of_work
from capgate.registry.admin import RegistryAdmin
from capgate.registry.sealing import KeySealer
from tests.support.world import SECRET, Plugin, World

T = TypeVar("T")

CAPGATE = str(Path(sys.executable).parent / "capgate")


def worker_env(settings: Mapping[str, str]) -> dict[str, str]:
    """The environment of a worker process: this one's plus CAPGATE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPGATE_")}
    env.update(settings)
    return env


class WorkerProcess:
    """``capgate worker`` in its own process group, with its log in a file."""

    def __init__(self, env: Mapping[str, str], log: Path, *args: str) -> None:
        self.log = log
        self._handle = log.open("ab")
        command = [
            CAPGATE,
            "worker",
            "--loglevel=INFO",
            "--concurrency=2",
            "--hostname",
            f"w{time.monotonic_ns()}@%h",
            *args,
        ]
        self.process = subprocess.Popen(
            command,
            env=dict(env),
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until Celery prints 'ready' (fails with the log if it died)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            if " ready." in text:
                return
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited {self.process.returncode}:\n{text[-4000:]}")
            time.sleep(0.2)
        raise AssertionError(f"worker not ready in {timeout}s:\n{self.log.read_text()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and children), as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Warm shutdown; SIGKILL if it does not stop in time."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._handle.close()


def flush_redis(url: str) -> None:
    """Empty one Redis database."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def policies(**overrides: Any) -> str:
    """CAPGATE_RETRY_POLICIES JSON with fast defaults for tests."""
    default = {
        "retryable": {
            "retry": True,
            "initial_ms": 300,
            "cap_ms": 2000,
            "max_attempts": 3,
            "jitter": 0.1,
        }
    }
    return json.dumps({"default": default, **overrides})


def name() -> str:
    """A fresh plugin name, so tests sharing a database never collide."""
    return f"p{uuid.uuid4().hex[:8]}"


def client_for(plugin: Plugin, settings: Mapping[str, str]) -> PluginClient:
    """A plugin client signing with ``plugin``'s key, on the test broker."""
    creds = PluginCredentials(
        plugin.key.plugin_name,
        plugin.key.plugin_id,
        plugin.capability_id,
        plugin.capability_key,
        plugin.key.key_id,
        plugin.key.secret,
    )
    return PluginClient(
        creds,
        broker_url=settings["CAPGATE_BROKER_URL"],
        result_backend=settings["CAPGATE_RESULT_BACKEND"],
    )


def audit_rows(world: World, command_id: str) -> list[tuple[int, str, str | None]]:
    """(attempt, outcome, error code) of each audit row of ``command_id``, oldest first."""
    with world.runtime.sessions() as session:
        stmt = (
            select(AuditEventRow)
            .where(AuditEventRow.command_id == command_id)
            .order_by(AuditEventRow.id)
        )
        return [(r.attempt, r.outcome, r.error_code) for r in session.scalars(stmt)]


def wait_for(read: Callable[[], T], timeout: float) -> T:
    """Call ``read`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("nothing happened in time")


@contextmanager
def registry_admin(world: World, actor: str = "ops") -> Iterator[RegistryAdmin]:
    """An operator's registry change, committed with its audit row on leaving."""
    with unit_of_work(world.runtime.sessions) as session:
        yield RegistryAdmin(
            session, sealer=KeySealer(SECRET), audit=AuditRecorder(SECRET).record, actor=actor
        )
