"""Fixtures for end-to-end tests: a migrated PostgreSQL database, Redis, a plugin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.workers import WorkerProcess, settings_for, worker_env
from tests.support.ops import seeded_world
from tests.support.world import World


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
