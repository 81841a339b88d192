"""The registry's tables: plugins, capabilities, grants, signing keys, definitions.

A capability's granted scopes are rows of ``capability_grants`` (one per
scope, with that scope's rate limit), so granting and revoking one scope is
a single-row change. Signing-key secrets are stored only encrypted
(:mod:`capgate.registry.sealing`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from capgate.database import Base, UtcDateTime, utcnow

__all__ = [
    "Capability",
    "CapabilityDefinition",
    "CapabilityGrant",
    "Plugin",
    "PluginStatus",
    "SigningKey",
]


class PluginStatus(StrEnum):
    """Whether a plugin's commands are accepted."""

    ACTIVE = "active"
    DISABLED = "disabled"


class Plugin(Base):
    """A registered plugin: its name, id and status."""

    __tablename__ = "plugins"
    __table_args__ = (CheckConstraint("status IN ('active', 'disabled')", name="status"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PluginStatus.ACTIVE.value)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    capabilities: Mapped[list[Capability]] = relationship(
        back_populates="plugin", order_by="Capability.key"
    )
    keys: Mapped[list[SigningKey]] = relationship(order_by="SigningKey.created_at")


class Capability(Base):
    """A named capability of one plugin, with the kind of execution it does."""

    __tablename__ = "capabilities"
    __table_args__ = (
        UniqueConstraint("plugin_id", "key"),
        CheckConstraint("kind IN ('action', 'trigger', 'register', 'lifecycle')", name="kind"),
    )

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    plugin_id: Mapped[str] = mapped_column(ForeignKey("plugins.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    plugin: Mapped[Plugin] = relationship(back_populates="capabilities")
    grants: Mapped[list[CapabilityGrant]] = relationship(
        order_by="CapabilityGrant.scope", cascade="all, delete-orphan"
    )


class CapabilityGrant(Base):
    """One scope granted to a capability, with its rate limit ("100/minute")."""

    __tablename__ = "capability_grants"

    capability_id: Mapped[str] = mapped_column(
        ForeignKey("capabilities.id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    rate_limit: Mapped[str | None] = mapped_column(String(32), default=None)
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class SigningKey(Base):
    """A plugin's HMAC signing key; the secret is stored sealed, never in clear.

    ``revoked_at`` may lie in the future: the key stays valid until then
    (the grace period of a rotation).
    """

    __tablename__ = "signing_keys"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    plugin_id: Mapped[str] = mapped_column(ForeignKey("plugins.id", ondelete="CASCADE"), index=True)
    sealed_secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)

    def is_revoked(self, now: datetime) -> bool:
        """True once the revocation time has passed."""
        return self.revoked_at is not None and self.revoked_at <= now


class CapabilityDefinition(Base):
    """An action/trigger definition of a capability and the scopes it needs."""

    __tablename__ = "capability_definitions"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    capability_id: Mapped[str] = mapped_column(
        ForeignKey("capabilities.id", ondelete="CASCADE"), index=True
    )
    # Space-separated scope strings: a handful of fixed tokens, no JSON needed.
    required_scopes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
