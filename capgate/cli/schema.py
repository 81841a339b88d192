"""``capgate schema``: export JSON Schema for every wire model."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["schema"]


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=(
        "Write one <name>.schema.json per model into this folder: envelope, context, error, "
        "options, payload.<operation>, result.<operation>, and catalog.json, the service "
        "catalog (default: print the schemas as one JSON object)."
    ),
)
def schema(out: Path | None) -> None:
    """Export JSON Schema (Draft 2020-12) for the envelope, context, payloads and errors.

    Plugins in other languages validate their commands with these files; see
    docs/wire-format.md for the message format and signing.
    """
    from capgate.contracts.catalog_export import catalog_document
    from capgate.contracts.schema import json_schemas

    schemas = json_schemas()
    if out is None:
        click.echo(json.dumps(schemas, indent=2, sort_keys=True))
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, document in sorted(schemas.items()):
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        click.echo(f"wrote {path}")
    catalog_path = out / "catalog.json"
    catalog_path.write_text(json.dumps(catalog_document(), indent=2) + "\n", encoding="utf-8")
    click.echo(f"wrote {catalog_path}")
