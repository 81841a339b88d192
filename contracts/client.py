"""The Python client for plugin runtimes: sign, route, publish, and wait.

It imports Celery only when it publishes, so ``capgate.contracts`` stays
importable with pydantic alone. Any other language can do the same by
following ``docs/wire-format.md``.

    client = PluginClient(credentials, broker_url="redis://localhost:6379/0",
                          result_backend="redis://localhost:6379/1")
    handle = client.send("users.deactivate", {"user_id": "u-42"})
    result = client.call("storage.create_release_link", {...}, timeout=10)
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from capgate.contracts.catalog import get_operation, validate_payload
from capgate.contracts.context import ExecutionKind, PluginServiceContext
from capgate.contracts.envelope import build_envelope
from capgate.contracts.errors import PluginServiceError

__all__ = ["CommandHandle", "PluginClient", "PluginCredentials"]


@dataclass(frozen=True, slots=True)
class PluginCredentials:
    """Who the plugin is and the key it signs with (the secret is never printed)."""

    plugin_name: str
    plugin_id: str
    capability_id: str
    capability_key: str
    key_id: str
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class CommandHandle:
    """A published command; :meth:`result` waits for its outcome."""

    command_id: str
    operation: str
    _async_result: Any = field(repr=False)

    def result(self, timeout: float = 30.0) -> dict[str, Any]:
        """The operation's response; raises ``PluginServiceError`` if it failed."""
        try:
            value = self._async_result.get(timeout=timeout, propagate=False)
        except Exception as exc:
            raise PluginServiceError.retryable(
                "result_timeout", f"no result for {self.command_id} within {timeout}s"
            ) from exc
        if isinstance(value, PluginServiceError):
            raise value
        if isinstance(value, BaseException):
            raise PluginServiceError.fatal("command_failed", f"{type(value).__name__}: {value}")
        response = value.get("response") if isinstance(value, dict) else None
        return dict(response or {})


class PluginClient:
    """Builds signed commands for one plugin capability and publishes them."""

    def __init__(
        self,
        credentials: PluginCredentials,
        *,
        broker_url: str | None = None,
        result_backend: str | None = None,
        app: Any = None,
        ttl: timedelta = timedelta(minutes=15),
    ) -> None:
        self.credentials = credentials
        self._ttl = ttl
        if app is None:
            from celery import Celery

            app = Celery(
                "capgate-client", broker=broker_url, backend=result_backend, set_as_current=False
            )
            app.conf.update(
                task_serializer="json", accept_content=["json"], result_accept_content=["json"]
            )
            app.loader.override_backends = _results_on_demand()
            if str(broker_url or "").startswith(("redis://", "rediss://")):
                # capgate's Redis transport: one client object per channel
                # rather than kombu's new one per command (workers/transport.py).
                app.conf.broker_transport = "capgate.workers.transport:Transport"
        self._app = app
        # One producer (and broker connection) per publishing thread, kept:
        # acquiring one from Celery's pool for every message, as send_task
        # does, was a fifth of the cost of a publish.
        self._local = threading.local()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()

    def close(self) -> None:
        """Close the broker connections this client opened (it reconnects if used again)."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
        self._local = threading.local()
        for connection in connections:
            connection.release()

    def __enter__(self) -> PluginClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _producer(self) -> Any:
        producer = getattr(self._local, "producer", None)
        if producer is None:
            connection = self._app.connection_for_write()
            with self._connections_lock:
                self._connections.append(connection)
            producer = self._app.amqp.Producer(connection, auto_declare=False)
            self._local.producer = producer
        return producer

    def context(self, **overrides: Any) -> PluginServiceContext:
        """A context for this capability, stamped now; overrides win."""
        creds = self.credentials
        values: dict[str, Any] = {
            "plugin_name": creds.plugin_name,
            "plugin_id": creds.plugin_id,
            "capability_id": creds.capability_id,
            "capability_key": creds.capability_key,
            "execution_kind": ExecutionKind.ACTION,
            "timestamp": datetime.now(UTC),
        }
        values.update(overrides)
        return PluginServiceContext(**values)

    def envelope(
        self,
        operation: str,
        payload: dict[str, Any] | BaseModel,
        *,
        idempotency_key: str | None = None,
        command_id: str | None = None,
        **context: Any,
    ) -> str:
        """The signed envelope text for ``operation`` (validated before signing)."""
        model = payload if isinstance(payload, BaseModel) else validate_payload(operation, payload)
        return build_envelope(
            operation=operation,
            payload=model.model_dump(mode="json", exclude_none=True),
            context=self.context(**context),
            key_id=self.credentials.key_id,
            secret=self.credentials.secret,
            idempotency_key=idempotency_key,
            command_id=command_id,
            ttl=self._ttl,
        )

    def publish(self, operation: str, envelope: str, command_id: str) -> CommandHandle:
        """Publish an already signed envelope on the operation's queue."""
        spec = get_operation(operation)
        app = self._app
        # What send_task does, minus its router lookup (the queue is known),
        # its per-message producer checkout and its result subscription;
        # Celery's own message builder and sender, so the message, the
        # publish retry policy and the publish signals are the same.
        message = app.amqp.create_task_message(
            command_id,
            spec.task_name,
            [envelope],
            {},
            reply_to=app.thread_oid,
            create_sent_event=app.conf.task_send_sent_event,
            # Flower and logs show this instead of the arguments: never a body.
            argsrepr=f"(<envelope {len(envelope)} bytes>,)",
            kwargsrepr="{}",
        )
        app.amqp.send_task_message(
            self._producer(),
            spec.task_name,
            message,
            queue=spec.queue,
            routing_key=spec.queue,
        )
        return CommandHandle(command_id, operation, app.AsyncResult(command_id))

    def send(
        self, operation: str, payload: dict[str, Any] | BaseModel, **options: Any
    ) -> CommandHandle:
        """Sign and publish one command; returns at once."""
        command_id = options.pop("command_id", None) or str(uuid.uuid4())
        text = self.envelope(operation, payload, command_id=command_id, **options)
        return self.publish(operation, text, command_id)

    def call(
        self,
        operation: str,
        payload: dict[str, Any] | BaseModel,
        *,
        timeout: float = 30.0,
        **options: Any,
    ) -> dict[str, Any]:
        """Send and wait for the response; raises ``PluginServiceError`` on failure."""
        return self.send(operation, payload, **options).result(timeout)


_ON_DEMAND = "capgate.contracts.client:OnDemandRedisBackend"


def _results_on_demand() -> dict[str, str]:
    """Celery backend aliases: Redis results are subscribed to only when awaited."""
    return {"redis": _ON_DEMAND, "rediss": _ON_DEMAND}


def __getattr__(name: str) -> Any:
    """``OnDemandRedisBackend``, built on first use so that importing this module needs no Celery.

    Celery's Redis backend subscribes to every task's result channel as the
    task is sent: a round trip that was a fifth of the cost of a publish, paid
    by every fire-and-forget ``send``. ``CommandHandle.result`` still gets
    every result: ``AsyncResult.get`` subscribes first and then reads the
    stored result, so one that arrived before the subscription is not missed.
    """
    if name != "OnDemandRedisBackend":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from celery.backends.redis import RedisBackend

    class OnDemandRedisBackend(RedisBackend):
        def on_task_call(self, producer: Any, task_id: str) -> None:
            return None

    globals()[name] = OnDemandRedisBackend
    return OnDemandRedisBackend
