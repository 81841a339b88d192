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


def worker_settings(
    database_url: str, broker_url: str, results_url: str, limits_url: str, folder: Path
) -> dict[str, str]:
    """CAPGATE_* settings of a test worker: short time limits, fast pump, test policies."""
    return {
        "CAPGATE_DATABASE_URL": database_url,
        "CAPGATE_BROKER_URL": broker_url,
        "CAPGATE_RESULT_BACKEND": results_url,
        "CAPGATE_RATE_LIMIT_URL": limits_url,
        "CAPGATE_SECRET": SECRET,
        "CAPGATE_VISIBILITY_TIMEOUT": "12",
        "CAPGATE_TASK_SOFT_TIME_LIMIT": "8",
        "CAPGATE_TASK_TIME_LIMIT": "10",
        "CAPGATE_PUMP_INTERVAL": "0.2",
        "CAPGATE_RETRY_POLICIES": policies(),
        "CAPGATE_EML_FOLDER": str(folder / "outbox"),
        "CAPGATE_STORAGE_ROOT": str(folder / "storage"),
    }


def settings_for(
    postgres_url: str,
    redis_url: str,
    folder: Path,
    *,
    databases: tuple[int, int, int] = (11, 12, 13),
) -> dict[str, str]:
    """CAPGATE_* settings of a test world; its Redis ``databases`` (broker, results,
    limits) are emptied first. Suites that may run beside the e2e ones use others."""
    base = redis_url.rstrip("/")
    broker, results, limits = databases
    settings = worker_settings(
        postgres_url, f"{base}/{broker}", f"{base}/{results}", f"{base}/{limits}", folder
    )
    for name in ("CAPGATE_BROKER_URL", "CAPGATE_RESULT_BACKEND", "CAPGATE_RATE_LIMIT_URL"):
        flush_redis(settings[name])
    return settings


class WorkerProcess:
    """``capgate worker`` in its own process group, with its log in a file."""

    def __init__(self, env: Mapping[str, str], log: Path, *args: str) -> None:
        self.log = log
        self._handle = log.open("ab")
        self.process = subprocess.Popen(
            self.command(*args),
            env=dict(env),
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def command(self, *args: str) -> list[str]:
        """The command line that starts this worker (subclasses start other commands)."""
        hostname = f"w{time.monotonic_ns()}@%h"
        return [
            CAPGATE,
            "worker",
            "--loglevel=INFO",
            "--concurrency=2",
            "--hostname",
            hostname,
            *args,
        ]

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
