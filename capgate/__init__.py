"""capgate: guarded, audited access to core capabilities for plugin runtimes.

Importing this package imports nothing but the standard library, so that
``capgate.contracts`` stays importable with pydantic as its only dependency.
"""

__version__ = "0.1.0"
