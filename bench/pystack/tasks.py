"""The Celery side of the seed article's service (bench/pystack).

The seed runs `process_heavy_task` on Celery with Redis as broker (db 0) and
result backend (db 1). This module is that Celery app, plus `instant`, the
task of the leases benchmark (bench/leases.py): no work at all, so that what
is measured is Celery's own cost per task (publish, deliver, run, store the
result, fetch it).

Configuration comes from the environment so that the benchmark can start its
own Redis on a port of its own:
  PYSTACK_REDIS        redis://127.0.0.1:6379 (no db number)
  PYSTACK_DELAY_SCALE  1.0: multiplies the seed's simulated delays (like
                       actorq's seed.delay-scale)
  PYSTACK_PREFETCH     4: worker_prefetch_multiplier (Celery's default; the
                       docs advise a higher one for many short tasks)

Run a worker:  celery -A tasks worker --pool=prefork --concurrency=N
(from this directory, with Debian's python3: python3-celery, python3-redis).
"""
import os
import time

from celery import Celery

REDIS = os.environ.get("PYSTACK_REDIS", "redis://127.0.0.1:6379").rstrip("/")
SCALE = float(os.environ.get("PYSTACK_DELAY_SCALE", "1.0"))

celery_app = Celery("tasks", broker=f"{REDIS}/0", backend=f"{REDIS}/1")
celery_app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=int(os.environ.get("PYSTACK_PREFETCH", "4")),
    broker_connection_retry_on_startup=True,
    # Nothing the seed does not use: no task events, no "started" state.
    worker_send_task_events=False,
    task_track_started=False,
)
app = celery_app  # what `celery -A tasks` looks for


@celery_app.task
def process_heavy_task(data: dict):
    """The seed's heavy task: 5 s of (simulated) work."""
    time.sleep(5 * SCALE)
    return {"result": data["value"] * 2}


@celery_app.task
def instant(data: dict):
    """The leases benchmark's task: the result at once."""
    return {"result": data["value"] * 2}

