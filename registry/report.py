"""Plain-text renderings of registry views for the operator CLI (no secrets in them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from capgate.registry.views import PluginSummary, PluginView

__all__ = ["plugin_details", "plugin_table"]


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%SZ")


def plugin_table(rows: Sequence[PluginSummary]) -> list[str]:
    """``capgate plugins list``: one aligned line per plugin, under a header."""
    if not rows:
        return ["no plugins registered (add one with: capgate plugins add NAME)"]
    width = max(len("NAME"), *(len(row.name) for row in rows))
    lines = [f"{'NAME':<{width}}  STATUS    CAPS  KEYS  CREATED               ID"]
    for row in rows:
        lines.append(
            f"{row.name:<{width}}  {row.status:<8}  {row.capabilities:>4}  {row.active_keys:>4}  "
            f"{_when(row.created_at):<20}  {row.id}"
        )
    return lines


def plugin_details(view: PluginView, now: datetime) -> list[str]:
    """``capgate plugins show``: identity, capabilities with grants, then keys."""
    lines = [
        f"plugin:  {view.name}",
        f"id:      {view.id}",
        f"status:  {view.status}",
        f"created: {_when(view.created_at)}",
        "capabilities:" if view.capabilities else "capabilities: none",
    ]
    for capability in view.capabilities:
        lines.append(f"  {capability.key} ({capability.kind}) id={capability.id}")
        for grant in capability.grants:
            lines.append(f"    {grant.scope:<26} {grant.rate_limit or 'no limit'}")
        if not capability.grants:
            lines.append("    (no scopes granted)")
    lines.append("keys:" if view.keys else "keys: none")
    for key in view.keys:
        lines.append(
            f"  {key.id}  {key.state(now):<8}  created {_when(key.created_at)}  "
            f"rotated {_when(key.rotated_at)}  revoked {_when(key.revoked_at)}"
        )
    return lines
