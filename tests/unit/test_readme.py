"""The README documents every setting the code reads."""

from __future__ import annotations

from pathlib import Path

from capgate.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`CAPGATE_{name.upper()}`" not in text]
    assert missing == []
