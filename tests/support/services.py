"""Find the real services integration tests need; skip or fail when absent.

On a laptop a missing PostgreSQL or Redis skips the tests that need it, with
the reason. CI sets ``CAPGATE_REQUIRE_SERVICES=1`` so that a missing service
fails the run instead of silently skipping it.
"""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "CAPGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CAPGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def services_required() -> bool:
    """True when absent services must fail the run (CI)."""
    return os.environ.get("CAPGATE_REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def unavailable(what: str) -> None:
    """Skip (laptop) or fail (CI) because ``what`` is not reachable."""
    message = f"{what} is not reachable"
    if services_required():
        pytest.fail(f"{message} and CAPGATE_REQUIRE_SERVICES is set", pytrace=False)
    pytest.skip(message)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
