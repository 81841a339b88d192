"""End to end: every refusal a plugin's message can meet, through one real worker.

Each case publishes one offending message the way a plugin could (through
the broker, as the task of an operation), then checks what an operator
would: the error the caller receives, the single audit row (outcome and
scopes), that nothing ran (Bob is still active and keeps his sessions) and
that nothing was retried (no second row, nothing in ``scheduled_retries``).

One worker serves every case, so the module starts it once; its grant cache
is off (``CAPGATE_GRANT_CACHE_TTL=0``) so a change to the registry is seen
by the next command.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import delete, or_, select, text

from capgate.adapters.user_tables import User, UserSession
from capgate.audit.schema import AuditEventRow
from capgate.contracts.catalog import queue_for
from capgate.contracts.envelope import MAX_ENVELOPE_BYTES, compute_signature
from capgate.contracts.errors import PluginServiceError
from capgate.database import unit_of_work
from capgate.registry.admin import RegistryAdmin
from capgate.registry.tables import Plugin as PluginRow
from capgate.registry.tables import PluginStatus
from capgate.workers.tables import ScheduledRetryRow
from tests.e2e.conftest import seeded_world
from tests.e2e.workers import (
    WorkerProcess,
    name,
    registry_admin,
    settings_for,
    wait_for,
    worker_env,
)
from tests.support.world import Plugin, World

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

DEACTIVATE = "users.deactivate"
BOB = {"user_id": "u-bob"}


@dataclass(frozen=True)
class Message:
    """One message as a plugin publishes it: task ``capgate.<operation>`` on its queue."""

    operation: str
    body: Any
    task_id: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Lab:
    """The shared world, the worker serving it and a publisher on its broker."""

    world: World
    app: Celery

    def admin(self) -> AbstractContextManager[RegistryAdmin]:
        """An operator's registry change, committed with its audit row."""
        return registry_admin(self.world)

    def plugin(self, scopes: dict[str, str | None] | None = None) -> Plugin:
        """A new plugin whose capability ``admin`` holds ``scopes`` (users:write by default)."""
        return self.world.add_plugin(name(), "admin", scopes or {"users:write": None})

    def publish(self, message: Message) -> None:
        queue = queue_for(message.operation)
        self.app.send_task(
            f"capgate.{message.operation}",
            args=[message.body],
            task_id=message.task_id,
            queue=queue,
            routing_key=queue,
            headers=message.headers or None,
        )

    def failure(self, task_id: str) -> PluginServiceError:
        """The error the task failed with (fails the test if the command succeeded)."""

        def read() -> BaseException | None:
            result = self.app.AsyncResult(task_id)  # a fresh handle: no cached state
            assert result.state != "SUCCESS", f"{task_id} ran: {result.result!r}"
            return result.result if result.state == "FAILURE" else None  # type: ignore[no-any-return]

        error = wait_for(read, 30)
        assert isinstance(error, PluginServiceError), repr(error)
        return error

    def audit(self, task_id: str) -> list[AuditEventRow]:
        """Audit rows of the command (or, when it had no readable id, of the task)."""
        column = AuditEventRow
        stmt = select(column).where(or_(column.command_id == task_id, column.task_id == task_id))
        with self.world.runtime.sessions() as session:
            return list(session.scalars(stmt.order_by(column.id)))

    def scheduled_retries(self, task_id: str) -> list[ScheduledRetryRow]:
        stmt = select(ScheduledRetryRow).where(ScheduledRetryRow.command_id == task_id)
        with self.world.runtime.sessions() as session:
            return list(session.scalars(stmt))

    def user(self, user_id: str) -> tuple[bool, list[datetime | None]]:
        """Whether the user is active, and the revocation time of each of their sessions."""
        with self.world.runtime.sessions() as session:
            user = session.get_one(User, user_id)
            stmt = select(UserSession.revoked_at).where(UserSession.user_id == user_id)
            return user.active, list(session.scalars(stmt))


@pytest.fixture(scope="module")
def lab(
    postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lab]:
    folder: Path = tmp_path_factory.mktemp("denials")
    settings = settings_for(postgres_url, redis_url, folder)
    settings["CAPGATE_GRANT_CACHE_TTL"] = "0"
    app = Celery(
        "denials-plugin",
        broker=settings["CAPGATE_BROKER_URL"],
        backend=settings["CAPGATE_RESULT_BACKEND"],
        set_as_current=False,
    )
    app.conf.update(task_serializer="json", accept_content=["json"], result_accept_content=["json"])
    with seeded_world(settings["CAPGATE_DATABASE_URL"]) as world:
        worker = WorkerProcess(worker_env(settings), folder / "worker.log")
        try:
            worker.wait_ready()
            yield Lab(world, app)
        finally:
            worker.stop()
            app.close()


