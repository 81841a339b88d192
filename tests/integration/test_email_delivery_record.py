"""An email the provider accepted is sent once and audited, whatever the database does next.

The SMTP sink terminates the worker's PostgreSQL connections right after it
accepts the message, before it answers 250: the attempt's commit is lost and
the message comes back to the queue. The redelivered copy must settle from
the recorded delivery, not send again. A worker that dies inside the SMTP
exchange leaves no record: the copy sends again and audits that as ``resent``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from capgate.adapters.base import AdapterResult, Handler, Invocation
from capgate.adapters.composition import build_handlers
from capgate.audit.schema import AuditEventRow
from capgate.cli.main import cli
from capgate.workers.metrics import ATTEMPTS
from capgate.workers.observe import observe_pipeline
from capgate.workers.pipeline import Pipeline, StoreUnavailableError
from capgate.workers.work import VerdictKind
from tests.support.postgres_world import drop_worker_connections, postgres_world
from tests.support.services import free_port
from tests.support.smtp_server import SmtpTestServer
from tests.support.world import SECRET, Plugin, World, delivery

pytestmark = pytest.mark.integration

OP = "email.send"
EMAIL = {"to": ["bob@example.com"], "subject": "report", "text": "hello"}


@pytest.fixture
def world(postgres_url: str) -> Iterator[World]:
    with postgres_world(postgres_url) as world:
        yield world


@pytest.fixture
def sink() -> Iterator[SmtpTestServer]:
    server = SmtpTestServer(free_port()).start()
    yield server
    server.stop()


def _mailer(world: World, sink: SmtpTestServer, tmp_path: Path) -> tuple[Plugin, Pipeline]:
    handlers = build_handlers(
        secret=SECRET, storage_root=tmp_path / "storage", eml_folder=tmp_path / "eml"
    )
    plugin = world.add_plugin("digest", "mailer", {"email:send": None})
    pipeline = observe_pipeline(world.pipeline(handlers))
    smtp = {"host": "127.0.0.1", "port": sink.port, "security": "none", "sender": "a@example.com"}
    register = plugin.command(
        "email.register_provider", {"name": "relay", "kind": "smtp", "config": smtp}
    )
    verdict = pipeline.run(delivery(register, "email.register_provider", task_id="t-reg"))
    assert verdict.kind is VerdictKind.SUCCEEDED
    return plugin, pipeline


def _outcomes(world: World, command_id: str) -> list[tuple[int, str, str | None]]:
    with world.runtime.sessions() as session:
        rows = session.execute(
            select(AuditEventRow.attempt, AuditEventRow.outcome, AuditEventRow.retry_reason)
            .where(AuditEventRow.command_id == command_id)
            .order_by(AuditEventRow.id)
        ).all()
    return [(r.attempt, r.outcome, r.retry_reason) for r in rows]


def test_connections_terminated_after_acceptance_send_once_and_audit_the_success(
    world: World, sink: SmtpTestServer, tmp_path: Path
) -> None:
    plugin, pipeline = _mailer(world, sink, tmp_path)
    sink.behaviour.after_accept = lambda: drop_worker_connections(world)
    body = plugin.command(OP, EMAIL)
    # The provider accepted; the attempt's own commit found its connection gone.
    with pytest.raises(StoreUnavailableError):
        pipeline.run(delivery(body, OP))
    assert len(sink.received) == 1
    sink.behaviour.after_accept = None
    # The worker returned the message to the queue; the copy comes back.
    verdict = pipeline.run(delivery(body, OP, redelivered=True))
    assert verdict.kind is VerdictKind.SUCCEEDED
    assert len(sink.received) == 1, "the redelivered copy sent the email again"
    assert verdict.response is not None
    assert verdict.response["message_id"] == sink.received[0]["Message-ID"]
    command_id = verdict.command_id
    assert [(a, o) for a, o, _ in _outcomes(world, command_id)] == [(1, "succeeded")]


def _dies_after_the_send(handler: Handler) -> Handler:
    """The handler of a worker killed after the provider accepted, before anything was recorded."""

    def run(invocation: Invocation) -> AdapterResult:
        handler(invocation)
        raise SystemExit("killed")

    return run


def test_a_resend_after_a_worker_died_in_the_smtp_exchange_is_audited_as_resent(
    world: World,
    sink: SmtpTestServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,
) -> None:
    plugin, pipeline = _mailer(world, sink, tmp_path)
    handlers = dict(pipeline.deps.handlers)
    dying = world.pipeline({**handlers, OP: _dies_after_the_send(handlers[OP])})
    body = plugin.command(OP, EMAIL)
    with pytest.raises(SystemExit):
        dying.run(delivery(body, OP))
    before = ATTEMPTS.labels(OP, "resent")._value.get()
    verdict = pipeline.run(delivery(body, OP, redelivered=True))
    assert verdict.kind is VerdictKind.SUCCEEDED
    assert len(sink.received) == 2
    assert len({m["Message-ID"] for m in sink.received}) == 1
    rows = _outcomes(world, verdict.command_id)
    assert [(a, o) for a, o, _ in rows] == [(1, "resent"), (1, "succeeded")]
    assert "attempt 1" in (rows[0][2] or "")
    assert ATTEMPTS.labels(OP, "resent")._value.get() == before + 1
    monkeypatch.setenv("CAPGATE_DATABASE_URL", postgres_url)
    monkeypatch.setenv("CAPGATE_SECRET", SECRET)
    tail = CliRunner().invoke(cli, ["audit", "tail", "--outcome", "resent"])
    assert tail.exit_code == 0, tail.output
    (line,) = [row for row in tail.output.splitlines() if verdict.command_id in row]
    assert " resent " in line
