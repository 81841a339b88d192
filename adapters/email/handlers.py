"""Handlers of the ``email.*`` operations: the provider registry and sending.

``email.send`` builds one :class:`OutgoingEmail` whose Message-ID is derived
from the command id, so every attempt of a command sends the same message
and a receiver can drop a resend.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from capgate.adapters.base import AdapterResult, Invocation
from capgate.adapters.email.config_cipher import ConfigCipher
from capgate.adapters.email.factories import ProviderFactory, ProviderSpec
from capgate.adapters.email.gate import OpenGate, ProviderGate, check_gate, share_backoff
from capgate.adapters.email.message import OutgoingAttachment, OutgoingEmail, message_id_for
from capgate.adapters.email.provider_store import ProviderStore
from capgate.adapters.payloads import payload_of
from capgate.contracts.email import SendEmail, SendEmailResult
from capgate.contracts.email_providers import (
    ListProviders,
    ProviderKind,
    ProviderList,
    RegisterProvider,
    SetActiveProvider,
    UnregisterProvider,
)
from capgate.contracts.errors import PluginServiceError

__all__ = ["EmailHandlers"]

_PROVIDER = "email_provider"


class EmailHandlers:
    """The five email handlers, sharing the cipher and the provider factories."""

    def __init__(
        self,
        *,
        cipher: ConfigCipher,
        factories: Mapping[ProviderKind, ProviderFactory],
        message_id_domain: str,
        gate: ProviderGate | None = None,
    ) -> None:
        """``message_id_domain`` is the right part of every Message-ID; ``gate``
        shares a provider's 429 with every worker."""
        self._gate: ProviderGate = gate or OpenGate()
        self._cipher = cipher
        self._factories = dict(factories)
        self._domain = message_id_domain

    def register_provider(self, invocation: Invocation) -> AdapterResult:
        """``email.register_provider``: the calling plugin becomes the owner."""
        payload = payload_of(invocation, RegisterProvider)
        row, created = self._store(invocation).register(
            name=payload.name,
            kind=payload.kind,
            config=dict(payload.config),
            owner=invocation.context.plugin_id,
            now=invocation.now,
        )
        response = {"name": row.name, "kind": row.kind, "active": row.active, "created": created}
        return AdapterResult(response, _PROVIDER, row.name)

    def unregister_provider(self, invocation: Invocation) -> AdapterResult:
        """``email.unregister_provider``: only by the owner."""
        payload = payload_of(invocation, UnregisterProvider)
        row = self._store(invocation).unregister(
            name=payload.name, caller=invocation.context.plugin_id
        )
        return AdapterResult({"name": row.name, "was_active": row.active}, _PROVIDER, row.name)

    def set_active_provider(self, invocation: Invocation) -> AdapterResult:
        """``email.set_active_provider``."""
        payload = payload_of(invocation, SetActiveProvider)
        changed = self._store(invocation).set_active(payload.name)
        return AdapterResult({"name": payload.name, "changed": changed}, _PROVIDER, payload.name)

    def list_providers(self, invocation: Invocation) -> AdapterResult:
        """``email.list_providers``: names, kinds, owners, active flag; never configs."""
        payload_of(invocation, ListProviders)
        listing = ProviderList(providers=self._store(invocation).summaries())
        return AdapterResult(listing.model_dump(mode="json"), _PROVIDER, None)

    def send(self, invocation: Invocation) -> AdapterResult:
        """``email.send`` through the named provider, or the active one."""
        payload = payload_of(invocation, SendEmail)
        spec = self._store(invocation).spec(payload.provider)
        factory = self._factories.get(spec.kind)
        if factory is None:
            raise PluginServiceError.fatal(
                "provider_kind_unavailable",
                f"this deployment has no {spec.kind.value} provider factory",
            )
        check_gate(self._gate, spec.name)
        message = self._message(invocation, payload, spec)
        try:
            sent = factory(spec).send(message)
        except PluginServiceError as error:
            share_backoff(self._gate, spec.name, error)
            raise
        result = SendEmailResult(message_id=sent.message_id, provider=spec.name)
        return AdapterResult(result.model_dump(mode="json"), "email_message", sent.message_id)

    def _store(self, invocation: Invocation) -> ProviderStore:
        return ProviderStore(invocation.session, self._cipher)

    def _message(
        self, invocation: Invocation, payload: SendEmail, spec: ProviderSpec
    ) -> OutgoingEmail:
        sender = getattr(spec.config, "sender", None)
        if not isinstance(sender, str):
            raise PluginServiceError.fatal(
                "provider_has_no_sender", f"provider {spec.name!r} has no sender address"
            )
        return OutgoingEmail(
            message_id=message_id_for(invocation.command_id, self._domain),
            sender=sender,
            date=invocation.now,
            subject=payload.subject,
            to=tuple(payload.to),
            cc=tuple(payload.cc),
            bcc=tuple(payload.bcc),
            reply_to=payload.reply_to,
            text=payload.text,
            html=payload.html,
            attachments=tuple(
                OutgoingAttachment(
                    item.filename, item.content_type, base64.b64decode(item.content_base64)
                )
                for item in payload.attachments
            ),
            headers=tuple(payload.headers.items()),
        )
