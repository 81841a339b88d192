"""``capgate demo``: run sample plugins through the real pipeline, print the trail."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import click

from capgate.cli.errors import settings_or_exit

__all__ = ["demo"]

_COLUMNS = (
    ("what", 44),
    ("operation", 27),
    ("att", 3),
    ("outcome", 15),
    ("code", 24),
    ("delay", 6),
)


def _line(values: tuple[object, ...]) -> str:
    cells = []
    for value, (_, width) in zip(values, _COLUMNS, strict=True):
        text = "" if value is None else str(value)
        cells.append((text if len(text) <= width else text[: width - 1] + "~").ljust(width))
    return "  ".join(cells).rstrip()


@click.command()
@click.option(
    "--timeout", default=60.0, show_default=True, help="Most seconds to wait for settling."
)
def demo(timeout: float) -> None:
    """Run sample plugins through the real pipeline and print the audit trail.

    Embedded: SQLite (CAPGATE_DATABASE_URL if set), an in-process Celery
    worker on the in-memory broker and fake email providers. Afterwards the
    trail can be queried with 'capgate audit'.
    """
    from capgate.audit.query import AuditFilter, iter_rows
    from capgate.bootstrap import bootstrap
    from capgate.demo import run_demo

    settings = settings_or_exit()
    started = time.monotonic()
    since = datetime.now(UTC) - timedelta(seconds=1)
    report = run_demo(settings, timeout=timeout)
    runtime = bootstrap(settings)
    described = {command_id: what for what, _, command_id in report.commands}
    click.echo(_line(tuple(name for name, _ in _COLUMNS)))
    outcomes: Counter[str] = Counter()
    for row in iter_rows(runtime.engine, AuditFilter(since=since)):
        command_id = row.get("command_id")
        if command_id not in described:
            continue
        outcomes[row["outcome"]] += 1
        click.echo(
            _line(
                (
                    described[command_id],
                    row["operation"],
                    row["attempt"],
                    row["outcome"],
                    row.get("error_code"),
                    row.get("retry_delay_ms"),
                )
            )
        )
    runtime.close()
    click.echo("")
    click.echo("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    click.echo(
        f"{len(report.commands)} commands, {sum(outcomes.values())} audited attempts, "
        f"{time.monotonic() - started:.1f}s; database {settings.database_url}"
    )
    if not report.settled:
        raise click.ClickException(f"not every command settled within {timeout}s")
