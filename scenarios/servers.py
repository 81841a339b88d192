"""The scenario's own servers: a private redis-server and a private PostgreSQL database.

Other engineers' workers share the machine's Redis; a scenario that used it
would have its messages taken by their workers. Every scenario therefore
starts its own ``redis-server`` on a free port and creates its own database.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import create_engine, text

from tests.support.services import POSTGRES_ADMIN_URL, free_port

__all__ = ["RedisServer", "own_database"]


def _admin_client(port: int) -> redis.Redis:
    """A client that tries once: redis-py 8 retries a failed command 3 times with
    growing pauses by default, which made SHUTDOWN (whose connection the server
    closes) return seconds after the server was gone."""
    return redis.Redis(port=port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))


class RedisServer:
    """``redis-server`` on 127.0.0.1:<port> with its files in ``folder``."""

    def __init__(self, folder: Path, *, appendonly: bool = False) -> None:
        self.port = free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._args = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(folder),
            "--save", "",
            "--appendonly", "yes" if appendonly else "no",
            "--appendfsync", "always",
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int) -> str:
        """redis:// URL of database ``db`` on this server."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 20.0) -> None:
        """Start (or start again, reading the append-only file) and wait for PING."""
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(self._args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        client = _admin_client(self.port)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                try:
                    if client.ping():
                        return
                except redis.exceptions.BusyLoadingError:
                    pass  # still reading the append-only file
                except redis.ConnectionError:
                    pass  # not listening yet
                time.sleep(0.1)
        finally:
            client.close()
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def shutdown(self) -> None:
        """SHUTDOWN (the append-only file is flushed first) and wait for the exit."""
        if self.process is None or self.process.poll() is not None:
            return
        client = _admin_client(self.port)
        try:
            client.shutdown()
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits
        finally:
            client.close()
        self.process.wait(timeout=30)


@contextmanager
def own_database() -> Iterator[str]:
    """A fresh PostgreSQL database (``capgate_rel_<random>``), dropped afterwards."""
    name = f"capgate_rel_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
