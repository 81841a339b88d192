"""Fixtures shared by every suite: databases on SQLite and real PostgreSQL, Redis.

PostgreSQL tests get a database of their own, created for the session and
dropped after, so parallel runs and earlier runs never interfere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from capgate.database import make_engine
from capgate.migrate import upgrade
from tests.support.services import POSTGRES_ADMIN_URL, REDIS_URL, unavailable


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database for this test session."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"capgate_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "absent"
        admin.dispose()
        unavailable(f"PostgreSQL at {POSTGRES_ADMIN_URL} ({type(exc).__name__})")
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    """URL of a SQLite file in this test's temporary folder."""
    return f"sqlite:///{tmp_path}/capgate.db"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Run the test once on SQLite and once on real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/capgate.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def migrated_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database upgraded to head; PostgreSQL tables emptied after."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    if engine.dialect.name == "postgresql":
        _reset_postgres(engine)
    engine.dispose()


def _reset_postgres(engine: Engine) -> None:
    # The session database is shared by tests: drop everything so the next
    # test migrates from scratch (append-only triggers forbid TRUNCATE).
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis server (a test database number is added by users)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS_URL} ({type(exc).__name__})")
    finally:
        client.close()
    return REDIS_URL
