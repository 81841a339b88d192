"""``capgate dead-letters``: list, show, replay and purge commands that failed for good.

Replay and purge each commit their audit row in the same transaction as the
change (the library in ``capgate.workers.deadletters`` writes it). ``show``
never prints the command's payload: only its operation, ids, size and
SHA-256, so a dead email's body cannot leak into a terminal or a log.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from capgate.cli.audit import WHEN
from capgate.cli.errors import settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from capgate.audit.recorder import AuditRecorder
    from capgate.workers.tables import DeadLetterRow

__all__ = ["dead_letters"]


@contextmanager
def _session() -> Iterator[tuple[Session, AuditRecorder]]:
    """A committed-on-success transaction and an audit recorder; errors become clean exits."""
    from sqlalchemy.exc import SQLAlchemyError

    from capgate.audit.recorder import AuditRecorder, AuditWriteError
    from capgate.bootstrap import bootstrap
    from capgate.contracts.errors import PluginServiceError
    from capgate.database import unit_of_work

    runtime = bootstrap(settings_or_exit())
    try:
        with unit_of_work(runtime.sessions) as session:
            yield session, AuditRecorder(runtime.settings.secret.get_secret_value())
    except PluginServiceError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    except AuditWriteError as exc:
        raise click.ClickException(f"nothing was changed: {exc}") from exc
    except SQLAlchemyError as exc:
        from capgate.cli.failures import database_failure

        raise database_failure(exc) from exc
    finally:
        runtime.close()


def _summary(row: DeadLetterRow) -> dict[str, Any]:
    """What an operator may see of a dead letter: never the envelope itself."""
    envelope = row.envelope.encode("utf-8")
    return {
        "id": row.id,
        "status": row.status,
        "command_id": row.command_id,
        "plugin_id": row.plugin_id,
        "operation": row.operation,
        "task_name": row.task_name,
        "queue": row.queue,
        "attempts": row.attempts,
        "died_at": row.died_at.isoformat(),
        "replayed_at": row.replayed_at.isoformat() if row.replayed_at else None,
        "replayed_by": row.replayed_by,
        "envelope_bytes": len(envelope),
        "envelope_sha256": hashlib.sha256(envelope).hexdigest(),
        "error": {key: row.error.get(key) for key in ("kind", "code", "message")},
        "history": row.history,
    }


@click.group("dead-letters")
def dead_letters() -> None:
    """Inspect, replay and purge commands that failed for good (FATAL or out of attempts)."""


@dead_letters.command("list")
@click.option("--all", "include_all", is_flag=True, help="Include replayed dead letters.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1), help="Rows.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def list_command(include_all: bool, limit: int, fmt: str) -> None:
    """List dead letters, newest first (only those not yet replayed unless --all)."""
    from capgate.workers.deadletters import list_dead_letters

    with _session() as (session, _):
        rows = [
            _summary(r)
            for r in list_dead_letters(session, include_replayed=include_all, limit=limit)
        ]
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps({k: v for k, v in row.items() if k != "history"}))
        return
    if not rows:
        click.echo("no dead letters")
        return
    click.echo(
        f"{'id':>5}  {'died at':25}  {'status':8}  {'operation':24}  {'attempts':>8}  "
        "error / command"
    )
    for row in rows:
        click.echo(
            f"{row['id']:>5}  {row['died_at']:25}  {row['status']:8}  {row['operation']:24}  "
            f"{row['attempts']:>8}  {row['error']['code']}  {row['command_id']}"
        )


@dead_letters.command("show")
@click.argument("dead_letter_id", metavar="ID", type=int)
def show_command(dead_letter_id: int) -> None:
    """Show one dead letter: its error and attempt history (never the payload)."""
    from capgate.workers.deadletters import get_dead_letter

    with _session() as (session, _):
        row = _summary(get_dead_letter(session, dead_letter_id))
    error = row.pop("error")
    history = row.pop("history")
    for key, value in row.items():
        click.echo(f"{key.replace('_', ' ') + ':':16} {'-' if value is None else value}")
    click.echo(f"{'error:':16} {error['kind']} {error['code']}: {error['message']}")
    click.echo("history:")
    for entry in history:
        delay = entry.get("retry_delay_ms")
        click.echo(
            f"  attempt {entry.get('attempt')}  {entry.get('at')}  {entry.get('outcome')}  "
            f"{entry.get('error_kind') or ''} {entry.get('error_code') or ''}"
            + (f"  retry in {delay} ms" if delay else "")
        )


_actor = click.option(
    "--actor", default=None, help="Who acts, for the audit row [default: login name]."
)
_reason = click.option("--reason", default=None, help="Why, for the audit row.")
_yes = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")


@dead_letters.command("replay")
@click.argument("dead_letter_id", metavar="ID", type=int)
@_actor
@_reason
@_yes
def replay_command(dead_letter_id: int, actor: str | None, reason: str | None, yes: bool) -> None:
    """Run a dead command again as a new attempt series under the same command id.

    The next attempt is scheduled at once; a worker's retry pump publishes it.
    Asks for confirmation unless --yes (the command's side effect runs again).
    """
    from capgate.database import utcnow
    from capgate.workers.deadletters import replay_dead_letter
    from capgate.workers.tables import CommandRow

    if not yes:
        click.confirm(f"Replay dead letter {dead_letter_id}?", abort=True)
    with _session() as (session, recorder):
        dead = replay_dead_letter(
            session,
            dead_letter_id,
            actor=actor or getpass.getuser(),
            now=utcnow(),
            audit=recorder.record,
            reason=reason,
        )
        # The replay starts a new series: its first attempt is series_start.
        command = session.get(CommandRow, dead.command_id)
        attempt = command.series_start if command is not None else "?"
        command_id, operation = dead.command_id, dead.operation
    click.echo(
        f"replayed dead letter {dead_letter_id}: {operation} {command_id}, "
        f"attempt {attempt} is due now"
    )


@dead_letters.command("purge")
@click.option(
    "--before",
    type=WHEN,
    default=None,
    help="Only those that died before this date (UTC unless a zone is given).",
)
@_actor
@_reason
@_yes
def purge_command(
    before: datetime | None, actor: str | None, reason: str | None, yes: bool
) -> None:
    """Delete dead letters for good (all, or those older than --before); asks unless --yes."""
    from capgate.workers.deadletters import count_dead_letters, purge_dead_letters

    if not yes:
        with _session() as (session, _):
            pending = count_dead_letters(session, before=before)
        if not click.confirm(f"Delete {pending} dead letter(s) for good?"):
            click.echo("nothing deleted")
            return
    with _session() as (session, recorder):
        count = purge_dead_letters(
            session,
            actor=actor or getpass.getuser(),
            audit=recorder.record,
            before=before,
            reason=reason,
        )
    click.echo(f"purged {count} dead letter(s)")
