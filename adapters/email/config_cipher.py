"""Provider configs at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a derived key.

The key is HKDF-SHA256(server secret, info="capgate email provider config v1"),
independent of every other key derived from the same secret. The provider's
name is sealed with its config and checked on opening, so ciphertext copied
onto another provider's row does not open there.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from capgate.contracts.errors import PluginServiceError

__all__ = ["ConfigCipher"]

_INFO = b"capgate email provider config v1"


class ConfigCipher:
    """Seals and opens provider configs with a key derived from the server secret."""

    def __init__(self, server_secret: str) -> None:
        """``server_secret`` is ``Settings.secret``; it is never stored here in clear."""
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            server_secret.encode("utf-8")
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def __repr__(self) -> str:
        return "ConfigCipher(<hidden>)"

    def seal(self, provider: str, config: dict[str, Any]) -> str:
        """Encrypt ``config`` for the provider named ``provider``."""
        plain = json.dumps({"provider": provider, "config": config}, sort_keys=True)
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def open(self, provider: str, sealed: str) -> dict[str, Any]:
        """Decrypt what :meth:`seal` made for ``provider``; FATAL if it does not open."""
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode("ascii")))
        except (InvalidToken, ValueError) as exc:
            raise _unreadable(provider) from exc
        if not isinstance(data, dict) or data.get("provider") != provider:
            raise _unreadable(provider)
        config = data.get("config")
        if not isinstance(config, dict):
            raise _unreadable(provider)
        return config


def _unreadable(provider: str) -> PluginServiceError:
    # Retrying cannot help: the server secret changed or the row was altered.
    return PluginServiceError.fatal(
        "provider_config_unreadable",
        f"the stored config of provider {provider!r} does not open with this server secret",
    )
