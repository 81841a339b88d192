"""capgate's Celery app without task events and the STARTED state, to measure what they cost.

``celery -A benchmarks.capgate_lean_app worker`` runs the same pipeline, the
same guarantees (late acknowledgement after the audit commit, every check)
and stores the same results; it only leaves out what Flower and the
``STARTED`` state need: an event per task state sent to Redis, and a result
write before the task runs. The benchmark's ``capgate_lean`` system.
"""

from __future__ import annotations

from capgate.settings import load_settings
from capgate.workers.celery_app import create_app

app = create_app(load_settings())
app.conf.update(worker_send_task_events=False, task_send_sent_event=False, task_track_started=False)
