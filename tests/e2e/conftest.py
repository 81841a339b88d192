"""Fixtures for end-to-end tests: a migrated PostgreSQL database, Redis, a plugin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.workers import WorkerProcess, flush_redis, policies, worker_env
from tests.support.ops import seeded_world
from tests.support.world import SECRET, World


def settings_for(postgres_url: str, redis_url: str, folder: Path) -> dict[str, str]:
    """CAPGATE_* settings of a test world, with its Redis databases (11-13) emptied."""
    base = redis_url.rstrip("/")
    settings = {
        "CAPGATE_DATABASE_URL": postgres_url,
        "CAPGATE_BROKER_URL": f"{base}/11",
        "CAPGATE_RESULT_BACKEND": f"{base}/12",
        "CAPGATE_RATE_LIMIT_URL": f"{base}/13",
        "CAPGATE_SECRET": SECRET,
        "CAPGATE_VISIBILITY_TIMEOUT": "12",
        "CAPGATE_TASK_SOFT_TIME_LIMIT": "8",
        "CAPGATE_TASK_TIME_LIMIT": "10",
        "CAPGATE_PUMP_INTERVAL": "0.2",
        "CAPGATE_RETRY_POLICIES": policies(),
        "CAPGATE_EML_FOLDER": str(folder / "outbox"),
        "CAPGATE_STORAGE_ROOT": str(folder / "storage"),
    }
    for name in ("CAPGATE_BROKER_URL", "CAPGATE_RESULT_BACKEND", "CAPGATE_RATE_LIMIT_URL"):
        flush_redis(settings[name])
    return settings


@pytest.fixture
def e2e_settings(postgres_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    """CAPGATE_* settings shared by the test process and its workers."""
    return settings_for(postgres_url, redis_url, tmp_path)


@pytest.fixture
def world(e2e_settings: dict[str, str]) -> Iterator[World]:
    """The test's view of the same database the workers use (migrated, seeded)."""
    with seeded_world(e2e_settings["CAPGATE_DATABASE_URL"]) as world:
        yield world


@pytest.fixture
def worker(e2e_settings: dict[str, str], tmp_path: Path, world: World) -> Iterator[WorkerProcess]:
    """One ``capgate worker`` process on the test's database and Redis."""
    process = WorkerProcess(worker_env(e2e_settings), tmp_path / "worker.log")
    process.wait_ready()
    yield process
    process.stop()
