"""The Celery app, task routing, the execution pipeline, retry policy and dead letters."""
