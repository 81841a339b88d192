"""Append-only, tamper evidence and retention, on SQLite and real PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from capgate.audit.events import Outcome
from capgate.audit.prune import prune
from capgate.audit.schema import EVENTS
from capgate.audit.store import AuditStore
from capgate.audit.verify import VerifyReport, verify_chain
from capgate.database import make_session_factory, unit_of_work, utcnow
from tests.integration.audit_support import SECRET, behind_the_triggers, event


def _attempts(engine: Engine, count: int, command_id: str = "cmd-1") -> list[int]:
    # One command's attempts share a partition, so they form one chain.
    store = AuditStore(make_session_factory(engine), secret=SECRET)
    return [store.record(event(command_id=command_id, attempt=n)).id for n in range(1, count + 1)]


def _verify(engine: Engine, secret: str = SECRET) -> VerifyReport:
    with engine.connect() as connection:
        return verify_chain(connection, secret=secret)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET outcome = 'failed'",
        "DELETE FROM audit_events",
        "UPDATE audit_chain_heads SET seq = 0",
        "DELETE FROM audit_chain_heads",
    ],
)
def test_the_database_refuses_changes(migrated_engine: Engine, statement: str) -> None:
    _attempts(migrated_engine, 2)
    refused = pytest.raises(DBAPIError, match=r"append-only|only move forward")
    with refused, migrated_engine.begin() as connection:
        connection.execute(text(statement))
    assert _verify(migrated_engine).ok


@pytest.mark.parametrize("table", ["audit_events", "audit_chain_heads"])
def test_postgres_refuses_truncate(migrated_engine: Engine, table: str) -> None:
    if migrated_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    _attempts(migrated_engine, 1)
    with pytest.raises(DBAPIError), migrated_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {table}"))


def test_an_intact_trail_verifies(migrated_engine: Engine) -> None:
    _attempts(migrated_engine, 3)
    _attempts(migrated_engine, 2, command_id="cmd-2")
    report = _verify(migrated_engine)
    assert report.ok and report.rows == 5
    assert not _verify(migrated_engine, secret="another-secret-entirely-0123456789").ok


def test_an_edited_row_is_found(migrated_engine: Engine) -> None:
    ids = _attempts(migrated_engine, 4)
    with behind_the_triggers(migrated_engine) as connection:
        connection.execute(
            text("UPDATE audit_events SET outcome = 'failed' WHERE id = :id"), {"id": ids[1]}
        )
    report = _verify(migrated_engine)
    assert report.first is not None
    assert (report.first.kind, report.first.row_id) == ("edited", ids[1])


def test_a_row_deleted_in_the_middle_is_found(migrated_engine: Engine) -> None:
    ids = _attempts(migrated_engine, 4)
    with behind_the_triggers(migrated_engine) as connection:
        connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[1]})
    report = _verify(migrated_engine)
    assert report.first is not None
    assert (report.first.kind, report.first.row_id) == ("deleted", ids[2])


def test_the_newest_row_deleted_is_found(migrated_engine: Engine) -> None:
    ids = _attempts(migrated_engine, 3)
    with behind_the_triggers(migrated_engine) as connection:
        connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[2]})
    report = _verify(migrated_engine)
    assert report.first is not None
    assert report.first.kind == "deleted" and report.first.row_id == ids[1]


def test_an_inserted_row_is_found(migrated_engine: Engine) -> None:
    ids = _attempts(migrated_engine, 2)
    with migrated_engine.connect() as connection:
        template = dict(
            connection.execute(select(EVENTS).where(EVENTS.c.id == ids[1])).one()._mapping
        )
    forged = template | {
        "event_id": "forged-0000-0000-0000-000000000000",
        "attempt": 3,
        "chain_seq": template["chain_seq"] + 1,
        "prev_hash": template["row_hash"],
    }
    del forged["id"]
    with migrated_engine.begin() as connection:  # INSERT is allowed: only the chain can tell
        forged_id = connection.execute(EVENTS.insert().values(forged)).inserted_primary_key[0]
    report = _verify(migrated_engine)
    assert report.first is not None
    assert (report.first.kind, report.first.row_id) == ("inserted", forged_id)


def test_prune_deletes_old_rows_audits_itself_and_keeps_verify_working(
    migrated_engine: Engine,
) -> None:
    _attempts(migrated_engine, 3)
    _attempts(migrated_engine, 2, command_id="cmd-2")
    time.sleep(0.01)  # the cut must fall between the two groups on the database clock
    cut = utcnow()
    time.sleep(0.01)
    kept = _attempts(migrated_engine, 2, command_id="cmd-1-late")
    sessions = make_session_factory(migrated_engine)
    with unit_of_work(sessions) as session:
        result = prune(session, before=cut, actor="ops-anna", secret=SECRET, reason="retention")
    assert result.deleted == 5
    with migrated_engine.connect() as connection:
        rows = connection.execute(select(EVENTS).order_by(EVENTS.c.id)).all()
    assert [r.id for r in rows[:2]] == kept
    own = rows[-1]
    assert (own.operation, own.outcome, own.execution_kind) == (
        "audit.prune",
        Outcome.SUCCEEDED.value,
        "lifecycle",
    )
    assert own.actor_id == "ops-anna" and own.response_summary["deleted"] == 5
    assert _verify(migrated_engine).ok

    # A later edit is still caught after the cut.
    with behind_the_triggers(migrated_engine) as connection:
        connection.execute(
            text("UPDATE audit_events SET reason = 'x' WHERE id = :id"), {"id": kept[0]}
        )
    assert _verify(migrated_engine).first is not None


def test_a_forged_retention_base_is_found(migrated_engine: Engine) -> None:
    ids = _attempts(migrated_engine, 3)
    with behind_the_triggers(migrated_engine) as connection:
        connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[0]})
        partition = connection.execute(
            select(EVENTS.c.chain_partition, EVENTS.c.prev_hash).where(EVENTS.c.id == ids[1])
        ).one()
        connection.execute(
            text(
                "UPDATE audit_chain_heads SET base_seq = 1, base_hash = :h, base_mac = 'f00'"
                " WHERE chain_partition = :p"
            ),
            {"h": partition.prev_hash, "p": partition.chain_partition},
        )
    report = _verify(migrated_engine)
    assert report.first is not None and report.first.kind == "checkpoint"


def test_prune_refuses_a_future_date(migrated_engine: Engine) -> None:
    from datetime import timedelta

    with (
        pytest.raises(ValueError, match="future"),
        unit_of_work(make_session_factory(migrated_engine)) as session,
    ):
        prune(session, before=utcnow() + timedelta(days=1), actor="x", secret=SECRET)
