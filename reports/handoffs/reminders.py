"""The beat's handoff work (every minute; safe to run twice or on two workers at once).

1. Drafts: for each schedule whose shift ends within HANDOFF_PREPARE_LEAD_MINUTES,
   the shift's handoff record is made (once: one per schedule and shift end) and its
   outgoing on-call reminded, once, to prepare it. A shift that ended while the beat
   was down (up to CATCH_UP, a day, after the lead) still gets its draft.
2. Acknowledgement: a handoff handed off but not acknowledged
   HANDOFF_ACK_REMINDER_MINUTES after the incoming shift began (or after the hand-off,
   if that came later) reminds the outgoing on-call and the schedule's escalation
   (the next level of each policy that pages the schedule; the Managers if none), once.

Each reminder is claimed by a conditional UPDATE of its `*_reminded_at` column
before it is queued, and notices are unique per key and method, so nothing is sent
twice.
"""

import functools
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mindweave_ir.templatetags.mw import display_name
from oncall import notices
from oncall.models import EscalationLevel, Schedule
from oncall.roles import Role

from ..models import Handoff, HandoffState
from . import services, shifts

_TICK = timedelta(microseconds=1)
CATCH_UP = timedelta(hours=24)  # a beat outage up to this long still drafts the shift


def prepare_lead():
    return timedelta(minutes=settings.HANDOFF_PREPARE_LEAD_MINUTES)


def ack_grace():
    return timedelta(minutes=settings.HANDOFF_ACK_REMINDER_MINUTES)


_name = functools.partial(display_name, missing="nobody")


def _due_spans(schedule, now):
    """The shift ending within the lead, and the one before it if it ended less than
    CATCH_UP ago: made on time unless the beat was down then, and made now if it was.
    (Not older ones: a shift long over, or one from before the schedule was set up,
    is not worth a reminder.)"""
    current = shifts.shift_at(schedule, now)
    spans = []
    if current and current.end - now <= prepare_lead():
        spans.append(current)
    if current:
        previous = shifts.shift_at(schedule, current.start - _TICK)
        if previous and now - previous.end <= prepare_lead() + CATCH_UP:
            spans.append(previous)
    return spans


def prepare_drafts(now):
    """Make due drafts and remind their outgoing on-call; returns how many reminders."""
    reminded = 0
    for schedule in Schedule.objects.order_by("pk"):
        for span in _due_spans(schedule, now):
            handoff = services.ensure_handoff(span)
            if not handoff.is_draft or handoff.outgoing is None:
                continue
            with transaction.atomic():
                if Handoff.objects.filter(pk=handoff.pk, prepare_reminded_at__isnull=True) \
                        .update(prepare_reminded_at=now) != 1:
                    continue
                notices.notify(
                    handoff.outgoing, key=f"handoff:{handoff.pk}:prepare",
                    subject=f"Prepare your on-call handoff: {handoff.schedule_name}",
                    text=(f"Your {handoff.schedule_name} shift "
                          f"{'ends' if handoff.shift_end > now else 'ended'} "
                          f"{handoff.shift_end:%Y-%m-%d %H:%M} UTC. The shift's incidents, "
                          "pages and action items are gathered for you: write the summary "
                          "and the unresolved issues, then hand off to "
                          f"{_name(handoff.incoming)}."),
                    link=handoff.get_absolute_url())
            reminded += 1
    return reminded


def escalation_contacts(schedule, now):
    """Who a stuck handoff of `schedule` is escalated to: the next level after the
    schedule in each policy that uses it (its on-call now, or its named people); the
    Managers when no policy goes further."""
    users = get_user_model().objects
    ids = []
    for level in EscalationLevel.objects.filter(schedule=schedule).order_by("policy_id"):
        following = (EscalationLevel.objects.filter(policy_id=level.policy_id,
                                                    position__gt=level.position)
                     .select_related("schedule").order_by("position").first())
        if following is None:
            continue
        if following.schedule:
            who = following.schedule.on_call_at(now)
            ids += [who] if who else []
        else:
            ids += list(following.users.values_list("pk", flat=True))
    if not ids:
        ids = list(users.filter(groups__name=Role.MANAGER, is_active=True)
                   .values_list("pk", flat=True))
    return list(users.filter(pk__in=ids, is_active=True).order_by("pk"))


def remind_unacknowledged(now):
    """Remind about handoffs still not acknowledged; returns how many handoffs."""
    grace = ack_grace()
    stale = Handoff.objects.filter(state=HandoffState.HANDED_OFF, ack_reminded_at__isnull=True,
                                   shift_end__lte=now - grace, handed_off_at__lte=now - grace)
    reminded = 0
    for handoff in stale.select_related("schedule", "outgoing", "incoming", "handed_off_by"):
        people = [handoff.outgoing, handoff.handed_off_by]
        if handoff.schedule:
            people += escalation_contacts(handoff.schedule, now)
        with transaction.atomic():
            if Handoff.objects.filter(Q(pk=handoff.pk), Q(ack_reminded_at__isnull=True),
                                      state=HandoffState.HANDED_OFF) \
                    .update(ack_reminded_at=now) != 1:
                continue
            for person in {p.pk: p for p in people if p and p.pk != handoff.incoming_id}.values():
                notices.notify(
                    person, key=f"handoff:{handoff.pk}:unacknowledged",
                    subject=f"Handoff not acknowledged: {handoff.schedule_name}",
                    text=(f"{_name(handoff.incoming)} has not acknowledged the "
                          f"{handoff.schedule_name} handoff; their shift began "
                          f"{handoff.shift_end:%Y-%m-%d %H:%M} UTC. Make sure someone is "
                          "really on call."),
                    link=handoff.get_absolute_url())
        reminded += 1
    return reminded


def run(now=None):
    now = now or timezone.now()
    return prepare_drafts(now), remind_unacknowledged(now)
