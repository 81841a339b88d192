"""The service catalog: every operation, its service, models and required scopes.

Answerable without the worker: a plugin, the registry and the CLI import
this module with pydantic as the only dependency. The Celery task of an
operation is ``capgate.<operation>`` and it runs on the queue
``capgate.<service_key>``, so operators can scale each service apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from pydantic import BaseModel, ValidationError

from capgate.contracts.errors import PluginServiceError
from capgate.contracts.scopes import PluginServiceScope
from capgate.contracts.services import SERVICES, ServiceKey

__all__ = [
    "CATALOG",
    "SERVICE_DESCRIPTIONS",
    "OperationSpec",
    "ServiceKey",
    "get_operation",
    "operations_for",
    "queue_for",
    "required_scopes",
    "task_name",
    "validate_payload",
]


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """What the catalog knows about one operation."""

    name: str
    service_key: ServiceKey
    payload: type[BaseModel]
    result: type[BaseModel] | None
    scopes: frozenset[PluginServiceScope]
    description: str

    @property
    def task_name(self) -> str:
        """The Celery task name, ``capgate.<operation>``."""
        return f"capgate.{self.name}"

    @property
    def queue(self) -> str:
        """The Celery queue, ``capgate.<service_key>``."""
        return f"capgate.{self.service_key.value}"


def _build() -> tuple[dict[str, OperationSpec], dict[ServiceKey, str]]:
    specs: dict[str, OperationSpec] = {}
    descriptions: dict[ServiceKey, str] = {}
    for service_key, service in SERVICES.items():
        descriptions[service_key] = service.description
        for op in service.operations:
            specs[op.name] = OperationSpec(
                name=op.name,
                service_key=service_key,
                payload=op.payload,
                result=op.result,
                scopes=service.scopes,
                description=op.description,
            )
    return specs, descriptions


_SPECS, _DESCRIPTIONS = _build()
CATALOG: Mapping[str, OperationSpec] = MappingProxyType(_SPECS)
"""Operation name (``email.send``) -> its spec."""
SERVICE_DESCRIPTIONS: Mapping[ServiceKey, str] = MappingProxyType(_DESCRIPTIONS)
"""Service key -> what the service does, in one sentence."""


def get_operation(name: str) -> OperationSpec:
    """The spec of ``name``; a VALIDATION error ``unknown_operation`` if there is none."""
    spec = CATALOG.get(name)
    if spec is None:
        raise PluginServiceError.validation(
            "unknown_operation",
            f"unknown operation {name[:80]!r}",
            details={"known": sorted(CATALOG)},
        )
    return spec


def operations_for(service_key: ServiceKey | str) -> list[OperationSpec]:
    """Every operation of one service, in catalog order."""
    key = ServiceKey(service_key)
    return [spec for spec in CATALOG.values() if spec.service_key is key]


def required_scopes(operation: str) -> frozenset[PluginServiceScope]:
    """The scopes a capability must hold to run ``operation``."""
    return get_operation(operation).scopes


def queue_for(operation: str) -> str:
    """The Celery queue of ``operation``: ``capgate.<service_key>``."""
    return get_operation(operation).queue


def task_name(operation: str) -> str:
    """The Celery task name of ``operation``: ``capgate.<operation>``."""
    return get_operation(operation).task_name


def validate_payload(operation: str, data: object) -> BaseModel:
    """Validate ``data`` as the payload of ``operation``.

    Raises a VALIDATION error ``invalid_payload`` whose message and details
    name each bad field. The offending values are left out: they may be
    secrets (a provider password) or message bodies.
    """
    spec = get_operation(operation)
    try:
        return spec.payload.model_validate(data)
    except ValidationError as exc:
        problems = [
            {
                "field": ".".join(str(part) for part in error["loc"]) or "$",
                "problem": error["msg"].removeprefix("Value error, "),
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        summary = "; ".join(f"{item['field']}: {item['problem']}" for item in problems[:5])
        raise PluginServiceError.validation(
            "invalid_payload",
            f"invalid {operation} payload: {summary}"[:2000],
            details={"errors": problems[:50]},
        ) from None
