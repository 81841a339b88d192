"""Fixtures for end-to-end tests: a migrated PostgreSQL database, Redis, a plugin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from capgate.adapters.seed import seed_demo_data
from capgate.database import unit_of_work
from tests.conftest import _reset_postgres
from tests.e2e.workers import flush_redis, policies
from tests.support.world import SECRET, World


@pytest.fixture
def e2e_settings(postgres_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """CAPGATE_* settings shared by the test process and its workers."""
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
        "CAPGATE_EML_FOLDER": str(tmp_path / "outbox"),
        "CAPGATE_STORAGE_ROOT": str(tmp_path / "storage"),
    }
    for name in ("CAPGATE_BROKER_URL", "CAPGATE_RESULT_BACKEND", "CAPGATE_RATE_LIMIT_URL"):
        flush_redis(settings[name])
    yield settings


@pytest.fixture
def world(e2e_settings: dict[str, str]) -> Iterator[World]:
    """The test's view of the same database the workers use (migrated, seeded)."""
    world = World.create(e2e_settings["CAPGATE_DATABASE_URL"])
    with unit_of_work(world.runtime.sessions) as session:
        seed_demo_data(session)
    yield world
    # Leave the shared session database empty for the next test.
    _reset_postgres(world.runtime.engine)
    world.runtime.close()
