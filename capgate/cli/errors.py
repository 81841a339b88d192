"""Turn library errors into clear command-line failures."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from capgate.settings import Settings

__all__ = ["settings_or_exit"]


def settings_or_exit() -> Settings:
    """Load settings, or exit with one line naming each bad variable."""
    from capgate.cli.failures import settings_failure
    from capgate.settings import SettingsInvalidError, checked_settings

    try:
        return checked_settings()
    except SettingsInvalidError as exc:
        raise settings_failure(exc) from None
