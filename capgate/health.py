"""Can this capgate deployment work? One check per part it depends on.

``capgate health`` (and a container's health check) runs :func:`run_checks`:
the broker, the database, migrations at head, the result backend and the
rate-limit store. Each check has a short timeout and reports the part's URL
with its password masked; a check never raises, it reports what failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from capgate.logs import mask_url
from capgate.settings import Settings

__all__ = ["CheckResult", "NotReadyError", "run_checks"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check: its name, the target it reached, and what it found."""

    name: str
    ok: bool
    target: str
    detail: str

    def line(self) -> str:
        """``ok broker redis://...`` or ``FAIL broker redis://...: why``."""
        head = f"{'ok' if self.ok else 'FAIL'} {self.name} {self.target}"
        return f"{head}: {self.detail}" if self.detail else head

    def as_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values."""
        return asdict(self)


class NotReadyError(Exception):
    """A part answered but is not ready (its message says what to do)."""


def _why(exc: BaseException) -> str:
    if isinstance(exc, NotReadyError):
        return str(exc)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return mask_url(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def _redis_ping(url: str, timeout: float) -> str:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()
    return ""


def _broker(url: str, timeout: float) -> str:
    if url.startswith(("redis://", "rediss://")):
        return _redis_ping(url, timeout)
    from kombu import Connection

    with Connection(url, connect_timeout=timeout) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=max(1, int(timeout)))
    return ""


def _backend(url: str, timeout: float) -> str:
    if url.startswith(("redis://", "rediss://")):
        return _redis_ping(url, timeout)
    if url.startswith("db+"):
        return _database(url.removeprefix("db+"), timeout)
    return "not checked (only redis:// and db+ backends are)"


def _engine(url: str, timeout: float) -> Any:
    from capgate.database import make_engine

    if url.startswith("postgresql"):
        return make_engine(url, connect_args={"connect_timeout": max(1, int(timeout))})
    return make_engine(url)


def _database(url: str, timeout: float) -> str:
    engine = _engine(url, timeout)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    return ""


def _migrations(url: str, timeout: float) -> str:
    from capgate.migrate import current_revision, head_revision

    engine = _engine(url, timeout)
    try:
        current, head = current_revision(engine), head_revision(engine)
    finally:
        engine.dispose()
    if current != head:
        raise NotReadyError(
            f"at {current or 'no revision'}, head is {head}: run 'capgate db upgrade'"
        )
    return f"at {head}"


def _masked(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not an SQLAlchemy URL (redis://, amqp://)
        return mask_url(url)


def _run(name: str, url: str, check: Callable[[str, float], str], timeout: float) -> CheckResult:
    try:
        detail = check(url, timeout)
    except Exception as exc:  # noqa: BLE001 - a failed check is reported, never raised
        return CheckResult(name, False, _masked(url), _why(exc))
    return CheckResult(name, True, _masked(url), detail)


def run_checks(settings: Settings, *, timeout: float = 3.0) -> list[CheckResult]:
    """Check every part capgate depends on, in the order they are needed."""
    checks: list[tuple[str, str, Callable[[str, float], str]]] = [
        ("broker", settings.broker_url, _broker),
        ("database", settings.database_url, _database),
        ("migrations", settings.database_url, _migrations),
        ("result-backend", settings.result_backend, _backend),
        ("rate-limit-store", settings.rate_limit_url, _redis_ping),
    ]
    return [_run(name, url, check, timeout) for name, url, check in checks]
