"""The database half of the composition root: settings, engine and sessions.

Worker processes are assembled from it by ``capgate.workers.process``
(``worker_app``), which every way of starting a worker uses.

Nothing connects at import time; callers (the CLI, the Celery worker, tests)
call :func:`bootstrap` and pass the result to whoever needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from capgate.database import make_engine, make_session_factory
from capgate.settings import Settings, load_settings

__all__ = ["Runtime", "bootstrap"]


@dataclass(frozen=True, slots=True)
class Runtime:
    """What a process needs to talk to capgate's database."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, ping: bool = True) -> Runtime:
    """Build the runtime from ``settings`` (default: the environment).

    ``ping=False`` skips the pool's liveness check on each checkout: a round
    trip per transaction. The worker turns it off and handles a connection
    that went stale by giving the message back at once (workers/task.py).
    """
    settings = settings or load_settings()
    engine = make_engine(settings.database_url, pool_pre_ping=ping)
    return Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine))
