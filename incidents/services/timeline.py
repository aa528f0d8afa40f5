"""The incident's timeline (§6.1): hand-written entries added, edited (a stale edit is
refused, the text before kept as a revision) and deleted (only marked); the system's
own notes about alerts and automations."""

from django.db import transaction
from django.utils import timezone

from mindweave_ir.inputs import (
    BAD_TEXT_MESSAGE,
    SOON,
    OutOfRange,
    ahead,
    check_time,
    has_bad_characters,
)
from mindweave_ir.markup import render_markdown

from ..models import (
    ENTRY_LOOKBACK,
    MANUAL_KINDS,
    MAX_ENTRY_LENGTH,
    TimelineEntry,
    TimelineKind,
    TimelineRevision,
)
from .common import ConflictError, IncidentError, name, require_edit, write_entry


def note_alert(incident, *, body, kind=TimelineKind.ALERT):
    """A system entry on the incident's timeline about one of its alerts (or what an
    automation rule did about one)."""
    return write_entry(incident, kind, body, by=None)


def _clean_entry(incident, body, kind, occurred_at):
    """The entry's text, or IncidentError: empty, too long, characters no database
    takes, a system kind, or a time outside [30 days before the start, now + 5 min]."""
    body = (body or "").strip()
    if not body:
        raise IncidentError("A timeline entry needs some text.")
    if len(body) > MAX_ENTRY_LENGTH:
        raise IncidentError(f"A timeline entry is at most {MAX_ENTRY_LENGTH:,} characters.")
    if has_bad_characters(body):
        raise IncidentError(BAD_TEXT_MESSAGE)
    if kind not in MANUAL_KINDS:
        raise IncidentError(f"{kind!r} entries are written by the system, not by hand.")
    try:
        check_time(occurred_at, earliest=incident.started_at - ENTRY_LOOKBACK,
                   latest=ahead(SOON))
    except OutOfRange as exc:
        raise IncidentError(str(exc)) from None
    return body


@transaction.atomic
def add_timeline_entry(incident, *, body, by, kind=TimelineKind.NOTE, occurred_at=None):
    require_edit(incident, by)
    body = _clean_entry(incident, body, kind, occurred_at)
    return write_entry(incident, kind, body, by=by, occurred_at=occurred_at)


def _keep_revision(entry, by):
    """Save the entry as it stands before `by` edits or deletes it."""
    TimelineRevision.objects.create(
        entry=entry, version=entry.version, body=entry.body,
        occurred_at=entry.occurred_at, kind=entry.kind, replaced_by=by,
    )


@transaction.atomic
def edit_timeline_entry(entry, *, body, expected_version, by, kind=None, occurred_at=None):
    """Edit a hand-written entry, keeping the previous text as a revision.

    The UPDATE only applies if the version is still the one the editor saw; if
    someone saved in between, nothing is written and ConflictError carries the
    entry as it now stands.
    """
    require_edit(entry.incident, by)
    if not entry.is_manual:
        raise IncidentError("System entries are part of the audit trail and cannot be edited.")
    kind = kind or entry.kind
    body = _clean_entry(entry.incident, body, kind, occurred_at)
    occurred_at = occurred_at or entry.occurred_at
    current = TimelineEntry.objects.select_for_update().get(pk=entry.pk)
    if current.deleted_at is not None:
        raise ConflictError("This entry was deleted while you were editing it.", current)
    if current.version != expected_version:
        raise ConflictError(
            f"{name(current.edited_by)} changed this entry while you were editing it. "
            "Your text was not saved; it is shown below so you can merge it.", current,
        )
    _keep_revision(current, by)
    current.body = body
    current.body_html = render_markdown(body)
    current.kind = kind
    current.occurred_at = occurred_at
    current.version += 1
    current.edited_at = timezone.now()
    current.edited_by = by
    current.save()
    return current


@transaction.atomic
def delete_timeline_entry(entry, *, expected_version, by):
    """Hide a hand-written entry; it stays in the database with who deleted it and when."""
    require_edit(entry.incident, by)
    if not entry.is_manual:
        raise IncidentError("System entries are part of the audit trail and cannot be deleted.")
    current = TimelineEntry.objects.select_for_update().get(pk=entry.pk)
    if current.deleted_at is not None:
        raise IncidentError("This entry is already deleted.")
    if current.version != expected_version:
        raise ConflictError(
            f"{name(current.edited_by)} changed this entry since you loaded it; "
            "read it again before deleting.", current,
        )
    _keep_revision(current, by)
    current.deleted_at = timezone.now()
    current.deleted_by = by
    current.version += 1
    current.save(update_fields=["deleted_at", "deleted_by", "version"])
    return current
