"""A pipeline world on its own PostgreSQL schema, and the means to cut its connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from capgate.bootstrap import bootstrap
from capgate.database import make_engine
from capgate.migrate import upgrade
from capgate.settings import Settings
from tests.support.world import SECRET, World

__all__ = ["drop_worker_connections", "postgres_world"]


@contextmanager
def postgres_world(postgres_url: str) -> Iterator[World]:
    """A migrated world with an engine that does not ping; the schema is emptied afterwards."""
    runtime = bootstrap(Settings(database_url=postgres_url, secret=SECRET), ping=False)
    upgrade(runtime.engine)
    try:
        yield World(runtime)
    finally:
        with runtime.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        runtime.close()


def drop_worker_connections(world: World) -> int:
    """Terminate every connection of the worker's pool, from a connection of its own.

    What a database restart, a failover or an operator's ``pg_terminate_backend``
    does to a running worker; returns how many connections were terminated.
    """
    killer = make_engine(world.runtime.engine.url.render_as_string(hide_password=False))
    try:
        with killer.connect() as conn:
            dropped = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        killer.dispose()
    return int(dropped)
