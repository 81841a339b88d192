"""User admin handlers and the escalation rule, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from capgate.adapters.base import AdapterResult
from capgate.adapters.change_log import ChangeLogEntry
from capgate.adapters.seed import seed_demo_data
from capgate.adapters.user_policy import UserAdminPolicy
from capgate.adapters.user_tables import Role, User, UserSession
from capgate.adapters.users import UserAdmin
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.contracts.options import OperationOptions
from capgate.contracts.users import AssignRole, RevokeSessions, UserTarget
from tests.support.adapters import NOW, invocation, open_session

OPTIONS = OperationOptions(actor_id="u-alice", reason="quarterly review", audit_metadata={"t": 1})
admin = UserAdmin(UserAdminPolicy(admin_capabilities=frozenset({"cap-operator"})))


@pytest.fixture
def session(migrated_engine: Engine) -> Iterator[Session]:
    for s in open_session(migrated_engine):
        seed_demo_data(s)
        yield s


def assign(session: Session, user_id: str, role: str, **kw: str) -> AdapterResult:
    payload = AssignRole.model_validate({"user_id": user_id, "role": role, "options": OPTIONS})
    return admin.assign_role(invocation(session, "users.assign_role", payload, **kw))


def refused(call: object, *args: object, **kw: object) -> PluginServiceError:
    with pytest.raises(PluginServiceError) as error:
        call(*args, **kw)  # type: ignore[operator]
    return error.value


def test_assign_role_changes_it_and_logs_who_and_why(session: Session) -> None:
    result = assign(session, "u-bob", "viewer")
    assert result.response == {"user_id": "u-bob", "role": "viewer", "changed": True}
    assert session.get(User, "u-bob").role == "viewer"  # type: ignore[union-attr]
    entry = session.scalars(select(ChangeLogEntry)).one()
    assert (entry.action, entry.before, entry.after) == (
        "assign_role",
        {"role": "editor"},
        {"role": "viewer"},
    )
    assert (entry.actor_id, entry.reason, entry.audit_metadata) == (
        "u-alice",
        "quarterly review",
        {"t": 1},
    )


def test_assigning_the_same_role_again_changes_nothing(session: Session) -> None:
    assert assign(session, "u-bob", "editor").response["changed"] is False
    assert session.scalars(select(ChangeLogEntry)).all() == []


def test_unknown_user_is_not_found(session: Session) -> None:
    error = refused(assign, session, "u-nobody", "viewer")
    assert (error.kind, error.code) == (ErrorKind.NOT_FOUND, "user_not_found")


def test_a_role_the_core_lacks_is_refused(session: Session) -> None:
    session.delete(session.get(Role, "operator"))
    session.flush()
    error = refused(assign, session, "u-bob", "operator")
    assert (error.kind, error.code) == (ErrorKind.VALIDATION, "unknown_role")


def test_making_an_admin_needs_the_operator_allowance(session: Session) -> None:
    error = refused(assign, session, "u-bob", "admin")
    assert (error.kind, error.code) == (ErrorKind.PERMISSION, "admin_role_requires_operator")
    assert assign(session, "u-bob", "admin", capability_id="cap-operator").response["changed"]


@pytest.mark.parametrize("operation", ["demote", "deactivate", "revoke"])
def test_touching_an_existing_admin_needs_the_allowance(session: Session, operation: str) -> None:
    if operation == "demote":
        error = refused(assign, session, "u-alice", "viewer")
    else:
        payload = (
            UserTarget(user_id="u-alice")
            if operation == "deactivate"
            else RevokeSessions(user_id="u-alice")
        )
        handler = admin.deactivate if operation == "deactivate" else admin.revoke_sessions
        error = refused(handler, invocation(session, f"users.{operation}", payload))
    assert error.code == "admin_role_requires_operator"


def test_a_plugin_may_not_change_its_own_service_account(session: Session) -> None:
    for capability in ("cap-a", "cap-operator"):
        error = refused(
            assign, session, "u-digest-bot", "admin",
            plugin_id="plugin-digest", capability_id=capability,
        )  # fmt: skip
        assert (error.kind, error.code) == (ErrorKind.PERMISSION, "own_service_account")
    # Another plugin may manage that account like any ordinary user.
    assert assign(session, "u-digest-bot", "viewer", plugin_id="plugin-b").response["changed"]


def test_deactivate_then_activate(session: Session) -> None:
    payload = UserTarget(user_id="u-carol")
    off = admin.deactivate(invocation(session, "users.deactivate", payload))
    assert off.response == {"user_id": "u-carol", "active": False, "changed": True}
    again = admin.deactivate(invocation(session, "users.deactivate", payload))
    assert again.response["changed"] is False
    admin.activate(invocation(session, "users.activate", payload))
    assert session.get(User, "u-carol").active is True  # type: ignore[union-attr]
    actions = session.scalars(select(ChangeLogEntry.action).order_by(ChangeLogEntry.id)).all()
    assert actions == ["deactivate", "activate"]


def test_revoke_sessions_issued_before_a_time_returns_the_count(session: Session) -> None:
    # Bob's sessions were issued on days 1 and 20 of 2026 (seed data).
    cutoff = NOW.replace(month=1, day=10)
    payload = RevokeSessions(user_id="u-bob", issued_before=cutoff)
    result = admin.revoke_sessions(invocation(session, "users.revoke_sessions", payload))
    assert result.response == {"revoked": 1}
    open_ids = session.scalars(select(UserSession.id).where(UserSession.revoked_at.is_(None))).all()
    assert sorted(open_ids) == ["s-bob-2", "s-carol-1"]
    everything = RevokeSessions(user_id="u-bob")
    later = invocation(session, "users.revoke_sessions", everything, now=NOW + timedelta(1))
    assert admin.revoke_sessions(later).response == {"revoked": 1}
    assert admin.revoke_sessions(later).response == {"revoked": 0}
