"""build_handlers covers the catalog; overrides; the DB error table; the migration."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

import capgate.tables  # noqa: F401
from capgate.adapters.base import AdapterResult, Invocation
from capgate.adapters.composition import build_handlers, load_overrides
from capgate.adapters.payloads import DB_EXCEPTIONS, translate_db_errors
from capgate.adapters.seed import seed_demo_data
from capgate.adapters.user_tables import Role
from capgate.contracts.catalog import CATALOG
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.database import Base, make_session_factory
from capgate.migrate import alembic_config, upgrade
from tests.support.adapters import SECRET

CORE_TABLES = {
    "roles", "users", "user_sessions", "bundles", "recipients", "bundle_assignments",
    "action_definitions", "trigger_definitions", "pipelines", "change_log", "email_providers",
}  # fmt: skip


def handlers(tmp_path: Path, **kw: object) -> dict[str, object]:
    return build_handlers(secret=SECRET, storage_root=tmp_path, eml_folder=tmp_path, **kw)  # type: ignore[arg-type]


def test_every_catalog_operation_has_a_handler(tmp_path: Path) -> None:
    assert set(handlers(tmp_path)) == set(CATALOG)


def custom_assign_role(invocation: Invocation) -> AdapterResult:
    return AdapterResult({"handled_by": "custom"}, "user", "x")


def test_an_override_replaces_one_handler(tmp_path: Path) -> None:
    overrides = load_overrides(
        {"users.assign_role": "tests.unit.test_adapters_composition:custom_assign_role"}
    )
    built = handlers(tmp_path, overrides=overrides)
    result = built["users.assign_role"](None)  # type: ignore[operator]
    assert result.response == {"handled_by": "custom"}


def test_overrides_must_name_known_operations(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"users\.promote"):
        handlers(tmp_path, overrides={"users.promote": custom_assign_role})
    with pytest.raises(ValueError, match="module:attribute"):
        load_overrides({"users.assign_role": "no-colon"})


EXAMPLES = {
    "conflicting_change": IntegrityError("INSERT ...", {}, Exception("duplicate key")),
    "database_unavailable": OperationalError("SELECT 1", {}, Exception("server closed")),
    "database_error": ProgrammingError("SELECT ...", {}, Exception("syntax")),
}


@pytest.mark.parametrize(("exc_type", "kind", "code"), DB_EXCEPTIONS, ids=lambda v: str(v))
def test_each_database_error_row(exc_type: type[Exception], kind: ErrorKind, code: str) -> None:
    assert isinstance(EXAMPLES[code], exc_type)
    with pytest.raises(PluginServiceError) as error, translate_db_errors():
        raise EXAMPLES[code]
    assert (error.value.kind, error.value.code) == (kind, code)
    assert "INSERT" not in error.value.message and "SELECT" not in error.value.message


def test_the_migration_matches_the_models(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [d for d in diff if any(t in repr(d) for t in CORE_TABLES)] == []


def test_the_migration_ships_the_known_roles_and_seed_runs_twice(migrated_engine: Engine) -> None:
    factory = make_session_factory(migrated_engine)
    with factory.begin() as session:
        roles = session.scalars(select(Role.name).order_by(Role.rank)).all()
        assert roles == ["viewer", "editor", "operator", "admin"]
        first = seed_demo_data(session)
    with factory.begin() as session:
        assert seed_demo_data(session) == first


def test_downgrade_removes_the_core_tables(migrated_engine: Engine) -> None:
    config = alembic_config(migrated_engine)
    with migrated_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002_registry")
    remaining = set(inspect(migrated_engine).get_table_names())
    assert remaining & CORE_TABLES == set()
    upgrade(migrated_engine)
    assert set(inspect(migrated_engine).get_table_names()) >= CORE_TABLES
