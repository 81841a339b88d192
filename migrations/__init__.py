"""Alembic migrations for every capgate table (run with ``capgate db upgrade``)."""
