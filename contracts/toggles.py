"""The payload of every resource toggle (``<service>.enable`` / ``<service>.disable``).

Bundles, bundle assignments, recipients, action definitions, trigger
definitions and pipelines are all switched on and off the same way: by id,
with the audit options.
"""

from __future__ import annotations

from capgate.contracts.options import OperationPayload
from capgate.contracts.types import Identifier

__all__ = ["ToggleResource"]


class ToggleResource(OperationPayload):
    """Enable or disable one resource; the operation name says which and what kind."""

    resource_id: Identifier
