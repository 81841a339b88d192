"""Sample core data for the demo: users, sessions, bundles, recipients and more.

``seed_demo_data(session)`` adds the rows (it does not commit) and returns
their ids so a demo can refer to them; running it twice is harmless. Roles
are not seeded here: the ``0003_core`` migration ships them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from capgate.adapters.resource_tables import (
    ActionDefinition,
    Bundle,
    BundleAssignment,
    Pipeline,
    Recipient,
    TriggerDefinition,
)
from capgate.adapters.user_tables import User, UserSession
from capgate.database import Base

__all__ = ["DemoData", "seed_demo_data"]

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DemoData:
    """The ids the demo refers to."""

    users: tuple[str, ...] = ("u-alice", "u-bob", "u-carol", "u-digest-bot")
    admin_user: str = "u-alice"
    service_account: str = "u-digest-bot"
    service_account_plugin: str = "plugin-digest"
    bundles: tuple[str, ...] = ("b-q1-report", "b-onboarding")
    recipients: tuple[str, ...] = ("r-acme", "r-globex")
    assignments: tuple[str, ...] = ("a-q1-acme", "a-onboarding-globex")
    actions: tuple[str, ...] = ("act-send-digest",)
    triggers: tuple[str, ...] = ("trg-nightly",)
    pipelines: tuple[str, ...] = ("p-release",)


def _rows(data: DemoData) -> list[Base]:
    created = _EPOCH
    return [
        User(id="u-alice", email="alice@example.com", display_name="Alice", role="admin",
             created_at=created),
        User(id="u-bob", email="bob@example.com", display_name="Bob", role="editor",
             created_at=created),
        User(id="u-carol", email="carol@example.com", display_name="Carol", role="viewer",
             created_at=created),
        User(id="u-digest-bot", email="digest-bot@example.com", display_name="Digest plugin",
             role="editor", service_account_plugin_id=data.service_account_plugin,
             created_at=created),
        UserSession(id="s-bob-1", user_id="u-bob", issued_at=created + timedelta(days=1)),
        UserSession(id="s-bob-2", user_id="u-bob", issued_at=created + timedelta(days=20)),
        UserSession(id="s-carol-1", user_id="u-carol", issued_at=created + timedelta(days=2)),
        Bundle(id="b-q1-report", name="Q1 report"),
        Bundle(id="b-onboarding", name="Onboarding pack"),
        Recipient(id="r-acme", name="ACME Corp", email="files@acme.example"),
        Recipient(id="r-globex", name="Globex", email="files@globex.example"),
        BundleAssignment(id="a-q1-acme", bundle_id="b-q1-report", recipient_id="r-acme"),
        BundleAssignment(
            id="a-onboarding-globex", bundle_id="b-onboarding", recipient_id="r-globex"
        ),
        ActionDefinition(id="act-send-digest", name="Send digest", plugin_id="plugin-digest"),
        TriggerDefinition(id="trg-nightly", name="Nightly", plugin_id="plugin-digest"),
        Pipeline(id="p-release", name="Release bundles"),
    ]  # fmt: skip


def seed_demo_data(session: Session) -> DemoData:
    """Add the demo rows that are not there yet (no commit); return their ids."""
    data = DemoData()
    for row in _rows(data):
        # Existing rows are left as the demo (or an earlier run) changed them.
        key = row.__mapper__.primary_key_from_instance(row)
        if session.get(type(row), key) is None:
            session.add(row)
    session.flush()
    return data
