"""The escalation rule of user administration: what ``users:write`` alone cannot do.

``users:write`` lets a capability manage ordinary users. Two things need more:

1. **Touching an administrator**: making a user ``admin``, or changing a user
   who is ``admin`` now (another role, activate, deactivate, revoke sessions).
   Allowed only to capabilities the operator lists in
   ``admin_capabilities``; everyone else gets PERMISSION
   ``admin_role_requires_operator``. There is no scope for it on purpose: a
   plugin cannot be granted it by the usual grant flow, only by deployment
   configuration.
2. **A plugin acting on its own service account** (the user whose
   ``service_account_plugin_id`` is the calling plugin): always refused with
   PERMISSION ``own_service_account``, even with the operator allowance, so
   a plugin cannot raise its own privileges or undo its own deactivation.

The allowance is keyed by capability id; the pipeline's authorize step has
already checked that the capability belongs to the authenticated plugin.
"""

from __future__ import annotations

from dataclasses import dataclass

from capgate.adapters.base import Invocation
from capgate.adapters.user_tables import User
from capgate.contracts.errors import PluginServiceError
from capgate.contracts.users import Role

__all__ = ["UserAdminPolicy"]


@dataclass(frozen=True, slots=True)
class UserAdminPolicy:
    """Who may change whom, beyond the ``users:write`` scope."""

    admin_capabilities: frozenset[str] = frozenset()

    def check(self, invocation: Invocation, user: User, *, new_role: str | None = None) -> None:
        """Raise PERMISSION if the rule forbids this change of ``user``."""
        context = invocation.context
        if user.service_account_plugin_id == context.plugin_id:
            raise PluginServiceError.permission(
                "own_service_account",
                "a plugin may not change the service account it acts as",
                details={"user_id": user.id},
            )
        touches_admin = Role.ADMIN.value in (user.role, new_role)
        if touches_admin and context.capability_id not in self.admin_capabilities:
            raise PluginServiceError.permission(
                "admin_role_requires_operator",
                "changing an administrator needs an operator allowance, not only users:write",
                details={"user_id": user.id},
            )
