"""Turn library errors into clear command-line failures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

if TYPE_CHECKING:
    from capgate.settings import Settings

__all__ = ["settings_or_exit"]


def settings_or_exit() -> Settings:
    """Load settings, or exit with a message naming the bad variable."""
    from pydantic_settings import SettingsError

    from capgate.cli.failures import settings_failure
    from capgate.settings import load_settings

    try:
        return load_settings()
    except (ValidationError, SettingsError) as exc:
        raise settings_failure(exc) from exc
