"""What every incidents service shares: its refusals, the permission check, the row
lock, and writing a timeline entry."""

import functools

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from mindweave_ir.errors import Conflict, Refused
from mindweave_ir.inputs import BAD_TEXT_MESSAGE, has_bad_characters
from mindweave_ir.live import versions as live
from mindweave_ir.markup import render_markdown
from mindweave_ir.templatetags.mw import display_name

from .. import permissions
from ..models import Incident, TimelineEntry
from ..slack import outbox as slack_outbox


class IncidentError(Refused):
    """A request the rules refuse (illegal transition, missing reason ...)."""


class ConflictError(IncidentError, Conflict):
    """Someone else changed the object since the caller read it (`current`)."""


# A person as the timeline names them.
name = functools.partial(display_name, missing="nobody")


def require(allowed, message):
    """Refuse (PermissionDenied) unless `allowed`."""
    if not allowed:
        raise PermissionDenied(message)


def refuse_bad_text(*texts):
    """IncidentError if any text holds NUL or a lone surrogate (no database column takes
    them); called inside the service's transaction, so nothing is left half-done."""
    if any(has_bad_characters(text) for text in texts):
        raise IncidentError(BAD_TEXT_MESSAGE)


def write_entry(incident, kind, body, *, by, occurred_at=None):
    """A timeline entry (Markdown, rendered and sanitised once, here); the incident's
    live version moves on commit, and its Slack channel (if any) is told."""
    refuse_bad_text(body)
    changed(incident)
    now = timezone.now()
    entry = TimelineEntry.objects.create(
        incident=incident, kind=kind, body=body, body_html=render_markdown(body),
        author=by, occurred_at=occurred_at or now, created_at=now,
    )
    slack_outbox.entry_written(incident, entry)  # the incident's Slack channel says it too
    return entry


def lock(incident):
    """Re-read the incident under a row lock so concurrent writers queue up. Every
    service that locks an incident changes it, so its live version moves on commit."""
    changed(incident)
    return Incident.objects.select_for_update().get(pk=incident.pk)


def changed(incident):
    """Tell the incident's watchers (its page, the dashboard) once this commits."""
    live.bump(live.incident_key(incident.pk))


def require_edit(incident, by):
    """Check against a fresh, locked read: roles may have changed since the caller's."""
    require(permissions.can_edit(by, lock(incident)),
             "Only people working on this incident may change its timeline and checklists.")
