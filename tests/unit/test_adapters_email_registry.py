"""The email provider registry and email.send, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from capgate.adapters.base import Handler
from capgate.adapters.composition import build_handlers
from capgate.adapters.email.fake import FakeEmailSender
from capgate.adapters.email.tables import EmailProvider
from capgate.contracts.email import SendEmail
from capgate.contracts.email_providers import (
    ListProviders,
    ProviderKind,
    RegisterProvider,
    SetActiveProvider,
    UnregisterProvider,
)
from capgate.contracts.errors import ErrorKind, PluginServiceError
from tests.support.adapters import SECRET, invocation, open_session

SMTP_CONFIG = {"host": "mail.example", "sender": "noreply@example.com", "password": "hunter2-pw"}


@pytest.fixture
def session(migrated_engine: Engine) -> Iterator[Session]:
    yield from open_session(migrated_engine)


@pytest.fixture
def fake() -> FakeEmailSender:
    return FakeEmailSender()


@pytest.fixture
def handlers(tmp_path: Path, fake: FakeEmailSender) -> dict[str, Handler]:
    return build_handlers(
        secret=SECRET,
        storage_root=tmp_path / "objects",
        eml_folder=tmp_path / "outbox",
        provider_factories={"smtp": fake.factory},
    )


def register(
    handlers: dict[str, Handler], session: Session, name: str, *, plugin: str = "plugin-a"
) -> dict[str, object]:
    payload = RegisterProvider(name=name, kind=ProviderKind.SMTP, config=SMTP_CONFIG)
    inv = invocation(session, "email.register_provider", payload, plugin_id=plugin)
    return handlers["email.register_provider"](inv).response


def send(handlers: dict[str, Handler], session: Session, **fields: object) -> dict[str, object]:
    payload = SendEmail.model_validate(
        {"to": ["bob@example.com"], "subject": "Hi", "text": "body", **fields}
    )
    return handlers["email.send"](invocation(session, "email.send", payload)).response


def test_the_first_provider_registered_becomes_active(handlers, session) -> None:
    assert register(handlers, session, "primary")["active"] is True
    assert register(handlers, session, "backup")["active"] is False


def test_config_is_encrypted_at_rest_and_never_listed(handlers, session) -> None:
    register(handlers, session, "primary")
    stored = session.scalars(select(EmailProvider.sealed_config)).one()
    assert "hunter2-pw" not in stored and "mail.example" not in stored
    listing = handlers["email.list_providers"](
        invocation(session, "email.list_providers", ListProviders())
    ).response
    assert listing == {
        "providers": [
            {"name": "primary", "kind": "smtp", "owner_plugin_id": "plugin-a", "active": True}
        ]
    }


def test_only_the_owner_may_unregister(handlers, session) -> None:
    register(handlers, session, "primary", plugin="plugin-a")
    inv = invocation(
        session,
        "email.unregister_provider",
        UnregisterProvider(name="primary"),
        plugin_id="plugin-b",
    )
    with pytest.raises(PluginServiceError) as error:
        handlers["email.unregister_provider"](inv)
    assert (error.value.kind, error.value.code) == (ErrorKind.PERMISSION, "not_provider_owner")
    own = invocation(session, "email.unregister_provider", UnregisterProvider(name="primary"))
    assert handlers["email.unregister_provider"](own).response["was_active"] is True


def test_another_plugin_cannot_take_over_a_name(handlers, session) -> None:
    register(handlers, session, "primary", plugin="plugin-a")
    with pytest.raises(PluginServiceError) as error:
        register(handlers, session, "primary", plugin="plugin-b")
    assert error.value.code == "provider_owned_by_other_plugin"


def test_set_active_moves_the_flag(handlers, session) -> None:
    register(handlers, session, "primary")
    register(handlers, session, "backup")
    inv = invocation(session, "email.set_active_provider", SetActiveProvider(name="backup"))
    assert handlers["email.set_active_provider"](inv).response["changed"] is True
    active = session.scalars(select(EmailProvider.name).where(EmailProvider.active)).all()
    assert active == ["backup"]


def test_unknown_provider_is_not_found(handlers, session) -> None:
    inv = invocation(session, "email.set_active_provider", SetActiveProvider(name="ghost"))
    with pytest.raises(PluginServiceError) as error:
        handlers["email.set_active_provider"](inv)
    assert (error.value.kind, error.value.code) == (ErrorKind.NOT_FOUND, "provider_not_found")


def test_send_without_any_provider_is_not_found(handlers, session) -> None:
    with pytest.raises(PluginServiceError) as error:
        send(handlers, session)
    assert (error.value.kind, error.value.code) == (ErrorKind.NOT_FOUND, "no_active_provider")


def test_send_uses_the_active_provider_with_a_message_id_from_the_command(
    handlers, session, fake
) -> None:
    register(handlers, session, "primary")
    response = send(handlers, session, bcc=["hidden@example.com"])
    assert response == {"message_id": "<cmd-1@capgate.invalid>", "provider": "primary"}
    (message,) = fake.sent
    assert message.sender == "noreply@example.com"
    assert message.recipients == ["bob@example.com", "hidden@example.com"]
    assert "Bcc" not in message.to_mime()


def test_a_retried_send_carries_the_same_message_id(handlers, session, fake) -> None:
    register(handlers, session, "primary")
    fake.fail_times(1)
    with pytest.raises(PluginServiceError) as error:
        send(handlers, session)
    assert error.value.kind is ErrorKind.RETRYABLE
    send(handlers, session)
    assert [m.message_id for m in fake.attempts] == ["<cmd-1@capgate.invalid>"] * 2


def test_send_through_a_named_provider(handlers, session, tmp_path) -> None:
    register(handlers, session, "primary")
    payload = RegisterProvider(name="files", kind=ProviderKind.EML, config={})
    handlers["email.register_provider"](invocation(session, "email.register_provider", payload))
    response = send(handlers, session, provider="files")
    assert response["provider"] == "files"
    assert len(list((tmp_path / "outbox" / "files").glob("*.eml"))) == 1


def test_an_invalid_config_names_the_field_not_the_value(handlers, session) -> None:
    payload = RegisterProvider(
        name="bad", kind=ProviderKind.SMTP, config={"host": "h", "password": "s3cr3t-value"}
    )
    with pytest.raises(PluginServiceError) as error:
        handlers["email.register_provider"](invocation(session, "email.register_provider", payload))
    assert (error.value.kind, error.value.code) == (
        ErrorKind.VALIDATION,
        "invalid_provider_config",
    )
    assert "sender" in error.value.message and "s3cr3t-value" not in error.value.message


def test_a_config_sealed_under_another_secret_is_fatal(handlers, session, tmp_path) -> None:
    register(handlers, session, "primary")
    other = build_handlers(
        secret="another-secret-of-at-least-32-characters!",
        storage_root=tmp_path,
        eml_folder=tmp_path,
    )
    with pytest.raises(PluginServiceError) as error:
        send(other, session)
    assert (error.value.kind, error.value.code) == (ErrorKind.FATAL, "provider_config_unreadable")
