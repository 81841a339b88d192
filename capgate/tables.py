"""Imports every module that defines tables, so ``Base.metadata`` is complete.

Alembic's environment and the test fixtures import this; add a line here
when a new module defines tables.
"""

from capgate.database import Base

__all__ = ["Base"]
