"""A provider's 429 blocks that provider for every command, however it is named."""

from __future__ import annotations

from pathlib import Path

from capgate.adapters.composition import build_handlers
from capgate.adapters.email.fake import FakeEmailSender
from capgate.contracts.errors import ErrorKind
from tests.support.world import SECRET, World, delivery

SMTP = {"host": "smtp.example.com", "sender": "a@example.com"}
MAIL = {"to": ["bob@example.com"], "subject": "hi", "text": "hello"}


def test_a_429_through_the_active_provider_blocks_commands_that_name_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    world = World.create(sqlite_url)
    plugin = world.add_plugin("alpha", "mailer", {"email:send": None})
    fake = FakeEmailSender()
    handlers = build_handlers(
        secret=SECRET,
        storage_root=tmp_path,
        eml_folder=tmp_path,
        provider_factories={"smtp": fake.factory},
        provider_gate=world.limiter,
    )
    pipeline = world.pipeline(handlers)
    register = {"name": "relay", "kind": "smtp", "config": SMTP}
    op = "email.register_provider"
    assert pipeline.run(delivery(plugin.command(op, register), op)).error is None

    fake.fail_times(1, ErrorKind.RATE_LIMIT, retry_after_ms=60_000)
    first = pipeline.run(delivery(plugin.command("email.send", MAIL), "email.send"))
    assert first.outcome.value == "rate_limited"
    named = {**MAIL, "provider": "relay"}
    second = pipeline.run(delivery(plugin.command("email.send", named), "email.send"))
    assert second.error is not None and second.error.code == "provider_backoff"
    assert second.error.retry_after_ms is not None and second.error.retry_after_ms > 50_000
    assert len(fake.attempts) == 1  # the blocked command never reached the provider
