"""``capgate worker`` and ``capgate pump``: run the Celery worker and the retry pump."""

from __future__ import annotations

import gc
import threading
from typing import Any

import click

from capgate.cli.errors import settings_or_exit
from capgate.cli.observability import metrics_options, start_observability

__all__ = ["collect_after_big_commands", "pump", "worker"]

BIG_ENVELOPE_BYTES = 64 * 1024
"""An envelope at least this long is followed by a full garbage collection."""


def _collect_after(args: Any = None, **_: Any) -> None:
    envelope = args[0] if isinstance(args, list | tuple) and args else None
    if isinstance(envelope, str | bytes) and len(envelope) >= BIG_ENVELOPE_BYTES:
        gc.collect()


def collect_after_big_commands() -> None:
    """Free, after each command with a big envelope, what earlier ones left in cycles.

    Celery's tracer keeps a failed task's exception in a reference cycle with
    its own frame, which holds the message body: only a full collection frees
    it, and CPython runs one only when the objects surviving younger ones
    reach a quarter of all long-lived objects (hundreds of commands in a
    worker). Refused 4 MiB envelopes grew a pool process by about 6 MiB each
    (+694 MiB after the 3,000 hostile messages, docs/reliability.md section 5).
    A collection after each big command (in the process that ran it; the
    current one's cycle is freed by the next) bounds that to one envelope.
    """
    from celery.signals import task_postrun

    task_postrun.connect(_collect_after, weak=False)


@click.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "-Q",
    "--queues",
    default=None,
    help="Comma-separated queues (default: every plugin queue).",
)
@click.option("-c", "--concurrency", type=int, default=None, help="Worker processes.")
@click.option("--pool", default="prefork", show_default=True, help="prefork, threads or solo.")
@click.option(
    "--pump/--no-pump",
    default=True,
    show_default=True,
    help="Also publish due retries from this worker (run 'capgate pump' otherwise).",
)
@click.option("-l", "--loglevel", default="INFO", show_default=True)
@click.option("-n", "--hostname", default=None, help="Worker node name, e.g. email@%h.")
@metrics_options
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(
    queues: str | None,
    concurrency: int | None,
    pool: str,
    pump: bool,
    loglevel: str,
    hostname: str | None,
    metrics_port: int | None,
    metrics_address: str,
    log_format: str,
    celery_args: tuple[str, ...],
) -> None:
    """Start a Celery worker for capgate's commands.

    The same as 'celery -A capgate.workers.main worker', plus the retry pump,
    JSON log lines when not on a terminal, and optional Prometheus metrics.

    Extra arguments after '--' go to Celery unchanged.
    """
    # First: metrics must be set up before anything imports prometheus_client.
    start_observability(metrics_port, metrics_address, log_format, loglevel)
    from capgate.workers.celery_app import create_app, queue_names
    from capgate.workers.service import attach_pump

    settings = settings_or_exit()
    app = create_app(settings)
    if pump:
        attach_pump(app, settings)
    collect_after_big_commands()
    argv = [
        "worker",
        f"--loglevel={loglevel}",
        f"--pool={pool}",
        f"--queues={queues or ','.join(queue_names())}",
    ]
    if settings.task_events:
        argv.append("-E")  # the same as worker_send_task_events, as Flower's docs show it
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if hostname:
        argv.append(f"--hostname={hostname}")
    app.worker_main([*argv, *celery_args])


@click.command()
@click.option("--once", is_flag=True, help="Publish what is due now and exit.")
def pump(once: bool) -> None:
    """Publish scheduled retries when they fall due (run one or more beside the workers)."""
    from capgate.logs import configure_logging
    from capgate.workers.celery_app import create_app
    from capgate.workers.service import make_pump

    configure_logging("INFO")
    settings = settings_or_exit()
    retry_pump = make_pump(create_app(settings), settings)
    if once:
        click.echo(f"published {retry_pump.run_once()}")
        return
    stop = threading.Event()
    try:
        retry_pump.run_forever(settings.pump_interval, stop)
    except KeyboardInterrupt:
        stop.set()
