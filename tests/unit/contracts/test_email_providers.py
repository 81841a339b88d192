"""Email provider payloads: kinds, bounded config with secrets kept out of repr."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from capgate.contracts.email_providers import (
    ProviderKind,
    ProviderList,
    ProviderSummary,
    RegisterProvider,
)


def register(**fields: Any) -> RegisterProvider:
    data: dict[str, Any] = {"name": "corp-smtp", "kind": "smtp"}
    data.update(fields)
    return RegisterProvider.model_validate(data)


def test_register_accepts_each_kind_and_typed_config_values() -> None:
    for kind in ("smtp", "gmail", "eml"):
        assert register(kind=kind).kind is ProviderKind(kind)
    config = {"host": "smtp.example.com", "port": 587, "use_tls": True, "password": "pw"}
    assert register(config=config).config == config


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"port": 1.5}, "config.port"),
        ({"port": None}, "config.port"),
        ({"nested": {"a": 1}}, "config.nested"),
        ({"password": "x" * 4097}, "config.password"),
        ({"bad key": "v"}, "config.bad key.[key]"),
        ({"port": 2**60}, "config.port"),
    ],
)
def test_register_refuses_bad_config_naming_the_key(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        register(config=config)
    assert [".".join(map(str, e["loc"])) for e in caught.value.errors()] == [field]


def test_register_bounds_config_size_and_key_count() -> None:
    with pytest.raises(ValidationError, match="at most 16384 bytes"):
        register(config={f"k{i}": "x" * 4000 for i in range(5)})
    with pytest.raises(ValidationError, match="at most 32 items"):
        register(config={f"k{i}": i for i in range(33)})


def test_config_secrets_never_appear_in_repr() -> None:
    provider = register(config={"password": "hunter2", "client_secret": "s3cr3t"})
    assert "hunter2" not in repr(provider)
    assert "s3cr3t" not in str(provider)


def test_provider_list_has_no_config_field() -> None:
    summary = ProviderSummary(name="corp-smtp", kind="smtp", owner_plugin_id="plg_1", active=True)
    listing = ProviderList(providers=[summary])
    assert "config" not in listing.model_dump()["providers"][0]
    with pytest.raises(ValidationError):
        ProviderSummary.model_validate({**summary.model_dump(), "config": {"password": "x"}})
