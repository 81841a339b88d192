"""The composition root of a worker process, shared by every way of starting one.

``capgate worker`` and ``celery -A capgate.workers.main worker`` both call
:func:`worker_app`, so both run the retry pump, check every setting before
consuming, never consume ``capgate.internal`` unless told to, and free big
envelopes after each command. (Logging is installed by each entry point:
``capgate worker`` offers more formats.)
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup

from capgate.settings import Settings, SettingsInvalidError, checked_settings
from capgate.workers.celery_app import INTERNAL_QUEUE, create_app
from capgate.workers.memory import collect_after_big_commands
from capgate.workers.service import attach_pump

__all__ = ["StartupError", "check_pipeline", "load_checked_settings", "worker_app"]

log = logging.getLogger(__name__)


class StartupError(Exception):
    """A setting that stops the process from starting; ``str()`` is one line naming it."""


def load_checked_settings() -> Settings:
    """The settings from the environment, or a :class:`StartupError` naming each bad variable."""
    try:
        return checked_settings()
    except SettingsInvalidError as exc:
        raise StartupError(str(exc)) from None


def check_pipeline(settings: Settings) -> None:
    """Build the production pipeline once and throw it away, so a setting it cannot use
    (an adapter override or dead-letter hook that does not import, an override of an
    unknown operation, a malformed retry policy) stops the worker before it consumes
    anything, instead of failing every command in the pool processes."""
    from capgate.adapters.composition import load_overrides
    from capgate.workers.wiring import dead_letter_hooks, production_pipeline

    for variable, load in (
        ("CAPGATE_ADAPTER_OVERRIDES", lambda: load_overrides(settings.adapter_overrides)),
        ("CAPGATE_DEAD_LETTER_HOOKS", lambda: dead_letter_hooks(settings)),
    ):
        try:
            load()
        except (ImportError, AttributeError, ValueError) as exc:
            raise StartupError(f"{variable}: {exc}") from None
    try:
        pipeline = production_pipeline(settings)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        raise StartupError(f"cannot build the pipeline from the settings: {exc}") from None
    # Nothing was connected yet; drop the pool so the forked children start clean.
    bind = pipeline.deps.sessions.kw.get("bind")
    if bind is not None:
        bind.dispose()


def _serve_plugin_queues(sender: Any = None, instance: Any = None, **_: Any) -> None:
    # Runs after -Q/-X were applied. Without -Q a Celery worker consumes every
    # declared queue, capgate.internal included; plugins' commands never go there.
    queues = instance.app.amqp.queues
    selected = set(queues.consume_from)
    if INTERNAL_QUEUE in selected and len(selected) > 1:
        queues.deselect(INTERNAL_QUEUE)


def worker_app(settings: Settings, *, pump: bool = True) -> Celery:
    """The Celery app of a worker process, with everything a worker runs beside it."""
    check_pipeline(settings)
    app = create_app(settings)
    celeryd_after_setup.connect(_serve_plugin_queues, weak=False)
    if pump:
        attach_pump(app, settings)
    collect_after_big_commands()
    return app
