"""Alembic environment: runs migrations on the connection capgate hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import capgate.tables  # noqa: F401  (registers every table on Base.metadata)
from capgate.database import Base, make_engine

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Use the connection capgate passed in, or connect to the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("capgate migrations run online only: use 'capgate db upgrade'")
run_migrations_online()
