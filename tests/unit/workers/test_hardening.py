"""Broker hardening in the task itself: no Celery built-ins, no workflows from plugins."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from capgate.adapters.base import Invocation
from capgate.audit.schema import AuditEventRow
from capgate.contracts.errors import PluginServiceError
from capgate.settings import Settings
from capgate.workers.app_state import use_pipeline
from capgate.workers.celery_app import create_app
from tests.support.world import SECRET, World, recording_handler

OP = "users.activate"
CALLBACK = {"task": "celery.group", "args": [], "kwargs": {}, "options": {}}


@pytest.fixture
def world(sqlite_url: str) -> World:
    return World.create(sqlite_url)


def run_with_request(world: World, calls: list[Invocation], body: str, **request: Any) -> Any:
    app = create_app(Settings(database_url=world.runtime.settings.database_url, secret=SECRET))
    use_pipeline(app, world.pipeline({OP: recording_handler(calls)}))
    task = app.tasks[f"capgate.{OP}"]
    task.push_request(id="t-1", hostname="h", delivery_info={}, **request)
    try:
        try:
            return task.run(body), task.request
        except PluginServiceError as error:
            return error, task.request
    finally:
        task.pop_request()


def test_the_app_registers_only_capgate_command_tasks(sqlite_url: str) -> None:
    app = create_app(Settings(database_url=sqlite_url, secret=SECRET))
    names = set(app.tasks)
    assert "celery.group" not in names and "celery.chord_unlock" not in names
    assert names and all(name.startswith("capgate.") for name in names)


@pytest.mark.parametrize(
    "field", ["callbacks", "errbacks", "chain", "chord"], ids=lambda f: f"with-{f}"
)
def test_a_command_carrying_a_workflow_is_refused_audited_and_stripped(
    world: World, field: str
) -> None:
    plugin = world.add_plugin("alpha", "admin", {"users:write": None})
    calls: list[Invocation] = []
    body = plugin.command(OP, {"user_id": "u-1"})
    value = CALLBACK if field == "chord" else [CALLBACK]
    outcome, request = run_with_request(world, calls, body, **{field: value})
    assert isinstance(outcome, PluginServiceError)
    assert outcome.code == "workflow_not_allowed"
    assert calls == []
    # Celery reads these after the task: nothing is left for it to dispatch.
    assert getattr(request, field) is None
    with world.runtime.sessions() as session:
        row = session.scalars(select(AuditEventRow).where(AuditEventRow.operation == OP)).one()
    assert (row.plugin_name, row.error_code, row.outcome) == (
        "alpha",
        "workflow_not_allowed",
        "rejected",
    )


def test_a_plain_command_still_runs(world: World) -> None:
    plugin = world.add_plugin("alpha", "admin", {"users:write": None})
    calls: list[Invocation] = []
    result, _ = run_with_request(world, calls, plugin.command(OP, {"user_id": "u-1"}))
    assert result["outcome"] == "succeeded"
    assert len(calls) == 1


@pytest.mark.parametrize("events", [True, False])
def test_task_events_follow_the_setting_and_no_started_state_is_stored(
    sqlite_url: str, events: bool
) -> None:
    app = create_app(Settings(database_url=sqlite_url, secret=SECRET, task_events=events))
    assert app.conf.worker_send_task_events is events
    assert app.conf.task_send_sent_event is events
    assert app.conf.task_track_started is False
    assert app.conf.task_acks_late is True
