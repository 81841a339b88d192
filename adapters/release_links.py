"""Release links: HMAC-SHA256-signed, bound to a bundle, a recipient, an expiry and a hash.

Token form: ``<claims>.<signature>``, both unpadded base64url; ``claims`` is
the canonical JSON ``{"b": bundle, "exp": unix seconds, "h": content hash,
"lid": link id, "r": recipient, "v": 1}``. The core's download route calls
:func:`verify_release_link` with the bundle asked for and the recipient
signed in; it refuses, with PERMISSION, a link that is

=========================  ==================================
``release_link_tampered``  malformed, or the signature does not match
``release_link_wrong_bundle``     made for another bundle
``release_link_wrong_recipient``  made for another recipient
``release_link_content_changed``  the content hash differs from the object's
``release_link_expired``   past its expiry
=========================  ==================================
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from capgate.contracts.errors import PluginServiceError

__all__ = ["ReleaseLinkClaims", "release_link_key", "sign_release_link", "verify_release_link"]

_INFO = b"capgate release links v1"
_DOMAIN = b"capgate-release-link-v1."


@dataclass(frozen=True, slots=True)
class ReleaseLinkClaims:
    """What a release link grants."""

    link_id: str
    bundle_id: str
    recipient_id: str
    content_hash: str
    expires_at: datetime


def release_link_key(server_secret: str, storage_key: str | None = None) -> bytes:
    """The signing key: the configured storage key, else one derived from the server secret."""
    if storage_key:
        return storage_key.encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        server_secret.encode("utf-8")
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, claims_part: str) -> bytes:
    return hmac.new(key, _DOMAIN + claims_part.encode("ascii"), hashlib.sha256).digest()


def sign_release_link(claims: ReleaseLinkClaims, key: bytes) -> str:
    """The token for ``claims``."""
    body = {
        "b": claims.bundle_id,
        "exp": int(claims.expires_at.timestamp()),
        "h": claims.content_hash,
        "lid": claims.link_id,
        "r": claims.recipient_id,
        "v": 1,
    }
    claims_part = _b64(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    return f"{claims_part}.{_b64(_signature(key, claims_part))}"


def verify_release_link(
    token: str,
    *,
    key: bytes,
    bundle_id: str,
    recipient_id: str,
    now: datetime,
    content_hash: str | None = None,
) -> ReleaseLinkClaims:
    """The claims of a valid link for this bundle and recipient, or PERMISSION."""
    claims = _parse(token, key)
    if not hmac.compare_digest(claims.bundle_id, bundle_id):
        raise _refuse("release_link_wrong_bundle", "the link was made for another bundle")
    if not hmac.compare_digest(claims.recipient_id, recipient_id):
        raise _refuse("release_link_wrong_recipient", "the link was made for another recipient")
    if content_hash is not None and claims.content_hash != content_hash:
        raise _refuse("release_link_content_changed", "the bundle content changed since")
    if now >= claims.expires_at:
        raise _refuse("release_link_expired", "the link has expired")
    return claims


def _parse(token: str, key: bytes) -> ReleaseLinkClaims:
    claims_part, _, signature_part = token.partition(".")
    try:
        signature = _unb64(signature_part)
    except (binascii.Error, ValueError) as exc:
        raise _tampered() from exc
    if not signature_part or not hmac.compare_digest(signature, _signature(key, claims_part)):
        raise _tampered()
    try:
        body = json.loads(_unb64(claims_part))
        return ReleaseLinkClaims(
            link_id=str(body["lid"]),
            bundle_id=str(body["b"]),
            recipient_id=str(body["r"]),
            content_hash=str(body["h"]),
            expires_at=datetime.fromtimestamp(int(body["exp"]), UTC),
        )
    except (binascii.Error, ValueError, TypeError, KeyError, OverflowError) as exc:
        raise _tampered() from exc


def _tampered() -> PluginServiceError:
    return _refuse("release_link_tampered", "the link is malformed or altered")


def _refuse(code: str, message: str) -> PluginServiceError:
    return PluginServiceError.permission(code, message)
