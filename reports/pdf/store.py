"""Reviews' PDFs stored by what they show: an unchanged review downloads without a
render, a changed one is rendered in the background, a stale one is never served
(issue 19 item 3; DESIGN.md "PIR PDF").

1. `fingerprint(pir)` hashes everything the PDF shows, read cheaply (the review and
   incident rows already loaded, plus three small queries): the review's own fields
   (its `version` rises with every change of its whys, factors, key entries, action
   items — status included, after approval too — and prevention measures: every
   write goes through reports.services.pir, which bumps it), the incident's fields
   (hashed directly, not its `updated_at`: some incident writes are `UPDATE`s that
   leave `updated_at` alone), the timeline's count, last id and sum of versions (an
   edit or a delete raises an entry's version), the names of everyone shown, the
   services' names, the duration as printed (it runs on while the incident is open)
   and the templates and code that render it.
2. `pdf_for(pir)` serves the stored bytes when their fingerprint is the current one,
   else renders now (as before the store existed), stores and serves: a download never
   returns an older PDF, at worst it waits for a render.
3. `schedule_render(pir_id)` (called by the review's services after each change)
   renders in a worker once the change commits, so the next download is a stored one.
   Incident changes are not scheduled (incidents never imports reports); step 2 is
   their safety net.

The fingerprint is taken before the render reads anything, so a change committed
during a render leaves the stored row with the older fingerprint: the next download
renders again rather than serving it.
"""

import hashlib
import logging
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from incidents.models import TimelineEntry
from mindweave_ir.queue import enqueue_on_commit

from ..incident_report import hhmm
from ..models import ActionItem, PostIncidentReview, ReviewPDF
from . import TEMPLATE, PDFUnavailable, render_pir_pdf

log = logging.getLogger(__name__)

TASK = "reports.tasks.render_review_pdf"
# Seconds a wake-up flag lives unless the task takes it first (schedule_render). Short:
# with a per-process cache (the embedded setup, no Redis) the worker cannot take the
# web process's flag, and an edit inside the window is then rendered by its download.
WAKE_TTL = 5

# Fields that change without changing the PDF (a reminder sent, a breach noted, the
# timestamp of the row): left out so they do not force a render.
PIR_UNSHOWN = {"reminded_on"}
INCIDENT_UNSHOWN = {"updated_at", "response_breach_noted_at", "resolution_breach_noted_at"}

# What renders the PDF: a deploy that changes one of them changes every fingerprint.
_SOURCES = (Path(settings.BASE_DIR) / "templates" / TEMPLATE,
            Path(settings.BASE_DIR) / "static" / "css" / "print.css",
            Path(__file__).with_name("__init__.py"))
_CODE = hashlib.sha256(b"".join(path.read_bytes() for path in _SOURCES)).hexdigest()


def _row(obj, unshown):
    return [(f.attname, getattr(obj, f.attname)) for f in obj._meta.concrete_fields
            if f.attname not in unshown]


def fingerprint(pir, *, now=None):
    """A hex digest that changes whenever the review's PDF would (step 1 above)."""
    incident = pir.incident
    timeline = TimelineEntry.objects.filter(incident_id=incident.pk).aggregate(
        count=Count("id"), last=Max("id"), versions=Sum("version"))
    shown_ids = [pk for pk in (incident.commander_id, pir.approved_by_id) if pk]
    people = list(get_user_model().objects.filter(
        Q(pk__in=shown_ids)
        | Q(pk__in=ActionItem.objects.filter(pir_id=pir.pk).values("owner_id"))
        | Q(pk__in=TimelineEntry.objects.filter(incident_id=incident.pk).values("author_id")),
    ).order_by("pk").values_list("pk", "username", "first_name", "last_name"))
    services = list(incident.services.order_by("pk").values_list("name", flat=True))
    shown = (_CODE, _row(pir, PIR_UNSHOWN), _row(incident, INCIDENT_UNSHOWN),
             sorted(timeline.items()), people, services, hhmm(incident.duration(now)))
    return hashlib.sha256(repr(shown).encode()).hexdigest()


def stored_pdf(pir, key):
    """The stored bytes if they were rendered for fingerprint `key`, else None."""
    content = ReviewPDF.objects.filter(pir_id=pir.pk, fingerprint=key) \
        .values_list("content", flat=True).first()
    return None if content is None else bytes(content)


def render_and_store(pir, key=None):
    """Render the review now, keep it as its latest PDF, return the bytes.

    `key`: the fingerprint taken before the review was read (taken here if not given).
    """
    key = key or fingerprint(pir)
    content = render_pir_pdf(pir)
    fields = {"fingerprint": key, "content": content, "rendered_at": timezone.now()}
    # An UPDATE, else an INSERT that yields to a concurrent one: no lock, no savepoint
    # (two renders of one review store the same thing, or the older fingerprint, which
    # the next download then renders past).
    if not ReviewPDF.objects.filter(pir_id=pir.pk).update(**fields):
        ReviewPDF.objects.bulk_create([ReviewPDF(pir_id=pir.pk, **fields)],
                                      ignore_conflicts=True)
    return content


def pdf_for(pir):
    """The review's PDF: the stored one if current, else rendered now (step 2).

    Raises PDFUnavailable when it must render and this machine cannot.
    """
    key = fingerprint(pir)
    content = stored_pdf(pir, key)
    return content if content is not None else render_and_store(pir, key)


def _wake_key(pir_id):
    return f"reports:pir-pdf-enqueued:{pir_id}"


def schedule_render(pir_id):
    """Render the review's PDF in a worker once this transaction commits (step 3).

    One wake-up at a time per review: edits made while one is queued and not yet
    started send none (the task clears the flag before it reads the review, so it
    sees them). The flag only saves work: if it or the task is lost, the next
    download renders.
    """
    enqueue_on_commit(TASK, pir_id, once_within=(_wake_key(pir_id), WAKE_TTL))


def refresh(pir_id):
    """Task body: render and store the review's PDF unless the stored one is current.
    Safe to run twice: the second run finds the stored PDF current and renders nothing."""
    cache.delete(_wake_key(pir_id))  # before reading: see schedule_render
    pir = PostIncidentReview.objects.select_related(
        "incident", "incident__commander", "approved_by").filter(pk=pir_id).first()
    if pir is None:
        return "no such review"
    key = fingerprint(pir)
    if ReviewPDF.objects.filter(pir_id=pir_id, fingerprint=key).exists():
        return "stored PDF is current"
    try:
        render_and_store(pir, key)
    except PDFUnavailable as exc:  # this worker cannot render; downloads say so
        log.warning("could not render the PDF of review %s: %s", pir_id, exc)
        return "PDF rendering unavailable"
    return "rendered"
