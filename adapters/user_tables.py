"""Core tables of user administration: roles, users and their sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from capgate.database import Base, UtcDateTime

__all__ = ["Role", "User", "UserSession"]


class Role(Base):
    """A role the core knows; ``users.assign_role`` accepts only these."""

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, doc="Higher means more privileged.")
    description: Mapped[str] = mapped_column(String(200), default="")


class User(Base):
    """A person (or a plugin's service account) who can sign in to the core."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(ForeignKey("roles.name"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when the user is the account a plugin acts as; that plugin may not
    # change it (see capgate.adapters.user_policy).
    service_account_plugin_id: Mapped[str | None] = mapped_column(
        String(128), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class UserSession(Base):
    """A sign-in session; revoking sets ``revoked_at`` (rows are kept for audit)."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
