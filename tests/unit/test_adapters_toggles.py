"""The generic resource toggle, for each of the six resources."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from capgate.adapters.change_log import ChangeLogEntry
from capgate.adapters.resource_tables import TOGGLEABLE
from capgate.adapters.seed import seed_demo_data
from capgate.adapters.toggles import RESOURCE_TYPES, ResourceToggle
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.contracts.options import OperationOptions
from capgate.contracts.toggles import ToggleResource
from tests.support.adapters import invocation, open_session

SAMPLE_IDS = {
    "bundles": "b-q1-report",
    "bundle_assignments": "a-q1-acme",
    "recipients": "r-acme",
    "actions": "act-send-digest",
    "triggers": "trg-nightly",
    "pipelines": "p-release",
}


@pytest.fixture
def session(migrated_engine: Engine) -> Iterator[Session]:
    for s in open_session(migrated_engine):
        seed_demo_data(s)
        yield s


def toggle(session: Session, service: str, resource_id: str, *, enabled: bool) -> dict[str, object]:
    payload = ToggleResource(
        resource_id=resource_id,
        options=OperationOptions(
            actor_id="u-alice", reason="maintenance", audit_metadata={"k": "v"}
        ),
    )
    verb = "enable" if enabled else "disable"
    handler = ResourceToggle(service, enabled=enabled)
    return handler(invocation(session, f"{service}.{verb}", payload)).response


@pytest.mark.parametrize("service", sorted(RESOURCE_TYPES))
def test_disable_then_enable_is_logged_once_each(session: Session, service: str) -> None:
    resource_id = SAMPLE_IDS[service]
    assert toggle(session, service, resource_id, enabled=False)["changed"] is True
    assert toggle(session, service, resource_id, enabled=False)["changed"] is False
    assert session.get(TOGGLEABLE[service], resource_id).enabled is False  # type: ignore[union-attr]
    assert toggle(session, service, resource_id, enabled=True)["changed"] is True
    entries = session.scalars(select(ChangeLogEntry).order_by(ChangeLogEntry.id)).all()
    assert [(e.resource_type, e.action, e.after) for e in entries] == [
        (RESOURCE_TYPES[service], "disable", {"enabled": False}),
        (RESOURCE_TYPES[service], "enable", {"enabled": True}),
    ]
    assert {(e.actor_id, e.reason, e.plugin_id, e.command_id) for e in entries} == {
        ("u-alice", "maintenance", "plugin-a", "cmd-1")
    }


@pytest.mark.parametrize("service", sorted(RESOURCE_TYPES))
def test_unknown_id_is_not_found(session: Session, service: str) -> None:
    with pytest.raises(PluginServiceError) as error:
        toggle(session, service, "missing-id", enabled=True)
    assert error.value.kind is ErrorKind.NOT_FOUND
    assert error.value.code == f"{RESOURCE_TYPES[service]}_not_found"


def test_the_change_commits_with_the_pipeline_transaction_or_not_at_all(
    migrated_engine: Engine,
) -> None:
    for session in open_session(migrated_engine):
        seed_demo_data(session)
        session.commit()
        toggle(session, "pipelines", "p-release", enabled=False)
        session.rollback()  # the pipeline failed to record the audit row
        assert session.get(TOGGLEABLE["pipelines"], "p-release").enabled is True  # type: ignore[union-attr]
        assert session.scalars(select(ChangeLogEntry)).all() == []


def test_concurrent_toggles_serialise_and_only_one_logs_the_change(
    migrated_engine: Engine,
) -> None:
    """Two workers disabling the same bundle at once: one changes it, the other sees it done."""
    answers: list[dict[str, object]] = []

    def second_worker() -> None:
        for second in open_session(migrated_engine):
            answers.append(toggle(second, "bundles", "b-q1-report", enabled=False))
            second.commit()

    for first in open_session(migrated_engine):
        seed_demo_data(first)
        first.commit()
        assert toggle(first, "bundles", "b-q1-report", enabled=False)["changed"] is True
        thread = threading.Thread(target=second_worker)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), "the second toggle must wait for the first one's row lock"
        first.commit()
        thread.join(15)
        assert answers == [{"resource_id": "b-q1-report", "enabled": False, "changed": False}]
        logged = first.scalars(select(ChangeLogEntry)).all()
        assert [(e.resource_id, e.action) for e in logged] == [("b-q1-report", "disable")]
