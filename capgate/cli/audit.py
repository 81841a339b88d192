"""``capgate audit``: read, export, verify and prune the audit trail."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from capgate.cli.errors import settings_or_exit

if TYPE_CHECKING:
    from capgate.audit.query import AuditFilter

__all__ = ["audit"]


class _When(click.ParamType[datetime]):
    """An ISO date or date-time; without a zone it is UTC."""

    name = "DATE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO date such as 2024-05-01 or 2024-05-01T12:00Z")
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


WHEN = _When()
FILTERS: tuple[tuple[str, Any, str], ...] = (
    ("--since", WHEN, "Rows recorded at or after this date (UTC unless a zone is given)."),
    ("--until", WHEN, "Rows recorded before this date."),
    ("--plugin", str, "Plugin name."),
    ("--capability", str, "Capability id or key."),
    ("--operation", str, "Operation, e.g. email.send."),
    ("--outcome", str, "Outcome, e.g. succeeded, failed, denied, dead_lettered, resent."),
    ("--correlation-id", str, "Correlation id shared by the commands of one flow."),
    ("--command-id", str, "One command (all its attempts)."),
)


def _filtered(command: Callable[..., Any]) -> Callable[..., Any]:
    for flag, kind, text in reversed(FILTERS):
        command = click.option(flag, type=kind, help=text)(command)
    return command


def _filter(options: dict[str, Any]) -> AuditFilter:
    from capgate.audit.query import AuditFilter

    return AuditFilter(**{key: options[key] for key in AuditFilter.__dataclass_fields__})


FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table",
    show_default=True, help="Output format.",
)  # fmt: skip


@click.group()
def audit() -> None:
    """Read, export, verify and prune the audit trail (one row per command attempt)."""


@audit.command("tail")
@click.option("-n", "--lines", "limit", default=20, show_default=True, help="How many rows.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new rows as they are written.")
@FORMAT
@_filtered
def tail_command(limit: int, follow: bool, fmt: str, **options: Any) -> None:
    """Print the newest audit rows, oldest first; --follow waits for more (Ctrl-C stops)."""
    from capgate.audit.export import write_rows
    from capgate.audit.query import follow as follow_rows
    from capgate.audit.query import newest
    from capgate.bootstrap import bootstrap

    runtime = bootstrap(settings_or_exit())
    where = _filter(options)
    # Ctrl-C is how --follow ends: not an error.
    with contextlib.suppress(KeyboardInterrupt):
        try:
            rows = newest(runtime.engine, where, limit=limit)
            write_rows(rows, sys.stdout, fmt)
            if follow:
                after = rows[-1]["id"] if rows else _last_id(runtime.engine)
                for row in follow_rows(runtime.engine, where, after=after):
                    write_rows([row], sys.stdout, fmt, header=False)  # header printed above
                    sys.stdout.flush()
        finally:
            runtime.close()


def _last_id(engine: Any) -> int:
    from capgate.audit.query import AuditFilter, newest

    rows = newest(engine, AuditFilter(), limit=1)
    return int(rows[0]["id"]) if rows else 0


@audit.command("export")
@FORMAT
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="File to write (default: standard output).")  # fmt: skip
@_filtered
def export_command(fmt: str, output: Any, **options: Any) -> None:
    """Stream matching rows, oldest first; progress goes to stderr on a terminal."""
    from capgate.audit.export import Progress, write_rows
    from capgate.audit.query import count, iter_rows
    from capgate.bootstrap import bootstrap

    runtime = bootstrap(settings_or_exit())
    where = _filter(options)
    try:
        total = count(runtime.engine, where) if sys.stderr.isatty() else None
        progress = Progress(sys.stderr, total=total)
        write_rows(progress.wrap(iter_rows(runtime.engine, where)), output, fmt)
    finally:
        runtime.close()


@audit.command("verify")
def verify_command() -> None:
    """Check the hash chains; name the first edited, inserted or deleted row (exit 1)."""
    from capgate.audit.verify import verify_chain
    from capgate.bootstrap import bootstrap

    runtime = bootstrap(settings_or_exit())
    try:
        with runtime.engine.connect() as connection:
            report = verify_chain(connection, secret=runtime.settings.secret.get_secret_value())
    finally:
        runtime.close()
    click.echo(f"checked {report.rows} rows; anchor {report.anchor}")
    if report.ok:
        click.echo("audit trail intact")
        return
    first = report.first
    assert first is not None
    click.echo(
        f"TAMPERED: first problem: row {first.row_id} {first.kind}: {first.detail}", err=True
    )
    for problem in report.problems:
        click.echo(
            f"  partition {problem.partition}: row {problem.row_id} {problem.kind}: "
            f"{problem.detail}",
            err=True,
        )
    raise SystemExit(1)


@audit.command("prune")
@click.option("--before", type=WHEN, required=True, help="Delete rows recorded before this date.")
@click.option("--actor", help="Who is pruning (default: your login name).")
@click.option("--reason", help="Why (kept in the prune's own audit row).")
def prune_command(before: datetime, actor: str | None, reason: str | None) -> None:
    """Delete audit rows older than --before (retention); leaves an audit row of its own."""
    import getpass

    from capgate.audit.prune import prune
    from capgate.bootstrap import bootstrap
    from capgate.database import unit_of_work

    runtime = bootstrap(settings_or_exit())
    try:
        with unit_of_work(runtime.sessions) as session:
            result = prune(
                session,
                before=before,
                actor=actor or getpass.getuser(),
                reason=reason,
                secret=runtime.settings.secret.get_secret_value(),
            )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--before") from exc
    finally:
        runtime.close()
    click.echo(
        f"deleted {result.deleted} rows from {result.partitions} chains; "
        f"recorded as audit row {result.audit.id}"
    )
