"""A SQLite database migrated up to the registry's revision, for registry unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from capgate.database import make_engine, make_session_factory
from capgate.migrate import upgrade
from capgate.registry.admin import RegistryAdmin
from capgate.registry.sealing import KeySealer
from tests.unit.registry.fakes import AdminFactory, RecordedEvents

SERVER_SECRET = "server-secret-for-registry-tests-0123456789"


@pytest.fixture
def registry_engine(tmp_path: Path) -> Iterator[Engine]:
    """SQLite migrated to 0002_registry (the audit and registry tables)."""
    engine = make_engine(f"sqlite:///{tmp_path}/registry.db")
    upgrade(engine, "0002_registry")
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(registry_engine: Engine) -> sessionmaker[Session]:
    """Sessions on the registry database."""
    return make_session_factory(registry_engine)


@pytest.fixture
def audit_log() -> RecordedEvents:
    """Collects the audit events an admin writes."""
    return RecordedEvents()


@pytest.fixture
def admin_in(audit_log: RecordedEvents) -> AdminFactory:
    """Builds a RegistryAdmin for a session, auditing into ``audit_log``."""

    def build(session: Session, actor: str = "alice") -> RegistryAdmin:
        return RegistryAdmin(session, sealer=KeySealer(SERVER_SECRET), audit=audit_log, actor=actor)

    return build
