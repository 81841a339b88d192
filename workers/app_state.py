"""What a capgate Celery app carries that must stay out of Celery's configuration.

``celery inspect conf`` and Flower's Config tab print ``app.conf``. The
settings (database and Redis URLs with their passwords, the server secret)
and the process's pipeline are therefore kept here, beside the app, keyed by
the app object, and never in its configuration.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from celery import Celery

    from capgate.settings import Settings
    from capgate.workers.pipeline import Pipeline

__all__ = [
    "AppState",
    "PipelineFactory",
    "attach_state",
    "pipeline_for",
    "settings_for",
    "use_pipeline",
]

PipelineFactory = Callable[["Settings"], "Pipeline"]


@dataclass
class AppState:
    """The settings an app was built from, and how (and whether) its pipeline was built."""

    settings: Settings
    factory: PipelineFactory
    pipeline: Pipeline | None = None


_STATES: WeakKeyDictionary[Celery, AppState] = WeakKeyDictionary()
_LOCK = threading.Lock()


def attach_state(app: Celery, settings: Settings, factory: PipelineFactory) -> None:
    """Remember ``settings`` and the pipeline ``factory`` of ``app``."""
    _STATES[app] = AppState(settings, factory)


def _state(app: Celery) -> AppState:
    try:
        return _STATES[app]
    except KeyError:
        raise LookupError(f"{app.main!r} was not built by capgate's create_app") from None


def settings_for(app: Celery) -> Settings:
    """The settings ``app`` was built from."""
    return _state(app).settings


def use_pipeline(app: Celery, pipeline: Pipeline) -> None:
    """Run ``app``'s commands through ``pipeline`` (the demo and tests build their own)."""
    _state(app).pipeline = pipeline


def pipeline_for(app: Celery) -> Pipeline:
    """The process's pipeline for ``app``, built on first use (after the worker forked)."""
    state = _state(app)
    if state.pipeline is None:
        with _LOCK:
            if state.pipeline is None:
                state.pipeline = state.factory(state.settings)
    return state.pipeline
