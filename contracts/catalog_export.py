"""The service catalog in machine form, for plugins and clients in other languages.

``capgate schema --out DIR`` writes it as ``catalog.json`` beside the JSON
Schema files; the Node.js client's ``src/catalog.ts`` is generated from it
(``clients/node/scripts/gen-catalog.mjs``), and its tests fail when the two
drift apart.
"""

from __future__ import annotations

from typing import Any

from capgate.contracts.catalog import CATALOG

__all__ = ["CATALOG_FORMAT", "catalog_document"]

CATALOG_FORMAT = 1


def catalog_document() -> dict[str, Any]:
    """Every operation: task name, queue, required scopes, payload and result schema stems."""
    operations = [
        {
            "operation": spec.name,
            "task_name": spec.task_name,
            "queue": spec.queue,
            "service_key": spec.service_key.value,
            "scopes": sorted(scope.value for scope in spec.scopes),
            "payload_schema": f"payload.{spec.name}",
            "result_schema": None if spec.result is None else f"result.{spec.name}",
            "description": spec.description,
        }
        for spec in sorted(CATALOG.values(), key=lambda spec: spec.name)
    ]
    return {"format_version": CATALOG_FORMAT, "operations": operations}
