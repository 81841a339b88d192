"""Turn library errors into clear command-line failures."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

if TYPE_CHECKING:
    from capgate.settings import Settings

__all__ = ["settings_or_exit"]


def settings_or_exit() -> Settings:
    """Load settings, or exit with a message naming the bad variable."""
    from capgate.settings import load_settings

    try:
        return load_settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            lines.append(f"  CAPGATE_{field.upper()}: {error['msg']}")
        raise click.ClickException("invalid settings:\n" + "\n".join(lines)) from exc
