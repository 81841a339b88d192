"""``capgate db``: create and upgrade the database schema."""

from __future__ import annotations

import click

from capgate.cli.errors import settings_or_exit

__all__ = ["db"]


@click.group()
def db() -> None:
    """Create or upgrade capgate's database tables."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade_command(revision: str) -> None:
    """Create or update every table capgate needs (safe to run twice)."""
    from capgate.bootstrap import bootstrap
    from capgate.migrate import current_revision, upgrade

    runtime = bootstrap(settings_or_exit())
    try:
        upgrade(runtime.engine, revision)
        click.echo(f"database at revision {current_revision(runtime.engine)}")
    finally:
        runtime.close()


@db.command("current")
def current_command() -> None:
    """Print the revision the database is at, and the newest one known."""
    from capgate.bootstrap import bootstrap
    from capgate.migrate import current_revision, head_revision

    runtime = bootstrap(settings_or_exit())
    try:
        click.echo(f"current: {current_revision(runtime.engine)}")
        click.echo(f"head:    {head_revision(runtime.engine)}")
    finally:
        runtime.close()
