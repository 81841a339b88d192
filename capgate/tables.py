"""Imports every module that defines tables, so ``Base.metadata`` is complete.

Alembic's environment and the test fixtures import this; add a line here
when a new module defines tables.
"""

import capgate.adapters.tables
import capgate.audit.schema
import capgate.registry.tables
import capgate.workers.deliveries
import capgate.workers.tables  # noqa: F401
from capgate.database import Base

__all__ = ["Base"]
