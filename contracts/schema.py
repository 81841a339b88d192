"""JSON Schema export of the wire models, for plugins in other languages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from capgate.contracts.context import PluginServiceContext
from capgate.contracts.envelope import CommandEnvelope
from capgate.contracts.errors import ErrorModel

__all__ = ["json_schemas"]


def _models() -> dict[str, type[BaseModel]]:
    return {
        "envelope": CommandEnvelope,
        "context": PluginServiceContext,
        "error": ErrorModel,
    }


def json_schemas() -> dict[str, dict[str, Any]]:
    """Map a file stem (``envelope``, ``context``, ...) to its JSON Schema."""
    return {name: model.model_json_schema(mode="validation") for name, model in _models().items()}
