"""Concurrent writers on PostgreSQL (DESIGN.md, reliability rules).

Real threads, each with its own database connection, released together by a
Barrier so their transactions overlap. SQLite serialises whole-database writes, so
these only say something on PostgreSQL; the conftest skips them elsewhere.
`serialized_rollback` restores the role groups (made by a data migration) in case
an earlier transactional test flushed them.
"""

import threading
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection

from incidents import services
from incidents.models import Incident, IncidentSequence, TimelineEntry, TimelineKind
from incidents.services import ConflictError
from tests.incidents.factories import declare, note

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

THREADS = 8
ROUNDS = 10
NOW = datetime(2025, 6, 2, 14, 0, tzinfo=UTC)



@pytest.fixture(autouse=True)
def clock():
    # tick=True: time moves on, from a fixed date, in every thread.
    with time_machine.travel(NOW, tick=True):
        yield


def run_at_once(calls):
    """Run each zero-argument callable in its own thread, all released together.

    Returns (results, errors), one slot per call. Every thread closes its own
    database connection, or the test database could not be dropped afterwards.
    """
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)
    errors = [None] * len(calls)

    def work(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:
            errors[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return results, errors


def test_concurrent_declarations_get_distinct_refs_without_gaps(responder, ic, manager):
    declarers = [responder, ic, manager]
    calls = [
        (lambda i=i: declare(declarers[i % 3], title=f"Outage in region {i}").ref)
        for i in range(THREADS)
    ]

    refs, errors = run_at_once(calls)

    assert errors == [None] * THREADS
    assert sorted(refs) == [f"INC-2025-{n:04d}" for n in range(1, THREADS + 1)]
    assert IncidentSequence.objects.get(year=2025).last == THREADS
    assert Incident.objects.count() == THREADS
    assert TimelineEntry.objects.filter(kind=TimelineKind.DECLARED).count() == THREADS


def test_concurrent_declarations_with_one_title_get_distinct_channels(responder, ic):
    calls = [(lambda: declare(ic, title="Login outage").channel_name)] * THREADS

    channels, errors = run_at_once(calls)

    assert errors == [None] * THREADS
    assert len(set(channels)) == THREADS
    assert "#inc-20250602-login-outage" in channels


def race_edits(incident, editors, round_no):
    """Editors all save one entry they each read at version 1; returns what they got."""
    entry = note(incident, editors[0], body=f"Restarted the pods ({round_no}).")
    # Each editor read the entry at version 1 before anyone saved.
    copies = [TimelineEntry.objects.select_related("incident").get(pk=entry.pk)
              for _ in editors]
    calls = [
        (lambda i=i, user=user, copy=copy: services.edit_timeline_entry(
            copy, body=f"Edit {i} by {user.username}.", expected_version=1, by=user))
        for i, (user, copy) in enumerate(zip(editors, copies, strict=True))
    ]
    results, errors = run_at_once(calls)
    entry.refresh_from_db()
    return entry, results, errors


def assert_exactly_one_won(entry, results, errors, original):
    winners = [r for r in results if r is not None]
    conflicts = [e for e in errors if isinstance(e, ConflictError)]
    assert len(winners) == 1, errors
    assert len(conflicts) == len(results) - 1, errors
    assert all(c.current.version == 2 for c in conflicts)
    assert all(c.current.body == winners[0].body for c in conflicts)
    assert entry.body == winners[0].body
    assert entry.version == 2
    assert [(r.version, r.body) for r in entry.revisions.all()] == [(1, original)]


def test_concurrent_edits_with_same_version_let_exactly_one_win(ic, manager):
    # Several rounds, so that at least some of them really overlap in the database.
    incident = declare(ic)
    for round_no in range(ROUNDS):
        entry, results, errors = race_edits(incident, [ic, manager], round_no)

        assert_exactly_one_won(entry, results, errors, f"Restarted the pods ({round_no}).")


def test_eight_concurrent_edits_let_exactly_one_win(ic, manager):
    incident = declare(ic)

    entry, results, errors = race_edits(incident, [ic, manager] * 4, 0)

    assert_exactly_one_won(entry, results, errors, "Restarted the pods (0).")