def signed(
    plugin: Plugin, operation: str = DEACTIVATE, payload: dict[str, Any] | None = None, **kw: Any
) -> Message:
    """``plugin`` asks to deactivate Bob; ``kw`` overrides what it signs (see Plugin.command)."""
    command_id = str(uuid.uuid4())
    body = plugin.command(operation, payload or dict(BOB), command_id=command_id, **kw)
    return Message(operation, body, command_id)


def resigned(plugin: Plugin, change: Callable[[dict[str, Any]], None]) -> Message:
    """A correctly signed envelope after ``change``: the signature is not what fails."""
    message = signed(plugin)
    envelope = json.loads(message.body)
    change(envelope)
    envelope["signature"] = compute_signature(envelope, plugin.key.secret)
    return Message(message.operation, json.dumps(envelope), message.task_id)


def raw(body: Any) -> Message:
    return Message(DEACTIVATE, body, str(uuid.uuid4()))


# -- the offending messages, one builder per refusal code -----------------------------


def unknown_key(lab: Lab) -> Message:
    return signed(lab.plugin(), key_id=f"key-{uuid.uuid4().hex}")


def revoked_key(lab: Lab) -> Message:
    plugin = lab.plugin()
    with lab.admin() as admin:
        admin.revoke_key(plugin.key.key_id)
    return signed(plugin)


def bad_signature(lab: Lab) -> Message:
    return signed(lab.plugin(), secret="not-the-key-secret-0123456789abcdef")


def key_plugin_mismatch(lab: Lab) -> Message:
    mine, other = lab.plugin(), lab.plugin()
    claim = mine.context(plugin_id=other.key.plugin_id, plugin_name=other.key.plugin_name)
    return signed(mine, context=claim)


def unknown_plugin(lab: Lab) -> Message:
    # The registry cascades a plugin's keys away with it, so only an
    # inconsistent registry has a key without its plugin: make one.
    plugin = lab.plugin()
    with unit_of_work(lab.world.runtime.sessions) as session:
        session.execute(text("SET LOCAL session_replication_role = replica"))
        session.execute(delete(PluginRow).where(PluginRow.id == plugin.key.plugin_id))
    return signed(plugin)


def plugin_disabled(lab: Lab) -> Message:
    plugin = lab.plugin()
    with lab.admin() as admin:
        admin.set_status(plugin.key.plugin_name, PluginStatus.DISABLED)
    return signed(plugin)


def plugin_name_mismatch(lab: Lab) -> Message:
    plugin = lab.plugin()
    return signed(plugin, context=plugin.context(plugin_name=name()))


def issued_in_future(lab: Lab) -> Message:
    return signed(lab.plugin(), issued_at=datetime.now(UTC) + timedelta(minutes=10))


def command_expired(lab: Lab) -> Message:
    issued = datetime.now(UTC) - timedelta(minutes=20)
    return signed(lab.plugin(), issued_at=issued, ttl=timedelta(minutes=15))


def lifetime_too_long(lab: Lab) -> Message:
    return signed(lab.plugin(), ttl=timedelta(hours=25))


def unknown_capability(lab: Lab) -> Message:
    plugin = lab.plugin()
    return signed(plugin, context=plugin.context(capability_id=str(uuid.uuid4())))


def capability_not_owned(lab: Lab) -> Message:
    mine, other = lab.plugin(), lab.plugin()
    return signed(mine, context=mine.context(capability_id=other.capability_id))


def capability_key_mismatch(lab: Lab) -> Message:
    plugin = lab.plugin()
    return signed(plugin, context=plugin.context(capability_key="mailer"))


def scope_not_granted(lab: Lab) -> Message:
    return signed(lab.plugin({"email:send": None}))


def grant_revoked_after_use(lab: Lab) -> Message:
    # The capability used its grant a moment ago; the next command is refused.
    plugin = lab.plugin()
    warm_up = signed(plugin, "users.revoke_sessions", {"user_id": "u-carol"})
    lab.publish(warm_up)
    assert lab.app.AsyncResult(warm_up.task_id).get(timeout=30)["outcome"] == "succeeded"
    with lab.admin() as admin:
        admin.revoke(plugin.key.plugin_name, "admin", "users:write")
    return signed(plugin)


def malformed_json(lab: Lab) -> Message:
    return raw('{"command_id": "c-1", "command_id": "c-2"}')


def envelope_too_large(lab: Lab) -> Message:
    return raw('{"padding": "' + "x" * MAX_ENVELOPE_BYTES + '"}')


