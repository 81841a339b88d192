"""Settings: defaults, the CAPGATE_ prefix, clear errors, no placeholder secret in production."""

from __future__ import annotations

import os

import click
import pytest
from pydantic import ValidationError

from capgate.cli.errors import settings_or_exit
from capgate.settings import DEV_SECRET, Environment, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CAPGATE_"):
            monkeypatch.delenv(name)


def test_defaults_need_nothing_installed() -> None:
    settings = load_settings()
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.database_url == "sqlite:///capgate.db"
    assert settings.is_sqlite
    assert settings.broker_url == "redis://localhost:6379/0"
    assert settings.result_backend == "redis://localhost:6379/1"
    assert settings.secret.get_secret_value() == DEV_SECRET


def test_reads_variables_with_the_capgate_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPGATE_DATABASE_URL", "postgresql://u:p@db:5432/capgate")
    monkeypatch.setenv("CAPGATE_BROKER_URL", "amqp://guest@rabbit//")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///ignored.db")
    settings = load_settings()
    assert settings.database_url == "postgresql://u:p@db:5432/capgate"
    assert settings.broker_url == "amqp://guest@rabbit//"
    assert not settings.is_sqlite


def test_keyword_overrides_win_and_settings_are_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPGATE_BROKER_URL", "redis://env:6379/0")
    settings = load_settings(broker_url="memory://")
    assert settings.broker_url == "memory://"
    with pytest.raises(ValidationError):
        settings.broker_url = "redis://other"  # type: ignore[misc]


def test_malformed_url_error_names_the_variable_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAPGATE_DATABASE_URL", "postgresql//admin:hunter2@db")
    with pytest.raises(click.ClickException) as caught:
        settings_or_exit()
    message = caught.value.format_message()
    assert "CAPGATE_DATABASE_URL" in message
    assert "hunter2" not in message


def test_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPGATE_ENVIRONMENT", "staging")
    with pytest.raises(click.ClickException, match="CAPGATE_ENVIRONMENT"):
        settings_or_exit()


@pytest.mark.parametrize("secret", [None, DEV_SECRET, "changeme", "short-but-random"])
def test_production_refuses_the_development_or_a_weak_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    monkeypatch.setenv("CAPGATE_ENVIRONMENT", "production")
    if secret is not None:
        monkeypatch.setenv("CAPGATE_SECRET", secret)
    with pytest.raises(click.ClickException) as caught:
        settings_or_exit()
    assert "CAPGATE_SECRET" in caught.value.format_message()


def test_production_accepts_a_strong_secret_and_never_shows_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    strong = "k8Jq2vN1xZ7pR4tL0mW9sB6yC3dF5gH8"
    monkeypatch.setenv("CAPGATE_ENVIRONMENT", "production")
    monkeypatch.setenv("CAPGATE_SECRET", strong)
    settings = Settings()
    assert settings.secret.get_secret_value() == strong
    assert strong not in repr(settings)
