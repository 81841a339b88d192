"""JSON Schema (Draft 2020-12) export of the wire models, for plugins in other languages.

File stems: ``envelope``, ``context``, ``error``, ``options``, then
``payload.<operation>`` for every operation and ``result.<operation>`` for
those that return something (``payload.email.send``, ``result.email.send``).
Each document is self-contained (its own ``$defs``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from capgate.contracts.catalog import CATALOG
from capgate.contracts.context import PluginServiceContext
from capgate.contracts.envelope import CommandEnvelope
from capgate.contracts.errors import ErrorModel
from capgate.contracts.options import OperationOptions

__all__ = ["DIALECT", "json_schemas", "schema_models"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_models() -> dict[str, type[BaseModel]]:
    """Map each file stem to the model it describes."""
    models: dict[str, type[BaseModel]] = {
        "envelope": CommandEnvelope,
        "context": PluginServiceContext,
        "error": ErrorModel,
        "options": OperationOptions,
    }
    for name, spec in CATALOG.items():
        models[f"payload.{name}"] = spec.payload
        if spec.result is not None:
            models[f"result.{name}"] = spec.result
    return models


def json_schemas() -> dict[str, dict[str, Any]]:
    """Map a file stem (``envelope``, ``payload.email.send``, ...) to its JSON Schema."""
    documents: dict[str, dict[str, Any]] = {}
    for name, model in schema_models().items():
        document = model.model_json_schema(mode="validation")
        documents[name] = {"$schema": DIALECT, **document}
    return documents
