"""Payloads and results of the user administration operations (service ``users``)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from capgate.contracts.constraints import Count
from capgate.contracts.options import ContractModel, OperationPayload
from capgate.contracts.types import Identifier, UtcDatetime

__all__ = ["AssignRole", "RevokeSessions", "RevokeSessionsResult", "Role", "UserTarget"]


class Role(StrEnum):
    """The roles a plugin may assign, least privileged first."""

    VIEWER = "viewer"
    EDITOR = "editor"
    OPERATOR = "operator"
    ADMIN = "admin"


class AssignRole(OperationPayload):
    """``users.assign_role``: give a user a role (replacing the previous one)."""

    user_id: Identifier
    role: Role


class UserTarget(OperationPayload):
    """``users.activate`` and ``users.deactivate``: the user to change."""

    user_id: Identifier


class RevokeSessions(OperationPayload):
    """``users.revoke_sessions``: end a user's sessions (all, or those issued before a time)."""

    user_id: Identifier
    issued_before: UtcDatetime | None = Field(
        default=None, description="Only sessions issued before this time; all when absent."
    )


class RevokeSessionsResult(ContractModel):
    """Result of ``users.revoke_sessions``."""

    revoked: Count = Field(description="How many sessions were revoked.")
