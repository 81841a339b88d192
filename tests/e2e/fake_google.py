"""An ``email.send`` handler whose Gmail endpoints point at the test's fake Google.

The Gmail endpoints belong to the deployment and the settings have no field
for them, so an end-to-end test swaps the ``email.send`` handler through the
documented route, ``CAPGATE_ADAPTER_OVERRIDES``::

    {"email.send": "tests.e2e.fake_google:send"}

The worker process finds the fake's address in ``FAKE_GOOGLE_URL``. Everything
else (provider registry, config cipher, Gmail sender, error table) is the
production code from :func:`capgate.adapters.composition.build_handlers`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import redis

from capgate.adapters.base import AdapterResult, Handler, Invocation
from capgate.adapters.composition import build_handlers
from capgate.adapters.email.gmail import GmailEndpoints
from capgate.workers.ratelimit import RedisLimitStore

__all__ = ["send"]


@functools.cache
def _send() -> Handler:
    base = os.environ["FAKE_GOOGLE_URL"]
    handlers = build_handlers(
        secret=os.environ["CAPGATE_SECRET"],
        storage_root=Path(os.environ["CAPGATE_STORAGE_ROOT"]),
        eml_folder=Path(os.environ["CAPGATE_EML_FOLDER"]),
        gmail_endpoints=GmailEndpoints(token_url=f"{base}/token", send_url=f"{base}/send"),
        # The same shared back-off the production wiring gives the email adapter.
        provider_gate=RedisLimitStore(redis.Redis.from_url(os.environ["CAPGATE_RATE_LIMIT_URL"])),
    )
    return handlers["email.send"]


def send(invocation: Invocation) -> AdapterResult:
    """``email.send`` with Gmail going to the fake Google."""
    return _send()(invocation)
