"""A small capgate world for pipeline tests: a migrated database, plugins, signed commands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from capgate.adapters.base import AdapterResult, Handler, Invocation
from capgate.audit.recorder import AuditRecorder
from capgate.bootstrap import Runtime, bootstrap
from capgate.contracts.context import ExecutionKind, PluginServiceContext
from capgate.contracts.envelope import build_envelope
from capgate.database import unit_of_work
from capgate.migrate import upgrade
from capgate.registry.admin import IssuedKey, RegistryAdmin
from capgate.registry.sealing import KeySealer
from capgate.settings import Settings
from capgate.workers.assembly import build_pipeline
from capgate.workers.pipeline import Pipeline
from capgate.workers.policy import PolicyBook
from capgate.workers.ratelimit import LimitStore, MemoryLimitStore
from capgate.workers.work import Delivery

SECRET = "test-server-secret-0123456789abcdef0123456789"


def recording_handler(calls: list[Invocation], response: dict[str, Any] | None = None) -> Handler:
    """A handler that records its invocations and returns ``response``."""

    def handle(invocation: Invocation) -> AdapterResult:
        calls.append(invocation)
        return AdapterResult(response=dict(response or {"ok": True}))

    return handle


@dataclass
class Plugin:
    """A registered plugin and the means to sign its commands."""

    key: IssuedKey
    capability_id: str
    capability_key: str

    def context(self, **overrides: Any) -> PluginServiceContext:
        values: dict[str, Any] = {
            "plugin_name": self.key.plugin_name,
            "plugin_id": self.key.plugin_id,
            "capability_id": self.capability_id,
            "capability_key": self.capability_key,
            "execution_kind": ExecutionKind.ACTION,
            "correlation_id": "corr-1",
            "timestamp": datetime.now(UTC),
        }
        values.update(overrides)
        return PluginServiceContext(**values)

    def command(self, operation: str, payload: dict[str, Any], **kw: Any) -> str:
        context = kw.pop("context", None) or self.context()
        return build_envelope(
            operation=operation,
            payload=payload,
            context=context,
            key_id=kw.pop("key_id", self.key.key_id),
            secret=kw.pop("secret", self.key.secret),
            **kw,
        )


@dataclass
class World:
    """Runtime + registry + pipeline over one database."""

    runtime: Runtime
    limiter: LimitStore = field(default_factory=MemoryLimitStore)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def create(cls, database_url: str, **settings: Any) -> World:
        runtime = bootstrap(Settings(database_url=database_url, secret=SECRET, **settings))
        upgrade(runtime.engine)
        return cls(runtime)

    def add_plugin(self, name: str, capability: str, scopes: Mapping[str, str | None]) -> Plugin:
        """Register ``name`` with ``capability`` granted ``scopes`` (scope -> rate or None)."""
        sealer = KeySealer(SECRET)
        recorder = AuditRecorder(SECRET)
        with unit_of_work(self.runtime.sessions) as session:
            admin = RegistryAdmin(session, sealer=sealer, audit=recorder.record, actor="tests")
            key = admin.add_plugin(name)
            cap = None
            for scope, rate in scopes.items():
                cap = admin.grant(name, capability, scope, rate=rate)
            assert cap is not None
            cap_id = cap.id
        return Plugin(key=key, capability_id=cap_id, capability_key=capability)

    def pipeline(
        self, handlers: Mapping[str, Handler], *, policies: PolicyBook | None = None, **kw: Any
    ) -> Pipeline:
        pipeline = build_pipeline(
            self.runtime,
            limiter=self.limiter,
            handlers=handlers,
            policies=policies,
            grant_cache_ttl=0,
            **kw,
        )
        return pipeline

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def delivery(body: Any, operation: str, **kw: Any) -> Delivery:
    """A delivery of ``body`` as task ``capgate.<operation>``."""
    return Delivery(
        body=body, task_name=f"capgate.{operation}", task_id=kw.pop("task_id", "t-1"), **kw
    )
