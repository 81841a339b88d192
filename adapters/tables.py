"""Every core table the adapters own, imported in one place for ``capgate.tables``."""

from capgate.adapters.change_log import ChangeLogEntry
from capgate.adapters.email.tables import EmailProvider
from capgate.adapters.resource_tables import (
    ActionDefinition,
    Bundle,
    BundleAssignment,
    Pipeline,
    Recipient,
    TriggerDefinition,
)
from capgate.adapters.user_tables import Role, User, UserSession

__all__ = [
    "ActionDefinition",
    "Bundle",
    "BundleAssignment",
    "ChangeLogEntry",
    "EmailProvider",
    "Pipeline",
    "Recipient",
    "Role",
    "TriggerDefinition",
    "User",
    "UserSession",
]
