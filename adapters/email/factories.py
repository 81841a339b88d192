"""Provider factories: from a registered provider to a ready :class:`EmailSender`.

A factory gets the provider's name, kind and validated config; what a plugin
may not choose (Gmail endpoints, the ``.eml`` folder, the TLS trust store)
is bound when the deployment builds the factories. To swap a provider,
map its kind to another factory in ``build_handlers(provider_factories=...)``.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import BaseModel

from capgate.adapters.email.config import EmlConfig, GmailConfig, SmtpConfig
from capgate.adapters.email.eml import EmlFileSender
from capgate.adapters.email.gmail import GmailEndpoints, GmailSender
from capgate.adapters.email.message import EmailSender
from capgate.adapters.email.smtp import SmtpSender
from capgate.contracts.email_providers import ProviderKind

__all__ = ["ProviderFactory", "ProviderSpec", "default_provider_factories", "merged_factories"]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """A registered provider with its decrypted, validated config."""

    name: str
    kind: ProviderKind
    config: BaseModel


ProviderFactory = Callable[[ProviderSpec], EmailSender]
"""Builds the sender of one provider."""


def default_provider_factories(
    *,
    eml_folder: Path,
    gmail_endpoints: GmailEndpoints | None = None,
    smtp_tls_context: ssl.SSLContext | None = None,
    http_client: httpx.Client | None = None,
) -> dict[ProviderKind, ProviderFactory]:
    """The real providers: SMTP, Gmail (token cached per provider) and .eml files."""
    endpoints = gmail_endpoints or GmailEndpoints()
    gmail_senders: dict[str, GmailSender] = {}

    def smtp(spec: ProviderSpec) -> EmailSender:
        assert isinstance(spec.config, SmtpConfig)
        return SmtpSender(spec.config, tls_context=smtp_tls_context)

    def gmail(spec: ProviderSpec) -> EmailSender:
        assert isinstance(spec.config, GmailConfig)
        # Keep one sender (and so one access token) per provider and credentials.
        key = _credentials_key(spec.name, spec.config)
        if key not in gmail_senders:
            gmail_senders[key] = GmailSender(spec.config, endpoints=endpoints, client=http_client)
        return gmail_senders[key]

    def eml(spec: ProviderSpec) -> EmailSender:
        assert isinstance(spec.config, EmlConfig)
        return EmlFileSender(eml_folder / spec.name)

    return {ProviderKind.SMTP: smtp, ProviderKind.GMAIL: gmail, ProviderKind.EML: eml}


def _credentials_key(name: str, config: GmailConfig) -> str:
    material = "\0".join(
        (name, config.client_id, config.refresh_token.get_secret_value(), config.sender)
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def merged_factories(
    defaults: Mapping[ProviderKind, ProviderFactory],
    overrides: Mapping[ProviderKind | str, ProviderFactory] | None,
) -> dict[ProviderKind, ProviderFactory]:
    """``defaults`` with ``overrides`` (keyed by kind or its string) replacing them."""
    merged = dict(defaults)
    for kind, factory in (overrides or {}).items():
        merged[ProviderKind(kind)] = factory
    return merged
