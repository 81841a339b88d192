"""Plugin identity: plugins, capabilities, grants and signing keys.

* ``tables``: the registry's tables (migration ``0002_registry``);
* ``admin``: operator changes, each audited in the same transaction
  (``capgate plugins``); ``views`` and ``report``: what ``list``/``show`` print;
* ``definitions``: definition creation, refused when a scope is not granted;
* ``authenticate`` and ``authorize``: the worker's two checks, with no Celery;
* ``lookups`` (ports, records, an in-memory fake) and ``reader`` (the
  database, behind a short cache); ``sealing``: key secrets at rest;
  ``rates``: ``N/second|minute|hour``.
"""
