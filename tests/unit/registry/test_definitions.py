"""Creating a definition that needs an ungranted scope is refused, naming the missing scopes."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.database import unit_of_work
from capgate.registry.definitions import create_definition
from capgate.registry.tables import CapabilityDefinition
from tests.unit.registry.fakes import AdminFactory


@pytest.fixture
def granted(sessions: sessionmaker[Session], admin_in: AdminFactory) -> None:
    """Plugin ``digest``, capability ``mailer`` granted email:send only."""
    with unit_of_work(sessions) as session:
        admin_in(session).add_plugin("digest")
        admin_in(session).grant("digest", "mailer", "email:send")


def refused(sessions: sessionmaker[Session], *args: object) -> PluginServiceError:
    with pytest.raises(PluginServiceError) as caught, unit_of_work(sessions) as session:
        create_definition(session, *args)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.usefixtures("granted")
def test_a_definition_within_the_grants_is_stored(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        create_definition(session, "digest", "mailer", "weekly-digest", ["email:send"])
    with sessions() as session:
        stored = session.get_one(CapabilityDefinition, "weekly-digest")
    assert stored.required_scopes == "email:send"


@pytest.mark.usefixtures("granted")
def test_a_missing_scope_is_refused_and_named(sessions: sessionmaker[Session]) -> None:
    error = refused(
        sessions, "digest", "mailer", "cleanup", ["email:send", "users:write", "storage:link"]
    )
    assert (error.kind, error.code) == (ErrorKind.PERMISSION, "scope_not_granted")
    assert error.details["denied"] == ["storage:link", "users:write"]
    assert error.details["granted"] == ["email:send"]
    assert "storage:link" in error.message and "users:write" in error.message
    with sessions() as session:
        assert session.get(CapabilityDefinition, "cleanup") is None


@pytest.mark.usefixtures("granted")
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("nobody", "mailer", "d1", ["email:send"]), "unknown_plugin"),
        (("digest", "nothing", "d1", ["email:send"]), "unknown_capability"),
        (("digest", "mailer", "d1", ["email:fly"]), "unknown_scope"),
        (("digest", "mailer", "bad id!", ["email:send"]), "invalid_identifier"),
    ],
)
def test_bad_references_are_refused(
    sessions: sessionmaker[Session], args: tuple[object, ...], code: str
) -> None:
    assert refused(sessions, *args).code == code


@pytest.mark.usefixtures("granted")
def test_a_definition_id_is_used_once(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        create_definition(session, "digest", "mailer", "weekly", ["email:send"])
    assert refused(sessions, "digest", "mailer", "weekly", []).code == "definition_exists"
