"""Migration 0002 creates exactly the registry tables the models describe, and drops them."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

import capgate.tables  # noqa: F401  (complete metadata)
from capgate.database import Base
from capgate.migrate import upgrade

REGISTRY_TABLES = {
    "plugins",
    "capabilities",
    "capability_grants",
    "signing_keys",
    "capability_definitions",
}


def registry_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": _only_registry}
        )
        return list(compare_metadata(context, Base.metadata))


def _only_registry(obj: Any, name: str | None, kind: str, *_: object) -> bool:
    table = name if kind == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in REGISTRY_TABLES


def test_the_migrated_schema_matches_the_models(registry_engine: Engine) -> None:
    assert registry_differences(registry_engine) == []


def test_downgrade_drops_the_registry_tables(registry_engine: Engine) -> None:
    from alembic import command

    from capgate.migrate import alembic_config

    config = alembic_config(registry_engine)
    with registry_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001_audit")
    assert not REGISTRY_TABLES & set(inspect(registry_engine).get_table_names())
    upgrade(registry_engine, "0002_registry")
    assert set(inspect(registry_engine).get_table_names()) >= REGISTRY_TABLES
