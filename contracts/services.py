"""The table behind the catalog: each service key, its scope, description and operations.

This module is data; :mod:`capgate.contracts.catalog` is the API to read it.
Every operation name is ``<prefix>.<verb>``; the toggles share one payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from capgate.contracts.email import SendEmail, SendEmailResult
from capgate.contracts.email_providers import (
    ListProviders,
    ProviderList,
    RegisterProvider,
    SetActiveProvider,
    UnregisterProvider,
)
from capgate.contracts.scopes import PluginServiceScope as Scope
from capgate.contracts.storage import CreateReleaseLink, HeadObject, ObjectHead, ReleaseLink
from capgate.contracts.toggles import ToggleResource
from capgate.contracts.users import AssignRole, RevokeSessions, RevokeSessionsResult, UserTarget

__all__ = ["SERVICES", "OperationEntry", "ServiceEntry", "ServiceKey"]


class ServiceKey(StrEnum):
    """A core service a plugin may call."""

    EMAIL_PROVIDERS = "email_providers"
    USERS = "users"
    BUNDLES = "bundles"
    BUNDLE_ASSIGNMENTS = "bundle_assignments"
    RECIPIENTS = "recipients"
    ACTIONS = "actions"
    TRIGGERS = "triggers"
    PIPELINES = "pipelines"
    STORAGE = "storage"


@dataclass(frozen=True, slots=True)
class OperationEntry:
    """One operation of a service: name, models and a one-line description."""

    name: str
    payload: type[BaseModel]
    result: type[BaseModel] | None
    description: str


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """One service: the scopes its operations require, a description, its operations."""

    scopes: frozenset[Scope]
    description: str
    operations: tuple[OperationEntry, ...]


def _toggles(prefix: str, scope: Scope, one: str) -> ServiceEntry:
    return ServiceEntry(
        scopes=frozenset({scope}),
        description=f"Enable or disable {one}s.",
        operations=(
            OperationEntry(f"{prefix}.enable", ToggleResource, None, f"Enable a {one}."),
            OperationEntry(f"{prefix}.disable", ToggleResource, None, f"Disable a {one}."),
        ),
    )


_E = OperationEntry
SERVICES: dict[ServiceKey, ServiceEntry] = {
    ServiceKey.EMAIL_PROVIDERS: ServiceEntry(
        frozenset({Scope.EMAIL_SEND}),
        "Email providers (SMTP, Gmail, .eml files) and sending mail through them.",
        (
            _E("email.register_provider", RegisterProvider, None, "Register a provider."),
            _E("email.unregister_provider", UnregisterProvider, None, "Remove own provider."),
            _E("email.set_active_provider", SetActiveProvider, None, "Choose the default."),
            _E("email.list_providers", ListProviders, ProviderList, "List providers."),
            _E("email.send", SendEmail, SendEmailResult, "Send one email message."),
        ),
    ),
    ServiceKey.USERS: ServiceEntry(
        frozenset({Scope.USERS_WRITE}),
        "User administration: roles, activation and sessions.",
        (
            _E("users.assign_role", AssignRole, None, "Assign a role to a user."),
            _E("users.activate", UserTarget, None, "Activate a user."),
            _E("users.deactivate", UserTarget, None, "Deactivate a user."),
            _E("users.revoke_sessions", RevokeSessions, RevokeSessionsResult, "End sessions."),
        ),
    ),
    ServiceKey.BUNDLES: _toggles("bundles", Scope.BUNDLES_WRITE, "bundle"),
    ServiceKey.BUNDLE_ASSIGNMENTS: _toggles(
        "bundle_assignments", Scope.BUNDLE_ASSIGNMENTS_WRITE, "bundle assignment"
    ),
    ServiceKey.RECIPIENTS: _toggles("recipients", Scope.RECIPIENTS_WRITE, "recipient"),
    ServiceKey.ACTIONS: _toggles("actions", Scope.ACTIONS_WRITE, "action definition"),
    ServiceKey.TRIGGERS: _toggles("triggers", Scope.TRIGGERS_WRITE, "trigger definition"),
    ServiceKey.PIPELINES: _toggles("pipelines", Scope.PIPELINES_WRITE, "pipeline"),
    ServiceKey.STORAGE: ServiceEntry(
        frozenset({Scope.STORAGE_LINK}),
        "Bundle storage: release links and object metadata.",
        (
            _E("storage.create_release_link", CreateReleaseLink, ReleaseLink, "Make a link."),
            _E("storage.head_object", HeadObject, ObjectHead, "Read an object's metadata."),
        ),
    ),
}
"""Service key -> its entry; the catalog is built from this table."""
