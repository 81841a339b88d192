"""Worker options for what operators watch: Prometheus metrics and the log format."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

__all__ = ["metrics_options", "start_observability"]

F = TypeVar("F", bound=Callable[..., object])

LOG_FORMATS = ("auto", "json", "text")


def metrics_options(command: F) -> F:
    """Add --metrics-port, --metrics-address and --log-format to a command."""
    command = click.option(
        "--log-format",
        type=click.Choice(LOG_FORMATS),
        default="auto",
        show_default=True,
        help="json: one JSON object per line; text: readable lines; auto: json unless a terminal.",
    )(command)
    command = click.option(
        "--metrics-address",
        default="0.0.0.0",  # noqa: S104 - a container's port is published by the host
        show_default=True,
        help="Address the metrics page listens on.",
    )(command)
    return click.option(
        "--metrics-port",
        type=click.IntRange(1, 65535),
        default=None,
        help="Serve Prometheus metrics on this port at /metrics (off by default).",
    )(command)


def start_observability(
    metrics_port: int | None, metrics_address: str, log_format: str, loglevel: str
) -> None:
    """Start the metrics page (if asked) and make the worker log in ``log_format``."""
    if metrics_port is not None:
        from capgate.workers.metrics_http import start_metrics_server

        try:
            folder = start_metrics_server(metrics_port, address=metrics_address)
        except OSError as exc:
            raise click.ClickException(
                f"cannot serve metrics on {metrics_address}:{metrics_port}: {exc.strerror or exc}"
            ) from exc
        click.echo(
            f"metrics on http://{metrics_address}:{metrics_port}/metrics ({folder})", err=True
        )
    from capgate.logs import install_worker_logging

    json_lines = None if log_format == "auto" else log_format == "json"
    install_worker_logging(loglevel, json_lines=json_lines)
