"""Recording: one row per attempt, in the caller's transaction, never swallowed."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, func, select, text

from capgate.audit.events import AuditEvent, Outcome
from capgate.audit.recorder import AuditRecorder, AuditWriteError, record
from capgate.audit.schema import EVENTS
from capgate.audit.store import AuditStore
from capgate.audit.verify import verify_chain
from capgate.database import make_engine, make_session_factory, unit_of_work
from capgate.migrate import current_revision, head_revision, upgrade
from tests.integration.audit_support import SECRET, event


def _rows(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(select(EVENTS).order_by(EVENTS.c.id))]


def test_upgrade_twice_is_safe(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)
        assert current_revision(engine) == head_revision(engine)
        assert _rows(engine) == []
    finally:
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()


def test_row_is_written_in_the_callers_transaction(migrated_engine: Engine) -> None:
    sessions = make_session_factory(migrated_engine)
    with pytest.raises(RuntimeError, match="adapter failed"), unit_of_work(sessions) as session:
        record(session, event(command_id="rolled-back"), secret=SECRET)
        raise RuntimeError("adapter failed")
    assert _rows(migrated_engine) == []  # rolled back with the caller

    with unit_of_work(sessions) as session:
        written = record(session, event(), secret=SECRET)
    [row] = _rows(migrated_engine)
    assert row["id"] == written.id and row["event_id"] == written.event_id
    assert row["outcome"] == "succeeded" and row["operation"] == "email.send"
    assert row["requested_scopes"] == ["email:send"]
    assert row["recorded_at"] is not None and row["recorded_at"].tzinfo is not None


def test_every_field_of_the_issue_lands_in_the_row(migrated_engine: Engine) -> None:
    full = event(
        outcome=Outcome.RETRY_SCHEDULED,
        attempt=2,
        idempotency_key="idem-1",
        definition_id="def-1",
        invocation_id="inv-1",
        trigger_event_id="trg-1",
        manual_invoker_id="user-9",
        key_id="key-1",
        resource_type="bundle",
        resource_id="b-1",
        denied_scopes=("users:write",),
        error_kind="RETRYABLE",
        error_code="smtp_421",
        error_message="421 try later\nbody follows",
        retry_delay_ms=4000,
        retry_reason="backoff",
        actor_id="user-9",
        reason="weekly digest",
        request_summary={"to_count": 3},
        response_summary={"message_id": "m-1"},
    )
    AuditStore(make_session_factory(migrated_engine), secret=SECRET).record(full)
    [row] = _rows(migrated_engine)
    expected = full.model_dump(mode="json")
    expected["error_message"] = "421 try later"  # first line only
    for name, value in expected.items():
        assert row[name] == value, name


def test_a_redelivered_attempt_is_not_written_twice(migrated_engine: Engine) -> None:
    store = AuditStore(make_session_factory(migrated_engine), secret=SECRET)
    first = store.record(event(attempt=1))
    again = store.record(event(attempt=1))
    other = store.record(event(attempt=1, outcome=Outcome.DEDUPLICATED))
    assert again.duplicate and again.id == first.id and not first.duplicate
    assert not other.duplicate
    assert len(_rows(migrated_engine)) == 2
    with migrated_engine.connect() as connection:
        assert verify_chain(connection, secret=SECRET).ok


def test_a_violated_constraint_raises(migrated_engine: Engine) -> None:
    bad = AuditEvent.model_construct(**{**event().model_dump(), "attempt": 0})
    sessions = make_session_factory(migrated_engine)
    with pytest.raises(AuditWriteError), unit_of_work(sessions) as session:
        AuditRecorder(SECRET).record(session, bad)
    with pytest.raises(AuditWriteError):
        AuditStore(sessions, secret=SECRET).record(bad)
    assert _rows(migrated_engine) == []


def test_a_missing_table_raises(database_url: str) -> None:
    # Never migrated: a fresh SQLite file, or a PostgreSQL schema that does not exist.
    options = {"options": "-c search_path=no_such_schema"}
    engine = make_engine(
        database_url, connect_args=options if database_url.startswith("postgresql") else {}
    )
    try:
        with pytest.raises(AuditWriteError):
            AuditStore(make_session_factory(engine), secret=SECRET).record(event())
    finally:
        engine.dispose()


def test_a_broken_connection_raises(migrated_engine: Engine) -> None:
    if migrated_engine.dialect.name != "postgresql":
        pytest.skip("needs a server connection to break")
    sessions = make_session_factory(migrated_engine)
    with pytest.raises(AuditWriteError), unit_of_work(sessions) as session:
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with migrated_engine.connect() as killer:
            killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        AuditRecorder(SECRET).record(session, event())


def test_concurrent_writers_keep_every_chain_intact(migrated_engine: Engine) -> None:
    if migrated_engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers anyway")
    store = AuditStore(make_session_factory(migrated_engine), secret=SECRET)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(40):
                # Few command ids, so writers collide on the same partitions.
                store.record(event(command_id=f"cmd-{n % 5}", attempt=worker * 100 + n + 1))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with migrated_engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(EVENTS)).scalar_one() == 160
        report = verify_chain(connection, secret=SECRET)
    assert report.ok, report.problems
    assert report.rows == 160
