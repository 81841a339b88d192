"""``capgate worker`` and ``capgate pump``: run the Celery worker and the retry pump."""

from __future__ import annotations

import threading

import click

from capgate.cli.errors import settings_or_exit
from capgate.cli.observability import metrics_options, start_observability

__all__ = ["pump", "worker"]


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

    The same as 'celery -A capgate.workers.main worker' (one root builds both:
    retry pump, plugin queues, settings checked), plus --no-pump, --log-format
    and optional Prometheus metrics.

    Extra arguments after '--' go to Celery unchanged.
    """
    # First: metrics must be set up before anything imports prometheus_client.
    start_observability(metrics_port, metrics_address, log_format, loglevel)
    from capgate.workers.celery_app import queue_names
    from capgate.workers.process import StartupError, worker_app

    _refuse_unknown_queues(queues, queue_names())
    settings = settings_or_exit()
    try:
        app = worker_app(settings, pump=pump)
    except StartupError as exc:
        raise click.ClickException(str(exc)) from None
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


def _refuse_unknown_queues(queues: str | None, known: list[str]) -> None:
    # Celery's own answer to a typo is 90 lines ending in advice to create
    # missing queues, which capgate must never do: refuse it in one line.
    import difflib

    unknown = [name for name in (queues or "").split(",") if name and name not in known]
    if not unknown:
        return
    hints = [difflib.get_close_matches(name, known, n=1) for name in unknown]
    guess = "; did you mean " + ", ".join(h[0] for h in hints if h) + "?" if any(hints) else ""
    raise click.BadParameter(
        f"unknown queue {', '.join(unknown)}{guess} (queues: {', '.join(known)})",
        param_hint="'-Q'",
    )


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
