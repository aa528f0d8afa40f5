"""Every write to a handoff: drafts, checklist ticks, handing off, acknowledging.

Each function checks permission and state first and refuses with HandoffError
(nothing changed). Summary edits carry the version the writer read: a stale one
is refused (StaleHandoff), never overwritten. State changes are conditional
UPDATEs, so two clicks (or two people) racing cannot both win.

Who may do what: the shift's outgoing on-call writes, ticks and hands off (a
Manager may do it for them); only the incoming on-call acknowledges, once.
"""

import functools

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from mindweave_ir.errors import Conflict, Refused
from mindweave_ir.live import versions as live
from mindweave_ir.templatetags.mw import display_name
from oncall import notices
from oncall.roles import Role, has_role

from .. import activity, shifts
from ..models import Handoff, HandoffState, ShiftCheck, ShiftChecklistTemplate


class HandoffError(Refused):
    """A request the handoff workflow refuses; nothing was changed."""


class HandoffForbidden(HandoffError):
    """The person may not do this to this handoff."""


class StaleHandoff(HandoffError, Conflict):
    def __init__(self, message, current):
        super().__init__(message)
        self.current = current


_name = functools.partial(display_name, missing="nobody")


def can_edit(user, handoff):
    """The shift's outgoing on-call (a Responder or Incident Commander: Viewers only read)
    or a Manager, while the handoff is a draft."""
    if not handoff.is_draft:
        return False
    if has_role(user, Role.MANAGER):
        return True
    return user.pk == handoff.outgoing_id and has_role(user, Role.RESPONDER,
                                                        Role.INCIDENT_COMMANDER)


def _check_can_edit(user, handoff):
    if not handoff.is_draft:
        raise HandoffError(f"This handoff was handed off {_when(handoff.handed_off_at)}; "
                           "it can no longer be changed.")
    if not can_edit(user, handoff):
        raise HandoffForbidden(f"Only the outgoing on-call ({_name(handoff.outgoing)}) or a "
                           "Manager can change this handoff.")


def _when(moment):
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M %Z}" if moment else "earlier"


# --- finding or making the record of a shift ------------------------------------------

def ensure_handoff(span):
    """The Handoff of `span` (a shifts.ShiftSpan), made with its checklist if new.

    A draft follows the schedule: if overrides changed who is on call at the
    handoff moment, its outgoing/incoming are updated. Safe under concurrency: the
    (schedule, shift_end) constraint lets only one be made.
    """
    schedule = span.schedule
    handoff = Handoff.objects.filter(schedule=schedule, shift_end=span.end).first()
    if handoff is None:
        try:
            with transaction.atomic():
                handoff = Handoff.objects.create(
                    schedule=schedule, schedule_name=schedule.name,
                    schedule_timezone=schedule.timezone, shift_start=span.start,
                    shift_end=span.end, outgoing_id=span.outgoing_id,
                    incoming_id=span.incoming_id)
                ShiftCheck.objects.bulk_create(
                    ShiftCheck(handoff=handoff, phase=item.phase, text=item.text,
                               position=item.position)
                    for item in ShiftChecklistTemplate.objects.filter(active=True))
                return handoff
        except IntegrityError:
            return Handoff.objects.get(schedule=schedule, shift_end=span.end)
    if handoff.is_draft and (handoff.outgoing_id, handoff.incoming_id) != (
            span.outgoing_id, span.incoming_id):
        Handoff.objects.filter(pk=handoff.pk, state=HandoffState.DRAFT).update(
            outgoing_id=span.outgoing_id, incoming_id=span.incoming_id)
        handoff.refresh_from_db()
    return handoff


def current_handoff(schedule, now=None):
    """The Handoff of the shift running now, or None (no members, not started)."""
    span = shifts.shift_at(schedule, now or timezone.now())
    return ensure_handoff(span) if span else None


def _refreshed_span(handoff):
    if handoff.schedule is None:
        return None
    span = shifts.shift_at(handoff.schedule, handoff.shift_start)
    return span if span and span.end == handoff.shift_end else None


# --- writing ---------------------------------------------------------------------------

def set_check(handoff, check_id, *, done, by, now=None):
    """Tick or untick one checklist item of the shift, recording who and when."""
    _check_can_edit(by, handoff)
    check = ShiftCheck.objects.filter(pk=check_id, handoff=handoff).first()
    if check is None:
        raise HandoffError("That checklist item is not part of this shift.")
    if done and check.done_at is None:
        check.done_at, check.done_by = now or timezone.now(), by
    elif not done:
        check.done_at, check.done_by = None, None
    check.save(update_fields=["done_at", "done_by"])
    return check


