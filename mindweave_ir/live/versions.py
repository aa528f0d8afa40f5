"""Bumping and reading topic versions, and the one way a live URL answers.

A version changes only once the data it announces is committed (`on_commit`), so a
poll that sees the new version always renders the new data. A topic is a string both
sides know without importing each other: `incident:<pk>` is also the `source` the
incidents app gives its pages, so oncall bumps the incident a page is about from the
page alone. Every bump also bumps DASHBOARD, the topic the dashboard watches.
"""

import hashlib

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from .models import LiveTopic

DASHBOARD = "incidents"
# Names shown on many pages and edited apart from them (people, services,
# integrations): fragments that show them are keyed by this too.
NAMES = "names"
# How long a fragment cached under a version is kept (issue 19): a version that moved
# on is never read again, so this only bounds the memory a quiet one holds.
FRAGMENT_SECONDS = 600


def incident_key(pk):
    return f"incident:{pk}"


def bump(*keys):
    """Advance the topics `keys` (and DASHBOARD) once the current transaction commits
    (at once outside a transaction). Empty keys are ignored.

    A service that bumps many times (locking the incident, writing two entries, a
    page event) advances each topic once: bumps at the same transaction level gather
    in one pending callback while it is still queued. A savepoint gets its own, so a
    rolled-back savepoint takes only its own bumps with it."""
    topics = {k for k in keys if k} | {DASHBOARD}
    connection = transaction.get_connection()
    pending = getattr(connection, "live_pending", None)
    if (connection.in_atomic_block and pending is not None and not pending.done
            and pending.level == connection.savepoint_ids
            and any(queued[1] is pending for queued in connection.run_on_commit)):
        pending.topics |= topics
        return
    pending = _Pending(topics, list(connection.savepoint_ids))
    connection.live_pending = pending if connection.in_atomic_block else None
    transaction.on_commit(pending, robust=True)


class _Pending:
    """The topics one transaction changed, advanced when it commits."""

    def __init__(self, topics, level):
        self.topics = topics
        self.level = level  # the savepoints it was queued under
        self.done = False

    def __call__(self):
        self.done = True
        _advance(self.topics)

    def __repr__(self):  # named in the log if advancing fails (robust on_commit)
        return f"live topics {sorted(self.topics)}"


def _advance(topics):
    """One UPDATE for the topics that exist; rows created for those that do not (a
    racing creator wins, and the topic changed from 0 either way)."""
    now = timezone.now()
    changed = LiveTopic.objects.filter(key__in=topics).update(
        version=F("version") + 1, changed_at=now)
    if changed < len(topics):
        LiveTopic.objects.bulk_create(
            [LiveTopic(key=key, version=1, changed_at=now) for key in topics],
            ignore_conflicts=True)


def cached(parts, render, seconds=FRAGMENT_SECONDS):
    """`render()`'s HTML, kept under `parts` for FRAGMENT_SECONDS (issue 19).

    `parts` must hold the version(s) of everything the HTML shows, read before any of
    it (so a write committed meanwhile can only make the HTML newer than its key),
    and whatever else it varies by (the viewer's zone, role, the query string).
    `seconds` shorter than FRAGMENT_SECONDS bounds what depends on the time too."""
    key = "frag:" + hashlib.sha256(repr(parts).encode()).hexdigest()
    html = cache.get(key)
    if html is None:
        html = render()
        cache.set(key, html, seconds)
    return html


def version(key):
    """The topic's current version (0 if it never changed)."""
    return LiveTopic.objects.filter(key=key).values_list("version", flat=True).first() or 0


def versions(*keys):
    """{key: version} for `keys`, in one query (0 for a topic that never changed)."""
    found = dict(LiveTopic.objects.filter(key__in=keys).values_list("key", "version"))
    return {key: found.get(key, 0) for key in keys}


def unchanged(request, current):
    """True if the client's `?v=` is `current`: answer 204 without rendering. A
    missing or malformed `v` counts as changed."""
    return request.GET.get("v", "") == str(current)


def no_change():
    return HttpResponse(status=204)


def changed(sections, current):
    """The sections (rendered templates), wrapped with the version they show: the
    client swaps each top-level element by id and polls with `data-live-version` next."""
    body = format_html_join("", "{}", ((section,) for section in sections))
    return HttpResponse(format_html('<div data-live-version="{}">{}</div>', current, body))
