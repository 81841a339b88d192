"""Handlers of the ``users.*`` operations on the core tables.

NOT_FOUND ``user_not_found`` for an unknown user; VALIDATION ``unknown_role``
for a role the core does not have; the escalation rule is
:class:`~capgate.adapters.user_policy.UserAdminPolicy`. Every real change
writes a change-log row; a no-op (the role it already has, activating an
active user, no session to revoke) writes none.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, update

from capgate.adapters.base import AdapterResult, Invocation
from capgate.adapters.change_log import record_change
from capgate.adapters.payloads import payload_of
from capgate.adapters.user_policy import UserAdminPolicy
from capgate.adapters.user_tables import Role, User, UserSession
from capgate.contracts.errors import PluginServiceError
from capgate.contracts.users import AssignRole, RevokeSessions, RevokeSessionsResult, UserTarget

__all__ = ["UserAdmin"]

_USER = "user"


class UserAdmin:
    """The four user handlers, under one escalation policy."""

    def __init__(self, policy: UserAdminPolicy) -> None:
        """``policy`` says who may touch administrators."""
        self._policy = policy

    def assign_role(self, invocation: Invocation) -> AdapterResult:
        """``users.assign_role``: replace the user's role with a known one."""
        payload = payload_of(invocation, AssignRole)
        user = _user(invocation, payload.user_id)
        role = payload.role.value
        if invocation.session.get(Role, role) is None:
            raise PluginServiceError.validation("unknown_role", f"the core has no role {role!r}")
        self._policy.check(invocation, user, new_role=role)
        changed = user.role != role
        if changed:
            _change(invocation, user, "assign_role", {"role": user.role}, {"role": role})
            user.role = role
        return _result(user, {"role": role, "changed": changed})

    def activate(self, invocation: Invocation) -> AdapterResult:
        """``users.activate``."""
        return self._set_active(invocation, active=True)

    def deactivate(self, invocation: Invocation) -> AdapterResult:
        """``users.deactivate``."""
        return self._set_active(invocation, active=False)

    def revoke_sessions(self, invocation: Invocation) -> AdapterResult:
        """``users.revoke_sessions``: those issued before a time (default: now)."""
        payload = payload_of(invocation, RevokeSessions)
        user = _user(invocation, payload.user_id)
        self._policy.check(invocation, user)
        cutoff = payload.issued_before or invocation.now
        statement = (
            update(UserSession)
            .where(UserSession.user_id == user.id)
            .where(UserSession.revoked_at.is_(None))
            .where(UserSession.issued_at < cutoff)
            .values(revoked_at=invocation.now)
            .execution_options(synchronize_session=False)
        )
        result = cast(CursorResult[Any], invocation.session.execute(statement))
        revoked = result.rowcount
        if revoked:
            after = {"revoked": revoked, "issued_before": cutoff.isoformat()}
            record_change(
                invocation,
                resource_type=_USER,
                resource_id=user.id,
                action="revoke_sessions",
                before={},
                after=after,
            )
        response = RevokeSessionsResult(revoked=revoked).model_dump(mode="json")
        return AdapterResult(response, _USER, user.id)

    def _set_active(self, invocation: Invocation, *, active: bool) -> AdapterResult:
        payload = payload_of(invocation, UserTarget)
        user = _user(invocation, payload.user_id)
        self._policy.check(invocation, user)
        changed = user.active != active
        if changed:
            action = "activate" if active else "deactivate"
            _change(invocation, user, action, {"active": user.active}, {"active": active})
            user.active = active
        return _result(user, {"active": active, "changed": changed})


def _user(invocation: Invocation, user_id: str) -> User:
    user = invocation.session.get(User, user_id, with_for_update=True)
    if user is None:
        raise PluginServiceError.not_found("user_not_found", f"no user with id {user_id!r}")
    return user


def _change(
    invocation: Invocation, user: User, action: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    user.updated_at = invocation.now
    record_change(
        invocation,
        resource_type=_USER,
        resource_id=user.id,
        action=action,
        before=before,
        after=after,
    )


def _result(user: User, fields: dict[str, Any]) -> AdapterResult:
    return AdapterResult({"user_id": user.id, **fields}, _USER, user.id)
