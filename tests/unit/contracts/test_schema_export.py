"""``capgate schema --out DIR`` writes JSON Schema that validates real envelopes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from capgate.cli.main import cli
from capgate.contracts.catalog import CATALOG
from capgate.contracts.errors import PluginServiceError
from tests.unit.contracts.samples import VALID_PAYLOADS, make_context, signed_envelope


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schemas")
    result = CliRunner().invoke(cli, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def validator(schema_dir: Path, stem: str) -> Draft202012Validator:
    document = json.loads((schema_dir / f"{stem}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(document)
    return Draft202012Validator(document)


def test_exports_a_schema_per_model_and_operation(schema_dir: Path) -> None:
    stems = {
        path.name.removesuffix(".schema.json")
        for path in schema_dir.iterdir()
        if path.name.endswith(".schema.json")
    }
    expected = {"envelope", "context", "error", "options"}
    expected |= {f"payload.{name}" for name in CATALOG}
    expected |= {f"result.{name}" for name, spec in CATALOG.items() if spec.result is not None}
    assert stems == expected
    assert "result.email.send" in stems and "result.storage.head_object" in stems


def test_exports_the_catalog_with_each_operation_queue_scope_and_schemas(
    schema_dir: Path,
) -> None:
    catalog = json.loads((schema_dir / "catalog.json").read_text(encoding="utf-8"))
    by_name = {entry["operation"]: entry for entry in catalog["operations"]}
    assert set(by_name) == set(CATALOG)
    send = by_name["email.send"]
    assert (send["task_name"], send["queue"], send["scopes"]) == (
        "capgate.email.send",
        "capgate.email_providers",
        ["email:send"],
    )
    for entry in catalog["operations"]:
        assert (schema_dir / f"{entry['payload_schema']}.schema.json").is_file()
        if entry["result_schema"] is not None:
            assert (schema_dir / f"{entry['result_schema']}.schema.json").is_file()


@pytest.mark.parametrize(
    "operation", ["email.send", "users.revoke_sessions", "pipelines.enable", "storage.head_object"]
)
def test_signed_envelopes_and_payloads_validate(schema_dir: Path, operation: str) -> None:
    envelope = signed_envelope(operation, context=make_context(correlation_id="corr-1"))
    assert list(validator(schema_dir, "envelope").iter_errors(envelope)) == []
    assert list(validator(schema_dir, "context").iter_errors(envelope["context"])) == []
    payload_schema = validator(schema_dir, f"payload.{operation}")
    assert list(payload_schema.iter_errors(envelope["payload"])) == []


def test_every_sample_payload_validates_against_its_schema(schema_dir: Path) -> None:
    for operation, payload in VALID_PAYLOADS.items():
        errors = list(validator(schema_dir, f"payload.{operation}").iter_errors(payload))
        assert errors == [], operation


def test_invalid_documents_fail(schema_dir: Path) -> None:
    envelope = signed_envelope("email.send")
    envelope_schema = validator(schema_dir, "envelope")
    assert not envelope_schema.is_valid({**envelope, "signature": "ABC"})
    assert not envelope_schema.is_valid({**envelope, "extra": 1})
    assert not envelope_schema.is_valid({k: v for k, v in envelope.items() if k != "key_id"})
    send = validator(schema_dir, "payload.email.send")
    bad_payloads = [
        {**envelope["payload"], "to": ["not-an-address"]},
        {**envelope["payload"], "subject": "a\r\nBcc: x@example.com"},
        {**envelope["payload"], "to": ["a@example.com"] * 51},
        {**envelope["payload"], "unknown": True},
    ]
    for payload in bad_payloads:
        assert not send.is_valid(payload), payload
    link = validator(schema_dir, "payload.storage.create_release_link")
    assert not link.is_valid({**VALID_PAYLOADS["storage.create_release_link"], "ttl_seconds": 1.5})


def test_error_schema_validates_the_json_form_of_an_error(schema_dir: Path) -> None:
    error = PluginServiceError.rate_limit("too_many", "slow down", retry_after_ms=1500)
    schema = validator(schema_dir, "error")
    assert schema.is_valid(json.loads(error.to_json()))
    assert not schema.is_valid({**error.to_dict(), "kind": "OOPS"})


def test_printing_without_out_gives_every_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert "payload.users.assign_role" in json.loads(result.output)
