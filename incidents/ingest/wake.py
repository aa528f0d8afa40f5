"""The drain wake flag (receive.py's rule 2): one key per integration in the cache,
set while a drain task is on its way to read what is pending, so that requests can
answer "queued" without trying the integration's lock, and one task is sent at a time.

The protocol, on a cache every process shares (Redis):
- A request whose committed body finds the flag set answers "queued": whoever clears
  the flag reads what is pending afterwards (a drain task before its last read, a
  request's drain once it holds the lock), so that body is read.
- A request that finds it unset claims it (claim) and tries the lock: it gives the
  flag back once it holds it (give_back), or, finding it taken, sends the task the
  flag announces (wake).
- A drain task that has read bodies and will read again holds the flag (hold, value
  DRAINING). A process that saw it held trusts that task for TRUST (trusted) and
  answers "queued" without asking the cache: the task gives the flag back and then
  waits TRUST before its last read (wait_out_trust).
The flag only saves work: if the broker lost the task (or the cache is per process,
as when embedded), the flag expires after WAKE_TTL and the beat (drain_stale) finds
the bodies anyway.
"""

import logging
import time

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.locmem import LocMemCache

from mindweave_ir.queue import enqueue_on_commit, send

log = logging.getLogger(__name__)

WAKE_TTL = 10  # seconds: at most one drain task enqueued per integration meanwhile
DRAINING = "draining"  # the flag's value while a drain task holds it
TRUST = 0.2  # seconds a web process trusts a drain task it saw hold the flag
MARGIN = 0.025  # seconds a task waits beyond TRUST before its last read
TASK = "incidents.tasks.drain_inbound"


def key(integration_id):
    return f"ingest:drain-enqueued:{integration_id}"


def shared():
    """Whether the flag is seen by every process (Redis), so a request may rely on a
    flag another process set; a per-process cache (embedded) only saves sending a
    second task."""
    return not isinstance(caches[DEFAULT_CACHE_ALIAS], LocMemCache)


def enqueue_drain(integration_id):
    """Wake a worker to drain the integration once this transaction commits, unless a
    wake-up is already on its way (the flag set): one task at a time, not one per
    request."""
    enqueue_on_commit(TASK, integration_id, once_within=(key(integration_id), WAKE_TTL))


def claim(integration_id):
    """Set the flag if it is not set: True if this caller set it (and must now drain or
    send the task), False if a wake-up is already on its way. A cache that fails
    counts as no flag: the caller tries the lock, as without the flag."""
    try:
        return bool(cache.add(key(integration_id), 1, timeout=WAKE_TTL))
    except Exception:  # noqa: BLE001 - the flag only saves work
        log.warning("the drain wake flag could not be read; trying the lock")
        return True


def hold(integration_id):
    """Set the flag, whoever set it, to say a drain task holds it: one that will read
    again, and a last time TRUST after it gives the flag back."""
    try:
        cache.set(key(integration_id), DRAINING, timeout=WAKE_TTL)
    except Exception:  # noqa: BLE001 - the flag only saves work
        log.warning("the drain wake flag could not be set")


# Integration id -> monotonic time until which this process answers "queued" without
# asking the cache: a drain task held the flag when it was last read (seen).
_trusted = {}


def trusted(integration_id):
    return _trusted.get(integration_id, 0.0) > time.monotonic()


def forget_trusted():
    """Trust no drain task seen so far (the cache was emptied: tests)."""
    _trusted.clear()


def seen(integration_id):
    """Whether the flag is set; if a drain task holds it, trust that task for TRUST
    from before the flag was read (so from before the task can have given it back).
    A cache that fails counts as no flag (the caller goes on to claim it)."""
    asked = time.monotonic()
    try:
        flag = cache.get(key(integration_id))
    except Exception:  # noqa: BLE001 - the flag only saves work
        return False
    if flag == DRAINING:
        _trusted[integration_id] = asked + TRUST
    return flag is not None


def give_back(integration_id):
    try:
        cache.delete(key(integration_id))
    except Exception:  # noqa: BLE001 - it expires after WAKE_TTL; the beat drains meanwhile
        log.warning("the drain wake flag could not be cleared")


def wait_out_trust():
    """A task that held the flag and gave it back: wait until no process trusts it."""
    if shared():
        time.sleep(TRUST + MARGIN)


def wake(integration_id):
    """Send the drain task the flag this caller set announces; if it cannot be sent,
    clear the flag, so the next request tries the lock itself (the beat finds the
    bodies meanwhile)."""
    if not send(TASK, integration_id):
        give_back(integration_id)