@transaction.atomic
def save_draft(handoff, *, summary, unresolved, expected_version, by):
    current = Handoff.objects.select_for_update().get(pk=handoff.pk)
    _check_can_edit(by, current)
    if current.version != expected_version:
        raise StaleHandoff("This handoff was saved by someone else since you opened it. "
                           "Your text is kept below: compare, then save again.", current)
    Handoff.objects.filter(pk=handoff.pk).update(summary=summary.strip(),
                                                 unresolved=unresolved.strip(),
                                                 version=F("version") + 1)
    current.refresh_from_db()
    return current


def hand_off(handoff, *, summary, unresolved, expected_version, by, now=None):
    """Save the summary and unresolved issues, freeze the shift's activity, notify the
    incoming on-call. Refused without a summary, before the shift starts, or when
    nobody is on call next."""
    now = now or timezone.now()
    with transaction.atomic():
        current = Handoff.objects.select_for_update().get(pk=handoff.pk)
        _check_can_edit(by, current)
        if not summary.strip():
            raise HandoffError("Write a shift summary before handing off: it is the on-call "
                               "log's record of the shift.")
        if current.version != expected_version:
            raise StaleHandoff("This handoff was saved by someone else since you opened it. "
                               "Your text is kept below: compare, then hand off again.",
                               current)
        if now < current.shift_start:
            raise HandoffError("This shift has not started yet.")
        span = _refreshed_span(current)
        incoming_id = span.incoming_id if span else current.incoming_id
        if incoming_id is None:
            raise HandoffError("Nobody is on call after this shift, so there is nobody to hand "
                               "off to. Fix the schedule (add a member or an override) first.")
        current.summary, current.unresolved = summary.strip(), unresolved.strip()
        current.incoming_id = incoming_id
        current.activity = activity.gather(current, now)
        current.state = HandoffState.HANDED_OFF
        current.handed_off_at, current.handed_off_by = now, by
        current.version += 1
        current.save()
        live.bump()  # the dashboard lists handoffs awaiting acknowledgement
        notices.notify(
            current.incoming, key=f"handoff:{current.pk}:handed-off",
            subject=f"On-call handoff: {current.schedule_name} — please acknowledge",
            text=(f"{_name(by)} handed {current.schedule_name} over to you; your shift starts "
                  f"{_when_utc(current.shift_end)}.\n\nSummary:\n{current.summary}\n\n"
                  f"Unresolved issues:\n{current.unresolved or 'None.'}\n\n"
                  "Open the handoff and acknowledge it (one click)."),
            link=current.get_absolute_url())
    return current


def _when_utc(moment):
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def acknowledge(handoff, *, by, now=None):
    """The incoming on-call takes the shift over. Refused for anyone else, before the
    hand-off, or a second time."""
    now = now or timezone.now()
    handoff = Handoff.objects.select_related("incoming", "acknowledged_by").get(pk=handoff.pk)
    if by.pk != handoff.incoming_id:
        raise HandoffForbidden(f"This handoff is for {_name(handoff.incoming)}; only they can "
                           "acknowledge it.")
    if handoff.state == HandoffState.ACKNOWLEDGED:
        raise HandoffError(f"Already acknowledged by {_name(handoff.acknowledged_by)} "
                           f"{_when(handoff.acknowledged_at)}.")
    if handoff.state == HandoffState.DRAFT:
        raise HandoffError("This handoff has not been handed off yet: there is nothing to "
                           "acknowledge.")
    with transaction.atomic():
        won = Handoff.objects.filter(pk=handoff.pk, state=HandoffState.HANDED_OFF,
                                     incoming=by).update(
            state=HandoffState.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=by,
            version=F("version") + 1)
        if not won:
            raise HandoffError("Already acknowledged.")
        live.bump()  # the dashboard lists handoffs awaiting acknowledgement
        handoff.refresh_from_db()
        notices.notify(
            handoff.handed_off_by or handoff.outgoing, key=f"handoff:{handoff.pk}:acknowledged",
            subject=f"On-call handoff acknowledged: {handoff.schedule_name}",
            text=f"{_name(by)} acknowledged your handoff of {handoff.schedule_name}.",
            link=handoff.get_absolute_url())
    return handoff


def live_activity(handoff, now=None):
    """What the handoff page shows: frozen at hand-off, gathered live for a draft."""
    if handoff.is_draft or not handoff.activity:
        return activity.gather(handoff, now or timezone.now())
    return activity.revive(handoff.activity)
