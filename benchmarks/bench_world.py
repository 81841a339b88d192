"""The scratch world of benchmarks/pipeline_vs_celery.py: a database, a plugin, publishers.

``scratch_database`` creates a fresh PostgreSQL database (and drops it
afterwards); ``prepare`` migrates and seeds it, registers one plugin with
``bundles:write`` under a (never reached) rate limit, so every command pays
for the Redis rate-limit call, and creates the bare audit task's table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from capgate.adapters.resource_tables import Bundle
from capgate.adapters.seed import seed_demo_data
from capgate.audit.recorder import AuditRecorder
from capgate.audit.schema import EVENTS
from capgate.contracts.client import PluginClient, PluginCredentials
from capgate.database import make_engine, make_session_factory, unit_of_work
from capgate.migrate import upgrade
from capgate.registry.admin import RegistryAdmin
from capgate.registry.sealing import KeySealer

SECRET = "benchmark-server-secret-0123456789abcdefghijkl"
BUNDLES = 64
"""Commands toggle these bundles in turn, so concurrent ones rarely wait on one row lock."""
RATE = "1000000/second"
"""Granted so the rate-limit step runs (one Redis script call); never reached."""


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one benchmark; dropped afterwards."""
    name = f"capgate_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def prepare(url: str, bare_table: str) -> PluginCredentials:
    """Migrate and seed ``url``; return the benchmark plugin's credentials."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            connection.execute(text(bare_table))
        sessions = make_session_factory(engine)
        with unit_of_work(sessions) as session:
            seed_demo_data(session)
            session.add_all(Bundle(id=bundle_id(i), name=f"bench {i}") for i in range(BUNDLES))
            recorder = AuditRecorder(SECRET)
            admin = RegistryAdmin(
                session, sealer=KeySealer(SECRET), audit=recorder.record, actor="benchmark"
            )
            key = admin.add_plugin("bench")
            capability = admin.grant("bench", "toggler", "bundles:write", rate=RATE)
            return PluginCredentials(
                key.plugin_name, key.plugin_id, capability.id, "toggler", key.key_id, key.secret
            )
    finally:
        engine.dispose()


def bundle_id(index: int) -> str:
    """The id of bench bundle ``index``."""
    return f"b-bench-{index % BUNDLES:02d}"


def toggle(index: int, padding: str) -> tuple[str, dict[str, Any]]:
    """Command ``index``: disable then enable each bundle in turn (operation, payload)."""
    operation = "bundles.enable" if (index // BUNDLES) % 2 else "bundles.disable"
    payload = {
        "resource_id": bundle_id(index),
        "options": {
            "actor_id": "u-alice",
            "reason": "benchmark toggle",
            "audit_metadata": {"note": padding},
        },
    }
    return operation, payload


def padding_for(client: PluginClient, size: int) -> str:
    """Metadata padding that makes one envelope about ``size`` bytes."""
    operation, payload = toggle(0, "")
    bare = len(client.envelope(operation, payload))
    return "x" * max(0, size - bare)


def audit_times(url: str, command_ids: list[str]) -> dict[str, float]:
    """command id -> recorded_at (epoch seconds, database clock) of its succeeded row."""
    engine = create_engine(url)
    found: dict[str, float] = {}
    try:
        with engine.connect() as connection:
            for start in range(0, len(command_ids), 1000):
                chunk = command_ids[start : start + 1000]
                query = select(EVENTS.c.command_id, EVENTS.c.recorded_at).where(
                    EVENTS.c.command_id.in_(chunk), EVENTS.c.outcome == "succeeded"
                )
                for command_id, recorded in connection.execute(query):
                    found[command_id] = _epoch(recorded)
    finally:
        engine.dispose()
    return found


def outcome_counts(url: str) -> dict[str, int]:
    """Audit rows of the bench plugin per outcome (every attempt has one)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            query = text(
                "SELECT outcome, count(*) FROM audit_events WHERE plugin_name = 'bench'"
                " AND operation LIKE 'bundles.%' GROUP BY outcome"
            )
            return {str(o): int(n) for o, n in connection.execute(query)}
    finally:
        engine.dispose()


def _epoch(value: datetime) -> float:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.timestamp()
