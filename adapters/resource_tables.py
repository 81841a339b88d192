"""Core tables of the resources plugins may switch on and off.

Each has an ``enabled`` flag and ``updated_at``; the toggle handler
(:mod:`capgate.adapters.toggles`) works on any of them through
:data:`TOGGLEABLE`, keyed by the operation's service key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from capgate.database import Base, UtcDateTime

__all__ = [
    "TOGGLEABLE",
    "ActionDefinition",
    "Bundle",
    "BundleAssignment",
    "Pipeline",
    "Recipient",
    "Toggleable",
    "TriggerDefinition",
]


class Toggleable:
    """Columns every switchable resource has."""

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class Bundle(Toggleable, Base):
    """A set of files released to recipients."""

    __tablename__ = "bundles"

    name: Mapped[str] = mapped_column(String(200))


class Recipient(Toggleable, Base):
    """Someone a bundle can be released to."""

    __tablename__ = "recipients"

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))


class BundleAssignment(Toggleable, Base):
    """A bundle assigned to a recipient; release links need an enabled one."""

    __tablename__ = "bundle_assignments"
    __table_args__ = (UniqueConstraint("bundle_id", "recipient_id"),)

    bundle_id: Mapped[str] = mapped_column(ForeignKey("bundles.id", ondelete="CASCADE"))
    recipient_id: Mapped[str] = mapped_column(ForeignKey("recipients.id", ondelete="CASCADE"))


class ActionDefinition(Toggleable, Base):
    """An action a plugin defines."""

    __tablename__ = "action_definitions"

    name: Mapped[str] = mapped_column(String(200))
    plugin_id: Mapped[str | None] = mapped_column(String(128), default=None)


class TriggerDefinition(Toggleable, Base):
    """A trigger a plugin defines."""

    __tablename__ = "trigger_definitions"

    name: Mapped[str] = mapped_column(String(200))
    plugin_id: Mapped[str | None] = mapped_column(String(128), default=None)


class Pipeline(Toggleable, Base):
    """A pipeline of actions."""

    __tablename__ = "pipelines"

    name: Mapped[str] = mapped_column(String(200))


TOGGLEABLE: dict[str, type[Toggleable]] = {
    "bundles": Bundle,
    "bundle_assignments": BundleAssignment,
    "recipients": Recipient,
    "actions": ActionDefinition,
    "triggers": TriggerDefinition,
    "pipelines": Pipeline,
}
"""Service key (the operation's prefix) -> the table it toggles."""