def invalid_envelope(lab: Lab) -> Message:
    return resigned(lab.plugin(), lambda envelope: envelope.update(priority="high"))


def operation_mismatch(lab: Lab) -> Message:
    # Signed as users.deactivate, published as users.revoke_sessions.
    message = signed(lab.plugin())
    return Message("users.revoke_sessions", message.body, message.task_id)


def envelope_not_text(lab: Lab) -> Message:
    return raw(json.loads(signed(lab.plugin()).body))


def invalid_retry_token(lab: Lab) -> Message:
    message = signed(lab.plugin())
    return Message(DEACTIVATE, message.body, message.task_id, {"capgate_retry": "2:" + "0" * 64})


@dataclass(frozen=True)
class Case:
    """A builder and what the worker must answer."""

    build: Callable[[Lab], Message]
    code: str
    outcome: str
    granted: tuple[str, ...] = ()


# Before the signature is verified (and for anything the key check refuses)
# nothing in the message can be believed: the command is "rejected". A scope
# the capability lacks is "denied"; a verified command that is invalid "failed".
CASES = [
    Case(unknown_key, "unknown_key", "rejected"),
    Case(revoked_key, "revoked_key", "rejected"),
    Case(bad_signature, "bad_signature", "rejected"),
    Case(key_plugin_mismatch, "key_plugin_mismatch", "rejected"),
    Case(unknown_plugin, "unknown_plugin", "rejected"),
    Case(plugin_disabled, "plugin_disabled", "rejected"),
    Case(plugin_name_mismatch, "plugin_name_mismatch", "rejected"),
    Case(issued_in_future, "issued_in_future", "rejected"),
    Case(command_expired, "command_expired", "rejected"),
    Case(lifetime_too_long, "lifetime_too_long", "rejected"),
    Case(malformed_json, "malformed_json", "rejected"),
    Case(envelope_too_large, "envelope_too_large", "rejected"),
    Case(invalid_envelope, "invalid_envelope", "rejected"),
    Case(envelope_not_text, "envelope_not_text", "rejected"),
    Case(invalid_retry_token, "invalid_retry_token", "rejected"),
    Case(unknown_capability, "unknown_capability", "denied"),
    Case(capability_not_owned, "capability_not_owned", "denied"),
    Case(capability_key_mismatch, "capability_key_mismatch", "denied"),
    Case(scope_not_granted, "scope_not_granted", "denied", granted=("email:send",)),
    Case(grant_revoked_after_use, "scope_not_granted", "denied"),
    Case(operation_mismatch, "operation_mismatch", "failed"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.build.__name__ for case in CASES])
def test_a_refused_command_is_audited_once_and_runs_nothing(lab: Lab, case: Case) -> None:
    message = case.build(lab)
    lab.publish(message)
    error = lab.failure(message.task_id)
    assert error.code == case.code
    [row] = lab.audit(message.task_id)
    assert (row.attempt, row.outcome, row.error_code) == (1, case.outcome, case.code)
    assert row.error_kind == error.kind.value
    if case.code == "scope_not_granted":
        assert row.requested_scopes == ["users:write"]
        assert row.granted_scopes == list(case.granted)
        assert row.denied_scopes == ["users:write"]
        # Only kind, code and message reach the caller: the message says it all.
        granted = ", ".join(case.granted) or "nothing"
        assert f"was granted {granted} (missing: users:write)" in error.message
    assert lab.scheduled_retries(message.task_id) == []
    assert lab.user("u-bob") == (True, [None, None])


def test_a_replayed_command_is_rejected_and_does_not_run_again(lab: Lab) -> None:
    plugin = lab.plugin()
    first = signed(plugin, payload={"user_id": "u-carol"})
    lab.publish(first)
    assert lab.app.AsyncResult(first.task_id).get(timeout=30)["outcome"] == "succeeded"
    assert lab.user("u-carol")[0] is False
    # Carol is back; the same signed message, published again, must not undo that.
    with unit_of_work(lab.world.runtime.sessions) as session:
        session.get_one(User, "u-carol").active = True
    lab.publish(first)
    rows = wait_for(lambda: len(lab.audit(first.task_id)) > 1 and lab.audit(first.task_id), 30)
    outcomes = [(r.attempt, r.outcome, r.error_code) for r in rows]
    assert outcomes == [(1, "succeeded", None), (1, "rejected", "replayed_command")]
    # Celery never overwrites a stored success: whoever waits on this task id
    # keeps seeing the first run's result, not the replay's refusal.
    assert lab.app.AsyncResult(first.task_id).state == "SUCCESS"
    assert lab.scheduled_retries(first.task_id) == []
    assert lab.user("u-carol")[0] is True
