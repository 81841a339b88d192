"""The shared language of plugins and workers.

Depends on pydantic only: a plugin runtime imports ``capgate.contracts``
without pulling in Celery, SQLAlchemy or Redis.
"""

from capgate.contracts.context import ExecutionKind, PluginServiceContext
from capgate.contracts.errors import ErrorKind, PluginServiceError
from capgate.contracts.scopes import PluginServiceScope

__all__ = [
    "ErrorKind",
    "ExecutionKind",
    "PluginServiceContext",
    "PluginServiceError",
    "PluginServiceScope",
]
