"""Entry point of the ``capgate`` console script.

Each command group lives in its own module and imports heavy libraries
only when it runs, so ``capgate --help`` stays fast.
"""

from __future__ import annotations

import os
from typing import Any

import click

from capgate import __version__
from capgate.cli.audit import audit
from capgate.cli.db import db
from capgate.cli.deadletters import dead_letters
from capgate.cli.demo import demo
from capgate.cli.health import health
from capgate.cli.plugins import plugins
from capgate.cli.schema import schema
from capgate.cli.send import send
from capgate.cli.worker import pump, worker

__all__ = ["cli"]


class _Boundary(click.Group):
    """The command group whose commands fail in one line (capgate.cli.failures)."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a settings, database or broker error becomes one line."""
        from capgate.cli.failures import describe

        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            failure = describe(exc)
            if failure is None or _debug(ctx):
                raise
            raise failure from exc


def _debug(ctx: click.Context) -> bool:
    flag = bool(ctx.params.get("debug"))
    return flag or os.environ.get("CAPGATE_DEBUG", "") not in ("", "0", "false", "no")


@click.group(
    cls=_Boundary,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="capgate")
@click.option(
    "--debug", is_flag=True, help="Show the full traceback of a failure (or CAPGATE_DEBUG=1)."
)
def cli(debug: bool) -> None:
    """capgate: guarded, audited access to core capabilities for plugins.

    Settings come from CAPGATE_* environment variables (see the README).
    A failure prints one line naming its cause and fix; exit codes: 1 refused,
    2 usage, 3 settings, 4 database, 5 database not migrated, 6 broker.
    """


cli.add_command(audit)
cli.add_command(db)
cli.add_command(dead_letters)
cli.add_command(demo)
cli.add_command(health)
cli.add_command(plugins)
cli.add_command(schema)
cli.add_command(send)
cli.add_command(worker)
cli.add_command(pump)
