"""Entry point of the ``capgate`` console script.

Each command group lives in its own module and imports heavy libraries
only when it runs, so ``capgate --help`` stays fast.
"""

from __future__ import annotations

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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="capgate")
def cli() -> None:
    """capgate: guarded, audited access to core capabilities for plugins.

    Settings come from CAPGATE_* environment variables (see the README).
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
