"""The adapters' composition root: every operation name -> its handler.

``build_handlers`` takes explicit, session-free dependencies (the server
secret, folders, provider factories, an object store) and never reads the
environment. A deployment with its own core system replaces any handler
with ``overrides`` (see ``docs/adapters.md``); :func:`load_overrides` reads
them from ``"operation": "module:attribute"`` configuration.
"""

from __future__ import annotations

import importlib
import ssl
from collections.abc import Iterable, Mapping
from pathlib import Path

from capgate.adapters.base import AdapterResult, Handler, Invocation
from capgate.adapters.email.config_cipher import ConfigCipher
from capgate.adapters.email.factories import (
    ProviderFactory,
    default_provider_factories,
    merged_factories,
)
from capgate.adapters.email.gate import ProviderGate
from capgate.adapters.email.gmail import GmailEndpoints
from capgate.adapters.email.handlers import EmailHandlers
from capgate.adapters.object_store import FilesystemObjectStore, ObjectStore
from capgate.adapters.payloads import translate_db_errors
from capgate.adapters.release_links import release_link_key
from capgate.adapters.storage import StorageHandlers
from capgate.adapters.toggles import RESOURCE_TYPES, ResourceToggle
from capgate.adapters.user_policy import UserAdminPolicy
from capgate.adapters.users import UserAdmin
from capgate.contracts.email_providers import ProviderKind

__all__ = ["build_handlers", "load_overrides"]


def build_handlers(
    *,
    secret: str,
    storage_root: Path,
    eml_folder: Path,
    provider_factories: Mapping[ProviderKind | str, ProviderFactory] | None = None,
    object_store: ObjectStore | None = None,
    link_base_url: str = "http://localhost:8000/releases",
    storage_key: str | None = None,
    message_id_domain: str = "capgate.invalid",
    admin_capabilities: Iterable[str] = (),
    gmail_endpoints: GmailEndpoints | None = None,
    smtp_tls_context: ssl.SSLContext | None = None,
    overrides: Mapping[str, Handler] | None = None,
    provider_gate: ProviderGate | None = None,
) -> dict[str, Handler]:
    """Every operation's handler, built from explicit configuration.

    ``provider_factories`` replaces the factory of a provider kind (the demo
    maps ``"smtp"`` to a :class:`FakeEmailSender`); ``object_store``
    replaces the filesystem store under ``storage_root``; ``overrides``
    replaces whole handlers by operation name; ``provider_gate`` (the
    worker's rate limiter) shares a provider's 429 with every worker.
    """
    factories = merged_factories(
        default_provider_factories(
            eml_folder=eml_folder,
            gmail_endpoints=gmail_endpoints,
            smtp_tls_context=smtp_tls_context,
        ),
        provider_factories,
    )
    email = EmailHandlers(
        cipher=ConfigCipher(secret),
        factories=factories,
        message_id_domain=message_id_domain,
        gate=provider_gate,
    )
    users = UserAdmin(UserAdminPolicy(frozenset(admin_capabilities)))
    storage = StorageHandlers(
        store=object_store or FilesystemObjectStore(storage_root),
        link_key=release_link_key(secret, storage_key),
        link_base_url=link_base_url,
    )
    handlers: dict[str, Handler] = {
        "email.register_provider": email.register_provider,
        "email.unregister_provider": email.unregister_provider,
        "email.set_active_provider": email.set_active_provider,
        "email.list_providers": email.list_providers,
        "email.send": email.send,
        "users.assign_role": users.assign_role,
        "users.activate": users.activate,
        "users.deactivate": users.deactivate,
        "users.revoke_sessions": users.revoke_sessions,
        "storage.create_release_link": storage.create_release_link,
        "storage.head_object": storage.head_object,
    }
    for service_key in RESOURCE_TYPES:
        handlers[f"{service_key}.enable"] = ResourceToggle(service_key, enabled=True)
        handlers[f"{service_key}.disable"] = ResourceToggle(service_key, enabled=False)
    unknown = sorted(set(overrides or {}) - set(handlers))
    if unknown:
        raise ValueError(f"overrides name unknown operations: {', '.join(unknown)}")
    handlers.update(overrides or {})
    return {name: _with_db_errors(handler) for name, handler in handlers.items()}


def _with_db_errors(handler: Handler) -> Handler:
    def run(invocation: Invocation) -> AdapterResult:
        with translate_db_errors():
            return handler(invocation)

    run.__qualname__ = run.__name__ = getattr(handler, "__name__", type(handler).__name__)
    run.__wrapped__ = handler  # type: ignore[attr-defined]
    return run


def load_overrides(spec: Mapping[str, str]) -> dict[str, Handler]:
    """Resolve ``{"users.assign_role": "acme_core.capgate:assign_role"}`` to handlers."""
    resolved: dict[str, Handler] = {}
    for operation, target in spec.items():
        module_name, _, attribute = target.partition(":")
        if not module_name or not attribute:
            raise ValueError(f"{operation}: expected 'module:attribute', got {target!r}")
        handler = getattr(importlib.import_module(module_name), attribute)
        if not callable(handler):
            raise ValueError(f"{operation}: {target} is not callable")
        resolved[operation] = handler
    return resolved
