"""Development provider: writes each message as an ``.eml`` file in a folder.

The file is named after the Message-ID, so a resend of the same command
overwrites its own file instead of adding a second one (the same
deduplication a real receiver does). Files are written whole, then renamed,
so a reader never sees half a message.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from capgate.adapters.email.message import OutgoingEmail, SentEmail
from capgate.contracts.errors import PluginServiceError

__all__ = ["EmlFileSender", "eml_path"]


def eml_path(folder: Path, message_id: str) -> Path:
    """Where the message with ``message_id`` is written in ``folder``."""
    digest = hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:32]
    return folder / f"{digest}.eml"


class EmlFileSender:
    """Writes messages to ``folder`` (created when missing)."""

    def __init__(self, folder: Path) -> None:
        """``folder`` belongs to the deployment; a plugin never chooses it."""
        self._folder = folder

    def __repr__(self) -> str:
        return f"EmlFileSender({str(self._folder)!r})"

    def send(self, message: OutgoingEmail) -> SentEmail:
        """Write ``message``; PermissionError is FATAL, other OS errors RETRYABLE."""
        target = eml_path(self._folder, message.message_id)
        # Bcc is not a header (to_mime drops it); keep the envelope in X- headers
        # so a developer can see who would have received the message.
        mime = message.to_mime()
        mime["X-Envelope-To"] = ", ".join(message.recipients)
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            partial.write_bytes(mime.as_bytes())
            os.replace(partial, target)
        except PermissionError as exc:
            raise PluginServiceError.fatal(
                "eml_folder_not_writable", f"cannot write to the .eml folder: {exc.strerror}"
            ) from exc
        except OSError as exc:
            raise PluginServiceError.retryable(
                "eml_write_failed", f"writing the .eml file failed: {exc.strerror}"
            ) from exc
        return SentEmail(message.message_id, provider_message_id=target.name)
