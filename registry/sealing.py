"""Signing-key secrets at rest: sealed with AES-GCM under a key derived from the server secret.

The sealing key is HKDF-SHA256(server secret, info="capgate signing keys v1"),
so the server secret itself never encrypts anything directly and other uses
of it derive independent keys. The key id is bound as associated data: a
sealed secret copied onto another key's row does not open.

Stored form: ``v1.<urlsafe base64 of nonce (12 bytes) + ciphertext + tag>``.
"""

from __future__ import annotations

import base64
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

__all__ = ["KeySealer", "UnsealError", "new_key_secret"]

_VERSION = "v1"
_INFO = b"capgate signing keys v1"
_NONCE_BYTES = 12


class UnsealError(ValueError):
    """A sealed secret does not open: wrong server secret, or a tampered row."""


def new_key_secret() -> str:
    """A fresh signing-key secret: 32 random bytes, URL-safe text (43 characters)."""
    return secrets.token_urlsafe(32)


class KeySealer:
    """Seals and opens signing-key secrets with the server secret."""

    def __init__(self, server_secret: SecretStr | str) -> None:
        raw = (
            server_secret.get_secret_value()
            if isinstance(server_secret, SecretStr)
            else server_secret
        )
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            raw.encode("utf-8")
        )
        self._aead = AESGCM(derived)

    def __repr__(self) -> str:
        return "KeySealer(<hidden>)"

    def seal(self, key_id: str, secret: str) -> str:
        """Encrypt ``secret`` for the row of ``key_id``."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode("utf-8"), key_id.encode("utf-8"))
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def open(self, key_id: str, sealed: str) -> str:
        """Decrypt a value made by :meth:`seal` for the same ``key_id``."""
        version, _, body = sealed.partition(".")
        if version != _VERSION or not body:
            raise UnsealError(f"signing key {key_id}: unknown sealed format")
        try:
            blob = base64.urlsafe_b64decode(body.encode("ascii"))
            plain = self._aead.decrypt(
                blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], key_id.encode("utf-8")
            )
        except (InvalidTag, ValueError) as exc:
            raise UnsealError(
                f"signing key {key_id} does not open with this server secret"
            ) from exc
        return plain.decode("utf-8")
