"""Waking the paging engine early, without the broker (an optimisation, never needed).

Every engine finds due work in the database on its own every loop (at most
PAGING_ENGINE_INTERVAL_MS apart), so a lost wake-up costs one interval at most. A
wake-up only shortens that wait for new work (a page just triggered):
1. PostgreSQL: `NOTIFY` inside the caller's transaction. PostgreSQL delivers it to
   every listening engine when, and only if, the transaction commits; no broker, no
   on-commit hook, nothing sent for a rollback.
2. Engines running in this very process (tests, a thread beside a shell): a
   threading.Event set after commit.
SQLite has no NOTIFY: engines in other processes poll.
"""

import threading

from django.db import connection, transaction

CHANNEL = "mindweave_paging"

_local_events: set[threading.Event] = set()
_lock = threading.Lock()


def ring():
    """Wake every engine once the current transaction commits (at once outside one)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {CHANNEL}")
    if _local_events:
        transaction.on_commit(_ring_local)


def _ring_local():
    with _lock:
        events = list(_local_events)
    for event in events:
        event.set()


def listen_here(event):
    """Set `event` on every ring() in this process (an engine's own wake-up event)."""
    with _lock:
        _local_events.add(event)


def stop_listening_here(event):
    with _lock:
        _local_events.discard(event)
