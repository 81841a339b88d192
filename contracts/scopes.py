"""The nine service scopes: discrete classes of privileged operation.

A capability is granted scopes by an operator; every operation requires one
or more of them (see :mod:`capgate.contracts.catalog`).
"""

from enum import StrEnum

__all__ = ["PluginServiceScope"]


class PluginServiceScope(StrEnum):
    """A scope a capability may be granted. Values are the wire strings."""

    EMAIL_SEND = "email:send"
    USERS_WRITE = "users:write"
    BUNDLES_WRITE = "bundles:write"
    BUNDLE_ASSIGNMENTS_WRITE = "bundle_assignments:write"
    RECIPIENTS_WRITE = "recipients:write"
    ACTIONS_WRITE = "actions:write"
    TRIGGERS_WRITE = "triggers:write"
    PIPELINES_WRITE = "pipelines:write"
    STORAGE_LINK = "storage:link"
