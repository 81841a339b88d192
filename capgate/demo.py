"""``capgate demo``: sample plugins through the real pipeline, then the audit trail.

Embedded: SQLite (or ``CAPGATE_DATABASE_URL``), a Celery worker in this
process on the in-memory broker, fake email providers. Every command goes
through the same pipeline a production worker runs.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capgate.adapters.composition import build_handlers
from capgate.adapters.email.factories import ProviderSpec
from capgate.adapters.email.fake import FakeEmailSender
from capgate.adapters.seed import seed_demo_data
from capgate.audit.recorder import AuditRecorder
from capgate.bootstrap import Runtime, bootstrap
from capgate.contracts.client import CommandHandle, PluginClient, PluginCredentials
from capgate.contracts.errors import ErrorKind
from capgate.database import unit_of_work
from capgate.migrate import upgrade
from capgate.registry.admin import RegistryAdmin
from capgate.registry.sealing import KeySealer
from capgate.settings import Settings
from capgate.workers.app_state import use_pipeline
from capgate.workers.assembly import build_pipeline
from capgate.workers.celery_app import create_app
from capgate.workers.embedded import embedded_worker
from capgate.workers.policy import KindPolicy, OperationPolicy, PolicyBook
from capgate.workers.publish import celery_publisher
from capgate.workers.pump import RetryPump
from capgate.workers.ratelimit import MemoryLimitStore
from capgate.workers.tokens import RetryTokens

__all__ = ["DemoReport", "run_demo"]

# Short waits so the demo settles in seconds; production defaults are longer.
DEMO_POLICIES = PolicyBook(
    default=OperationPolicy(
        retryable=KindPolicy(
            retry=True, initial_ms=200, multiplier=2.0, cap_ms=1_000, max_attempts=3, jitter=0.2
        ),
        unexpected=KindPolicy(retry=True, initial_ms=200, cap_ms=1_000, max_attempts=2),
        rate_limit_budget_ms=30_000,
    )
)

TOGGLE_SCOPES = (
    "bundles:write",
    "bundle_assignments:write",
    "recipients:write",
    "actions:write",
    "triggers:write",
    "pipelines:write",
)


@dataclass
class DemoReport:
    """What the demo did: the commands it sent and the outcome of each."""

    run_id: str
    commands: list[tuple[str, str, str]] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    settled: bool = True


def _register(runtime: Runtime, run_id: str) -> dict[str, PluginCredentials]:
    secret = runtime.settings.secret.get_secret_value()
    grants: dict[str, tuple[str, dict[str, str | None]]] = {
        "newsletter": ("digest", {"email:send": "5/second"}),
        "ops-bot": (
            "admin",
            {"users:write": None, "storage:link": None, **dict.fromkeys(TOGGLE_SCOPES)},
        ),
        "intruder": ("peek", {"storage:link": None}),
    }
    creds: dict[str, PluginCredentials] = {}
    with unit_of_work(runtime.sessions) as session:
        admin = RegistryAdmin(
            session,
            sealer=KeySealer(secret),
            audit=AuditRecorder(secret).record,
            actor="capgate-demo",
        )
        for base, (capability, scopes) in grants.items():
            name = f"{base}-{run_id}"
            key = admin.add_plugin(name)
            cap = None
            for scope, rate in scopes.items():
                cap = admin.grant(name, capability, scope, rate=rate)
            assert cap is not None
            creds[base] = PluginCredentials(
                name, key.plugin_id, cap.id, capability, key.key_id, key.secret
            )
    return creds


def _storage(root: Path) -> None:
    obj = root / "b-q1-report" / "report.pdf"
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(b"%PDF-1.4 demo report\n")


def _send_all(clients: dict[str, PluginClient], report: DemoReport) -> list[CommandHandle]:
    news, ops, intruder = clients["newsletter"], clients["ops-bot"], clients["intruder"]
    handles: list[tuple[str, CommandHandle]] = []

    def send(what: str, client: PluginClient, op: str, payload: dict[str, Any], **kw: Any) -> None:
        handles.append((what, client.send(op, payload, **kw)))

    smtp = {
        "host": "smtp.example.com",
        "sender": "digest@example.com",
        "username": "digest",
        "password": "demo-password-never-logged",
    }
    for name in ("primary", "flaky", "broken"):
        send(
            f"register provider {name}",
            news,
            "email.register_provider",
            {"name": name, "kind": "smtp", "config": smtp},
        )
        # One at a time: the first registered becomes the active provider.
        _settle([handles[-1][1]], timeout=10)
    mail = {"to": ["alice@example.com"], "subject": "Weekly digest", "text": "Hello!"}
    send("email via the active provider", news, "email.send", mail)
    send(
        "email via a provider that fails twice, then recovers",
        news,
        "email.send",
        {**mail, "provider": "flaky"},
    )
    send(
        "email via a provider that never recovers",
        news,
        "email.send",
        {**mail, "provider": "broken"},
    )
    for i in range(8):
        send(
            f"burst email {i + 1}/8 (limit 5/second)",
            news,
            "email.send",
            {**mail, "to": [f"reader{i}@example.com"]},
        )
    send("list providers", news, "email.list_providers", {})
    send("assign a role", ops, "users.assign_role", {"user_id": "u-bob", "role": "operator"})
    send("deactivate a user", ops, "users.deactivate", {"user_id": "u-carol"})
    send("revoke sessions", ops, "users.revoke_sessions", {"user_id": "u-bob"})
    for key, rid in (
        ("bundles", "b-onboarding"),
        ("bundle_assignments", "a-onboarding-globex"),
        ("recipients", "r-globex"),
        ("actions", "act-send-digest"),
        ("triggers", "trg-nightly"),
        ("pipelines", "p-release"),
    ):
        send(
            f"disable {key}",
            ops,
            f"{key}.disable",
            {"resource_id": rid, "options": {"actor_id": "u-alice", "reason": "demo"}},
        )
    send(
        "release link",
        ops,
        "storage.create_release_link",
        {
            "bundle_id": "b-q1-report",
            "recipient_id": "r-acme",
            "ttl_seconds": 3600,
            "content_hash": "sha256:" + "ab" * 32,
        },
    )
    send(
        "object head",
        ops,
        "storage.head_object",
        {"bundle_id": "b-q1-report", "object_key": "report.pdf"},
    )
    toggle = {"resource_id": "b-q1-report"}
    send(
        "enable a bundle (idempotency key k-1)",
        ops,
        "bundles.enable",
        toggle,
        idempotency_key=f"k-1-{report.run_id}",
    )
    _settle([handles[-1][1]], timeout=10)
    send(
        "same idempotency key again",
        ops,
        "bundles.enable",
        toggle,
        idempotency_key=f"k-1-{report.run_id}",
    )
    send("missing scope", intruder, "users.deactivate", {"user_id": "u-bob"})
    forged = PluginClient(
        PluginCredentials(**{**_fields(news.credentials), "secret": "forged-key"}),
        app=news._app,
    )
    send("forged signature", forged, "users.deactivate", {"user_id": "u-bob"})
    report.commands = [(what, h.operation, h.command_id) for what, h in handles]
    return [h for _, h in handles]


def _fields(creds: PluginCredentials) -> dict[str, Any]:
    return {name: getattr(creds, name) for name in PluginCredentials.__dataclass_fields__}


def _settle(handles: list[CommandHandle], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    for handle in handles:
        while not handle._async_result.ready():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
    return True


def run_demo(settings: Settings, *, timeout: float = 25.0) -> DemoReport:
    """Run the demo against ``settings.database_url``; return what happened."""
    run_id = uuid.uuid4().hex[:6]
    report = DemoReport(run_id)
    storage_root = Path(tempfile.mkdtemp(prefix="capgate-demo-"))
    settings = settings.model_copy(
        update={
            "broker_url": "memory://",
            "result_backend": "cache+memory://",
            "storage_root": storage_root,
        }
    )
    runtime = bootstrap(settings)
    upgrade(runtime.engine)
    with unit_of_work(runtime.sessions) as session:
        seed_demo_data(session)
    _storage(storage_root)
    creds = _register(runtime, run_id)
    fakes = {"primary": FakeEmailSender(), "flaky": FakeEmailSender(), "broken": FakeEmailSender()}
    fakes["flaky"].fail_times(2, ErrorKind.RETRYABLE)
    fakes["broken"].always_fail(ErrorKind.RETRYABLE)
    secret = settings.secret.get_secret_value()

    def by_name(spec: ProviderSpec) -> FakeEmailSender:
        return fakes[spec.name]

    limiter = MemoryLimitStore()
    handlers = build_handlers(
        secret=secret,
        storage_root=storage_root,
        eml_folder=storage_root / "outbox",
        provider_factories={"smtp": by_name},
        provider_gate=limiter,
    )
    pipeline = build_pipeline(runtime, limiter=limiter, handlers=handlers, policies=DEMO_POLICIES)
    app = create_app(settings, main="capgate-demo")
    # The in-memory broker polls; the default second between polls would
    # make every retry in the demo wait for the next poll.
    app.conf.broker_transport_options = {"polling_interval": 0.01}
    use_pipeline(app, pipeline)
    pump = RetryPump(runtime.sessions, celery_publisher(app), RetryTokens(secret))
    clients = {name: PluginClient(c, app=app) for name, c in creds.items()}
    with embedded_worker(app, pump):
        handles = _send_all(clients, report)
        report.settled = _settle(handles, timeout)
    runtime.close()
    return report
