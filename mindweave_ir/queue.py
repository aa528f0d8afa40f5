"""The one way to wake a Celery worker: after the transaction commits, never raising.

The database is the source of truth and the broker only carries wake-ups (DESIGN.md,
reliability rules), so:
1. A task is sent only once the surrounding transaction commits: a worker never
   looks for rows that may still roll back, and a rollback sends nothing.
2. A broker that is down is logged, not raised: the work is in the database and
   each engine's beat tick finds it (a lost wake-up delays it by one tick at most).

Engines name the task (`"oncall.tasks.run_page"`) instead of importing it: a tasks
module imports its engine, so an engine importing its tasks back would be a circle.
"""

import logging

from django.core.cache import cache
from django.db import transaction

from .celery import app

log = logging.getLogger(__name__)


def enqueue_on_commit(task, *args, once_within=None, **kwargs):
    """Send `task` (a registered task's name, or the task) with these arguments once the
    current transaction commits; at once when there is none.

    `once_within=(key, seconds)` sends nothing if a wake-up with the same cache key was
    sent less than `seconds` ago and not yet taken (the task deletes the key, then
    reads its work): under a storm, one task at a time instead of one per request. The key
    only saves work; if the cache forgets it, a second wake-up is sent, no more.
    """
    transaction.on_commit(lambda: send(task, *args, once_within=once_within, **kwargs))


def send(task, *args, once_within=None, **kwargs):
    """Send `task` now; True if it was sent. A broker (or cache) error is logged and
    swallowed (see above)."""
    name = task if isinstance(task, str) else task.name
    try:
        if once_within is not None:
            key, seconds = once_within
            if not cache.add(key, 1, timeout=seconds):
                return False
        if isinstance(task, str):
            app.send_task(task, args=args, kwargs=kwargs)
        else:
            task.apply_async(args, kwargs)
    except Exception:  # noqa: BLE001 - the beat finds the work in the database
        log.warning("could not enqueue %s%r; the beat tick will pick it up", name, args)
        return False
    return True
