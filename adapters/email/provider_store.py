"""The provider registry on the database: register, unregister, activate, list, resolve.

Works inside the caller's session and never commits. Rules:

* the registering plugin owns the provider; registering an existing name
  again replaces its kind and config if the caller owns it, PERMISSION
  ``provider_owned_by_other_plugin`` otherwise;
* a provider registered while none is active becomes active (so the first
  one registered does);
* only the owner may unregister (PERMISSION ``not_provider_owner``);
  unregistering the active provider leaves none active until one is set;
* any caller with the scope may choose the active provider.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from capgate.adapters.email.config import parse_provider_config
from capgate.adapters.email.config_cipher import ConfigCipher
from capgate.adapters.email.factories import ProviderSpec
from capgate.adapters.email.tables import EmailProvider
from capgate.contracts.email_providers import ProviderKind, ProviderSummary
from capgate.contracts.errors import PluginServiceError

__all__ = ["ProviderStore"]


class ProviderStore:
    """Provider rows of one session."""

    def __init__(self, session: Session, cipher: ConfigCipher) -> None:
        """Use ``session`` (the pipeline's transaction) and ``cipher`` for configs."""
        self._session = session
        self._cipher = cipher

    def register(
        self, *, name: str, kind: ProviderKind, config: dict[str, Any], owner: str, now: datetime
    ) -> tuple[EmailProvider, bool]:
        """Add or replace a provider; returns it and whether it was created."""
        parse_provider_config(kind, config)  # refuse a bad config before storing it
        sealed = self._cipher.seal(name, config)
        row = self._session.get(EmailProvider, name)
        if row is not None:
            if row.owner_plugin_id != owner:
                raise PluginServiceError.permission(
                    "provider_owned_by_other_plugin",
                    f"provider {name!r} belongs to another plugin",
                )
            row.kind, row.sealed_config = kind.value, sealed
            return row, False
        row = EmailProvider(
            name=name,
            kind=kind.value,
            owner_plugin_id=owner,
            sealed_config=sealed,
            active=self._active() is None,
            created_at=now,
        )
        self._session.add(row)
        self._session.flush()
        return row, True

    def unregister(self, *, name: str, caller: str) -> EmailProvider:
        """Remove ``name``; only its owner may."""
        row = self._get(name)
        if row.owner_plugin_id != caller:
            raise PluginServiceError.permission(
                "not_provider_owner", f"only the plugin that registered {name!r} may remove it"
            )
        self._session.delete(row)
        self._session.flush()
        return row

    def set_active(self, name: str) -> bool:
        """Make ``name`` the active provider; returns False if it already was."""
        row = self._get(name)
        if row.active:
            return False
        current = self._active()
        if current is not None:
            current.active = False
            # Flush the old one first: at most one row may be active at a time.
            self._session.flush()
        row.active = True
        self._session.flush()
        return True

    def summaries(self) -> list[ProviderSummary]:
        """Every provider, without its config."""
        rows = self._session.scalars(select(EmailProvider).order_by(EmailProvider.name))
        return [
            ProviderSummary(
                name=row.name,
                kind=ProviderKind(row.kind),
                owner_plugin_id=row.owner_plugin_id,
                active=row.active,
            )
            for row in rows
        ]

    def spec(self, name: str | None) -> ProviderSpec:
        """The named provider, or the active one, with its config opened and parsed."""
        row = self._get(name) if name is not None else self._active()
        if row is None:
            raise PluginServiceError.not_found(
                "no_active_provider", "no email provider is active; register or activate one"
            )
        kind = ProviderKind(row.kind)
        config = parse_provider_config(kind, self._cipher.open(row.name, row.sealed_config))
        return ProviderSpec(name=row.name, kind=kind, config=config)

    def _get(self, name: str) -> EmailProvider:
        row = self._session.get(EmailProvider, name)
        if row is None:
            raise PluginServiceError.not_found(
                "provider_not_found", f"no email provider named {name!r}"
            )
        return row

    def _active(self) -> EmailProvider | None:
        query = select(EmailProvider).where(EmailProvider.active.is_(True))
        return self._session.scalars(query).first()
