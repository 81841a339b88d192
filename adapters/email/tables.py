"""The email provider registry table. The config column holds only ciphertext."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from capgate.database import Base, UtcDateTime

__all__ = ["EmailProvider"]


class EmailProvider(Base):
    """A registered provider: who owns it, its sealed config, whether it is active."""

    __tablename__ = "email_providers"
    __table_args__ = (
        CheckConstraint("kind IN ('smtp', 'gmail', 'eml')", name="kind"),
        # At most one active provider, enforced by the database so two
        # concurrent registrations cannot both become active.
        Index(
            "uq_email_providers_one_active",
            "active",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner_plugin_id: Mapped[str] = mapped_column(String(128), index=True)
    sealed_config: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return f"EmailProvider({self.name!r}, kind={self.kind!r}, active={self.active})"
