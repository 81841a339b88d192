"""Handlers of the ``storage.*`` operations: release links and object heads.

A release link is made only for an existing, enabled bundle and recipient
with an enabled assignment between them; its id is derived from the command
id, so every attempt of one command names the same link.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from capgate.adapters.base import AdapterResult, Invocation
from capgate.adapters.object_store import ObjectStore
from capgate.adapters.payloads import payload_of
from capgate.adapters.release_links import ReleaseLinkClaims, sign_release_link
from capgate.adapters.resource_tables import Bundle, BundleAssignment, Recipient
from capgate.contracts.errors import PluginServiceError
from capgate.contracts.storage import CreateReleaseLink, HeadObject, ReleaseLink

__all__ = ["StorageHandlers"]


class StorageHandlers:
    """``storage.create_release_link`` and ``storage.head_object``."""

    def __init__(self, *, store: ObjectStore, link_key: bytes, link_base_url: str) -> None:
        """``link_base_url`` is the core's download route, e.g. ``https://core/releases``."""
        self._store = store
        self._key = link_key
        self._base = link_base_url.rstrip("/")

    def create_release_link(self, invocation: Invocation) -> AdapterResult:
        """Sign a link for (bundle, recipient) that expires after ``ttl_seconds``."""
        payload = payload_of(invocation, CreateReleaseLink)
        _enabled(invocation, Bundle, payload.bundle_id, "bundle")
        _enabled(invocation, Recipient, payload.recipient_id, "recipient")
        assigned = invocation.session.scalars(
            select(BundleAssignment.id).where(
                BundleAssignment.bundle_id == payload.bundle_id,
                BundleAssignment.recipient_id == payload.recipient_id,
                BundleAssignment.enabled.is_(True),
            )
        ).first()
        if assigned is None:
            raise PluginServiceError.permission(
                "recipient_not_assigned", "the bundle is not assigned to this recipient"
            )
        link_id = "rl-" + hashlib.sha256(invocation.command_id.encode()).hexdigest()[:24]
        # Whole seconds: the token carries the expiry as a Unix time.
        now = invocation.now.replace(microsecond=0)
        claims = ReleaseLinkClaims(
            link_id=link_id,
            bundle_id=payload.bundle_id,
            recipient_id=payload.recipient_id,
            content_hash=payload.content_hash,
            expires_at=now + timedelta(seconds=payload.ttl_seconds),
        )
        token = sign_release_link(claims, self._key)
        link = ReleaseLink(
            link_id=link_id,
            url=f"{self._base}/{quote(payload.bundle_id)}?token={token}",
            expires_at=claims.expires_at,
            content_hash=claims.content_hash,
        )
        return AdapterResult(link.model_dump(mode="json"), "release_link", link_id)

    def head_object(self, invocation: Invocation) -> AdapterResult:
        """The object's etag, content type and length."""
        payload = payload_of(invocation, HeadObject)
        if invocation.session.get(Bundle, payload.bundle_id) is None:
            raise _missing("bundle", payload.bundle_id)
        head = self._store.head(payload.bundle_id, payload.object_key)
        resource = f"{payload.bundle_id}/{payload.object_key}"
        return AdapterResult(head.model_dump(mode="json"), "bundle_object", resource[:128])


def _enabled(invocation: Invocation, model: Any, row_id: str, name: str) -> None:
    row = invocation.session.get(model, row_id)
    if row is None:
        raise _missing(name, row_id)
    if not row.enabled:
        raise PluginServiceError.validation(f"{name}_disabled", f"{name} {row_id!r} is disabled")


def _missing(name: str, row_id: str) -> PluginServiceError:
    return PluginServiceError.not_found(f"{name}_not_found", f"no {name} with id {row_id!r}")
