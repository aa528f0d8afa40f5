"""Reminders: post-incident review work (e-mail, hourly) and weekly handoffs (notices,
every minute). Each is sent at most once: claimed in the database before it goes out.

Post-incident reviews (`send_reminders`, at most one a day per thing reminded about):
1. Action items: the owner of open items due within two days (or overdue) gets one
   e-mail listing them.
2. Reviews: for each review not yet approved and due within one business day (or
   overdue), one e-mail goes to its incident's commander and the Managers.

Each action item and review is claimed with a conditional UPDATE (`reminded_on`
empty or before today -> today) before its e-mail goes out, so a second run the
same day, or a second worker running beside the first, sends nothing. A send that
fails gives its claims back, so the next hourly run tries again.

Handoffs (`handoff_tick`, safe to run twice or on two workers at once):
1. Drafts: for each schedule whose shift ends within HANDOFF_PREPARE_LEAD_MINUTES,
   the shift's handoff record is made (once: one per schedule and shift end) and its
   outgoing on-call reminded, once, to prepare it. A shift that ended while the beat
   was down (up to CATCH_UP, a day, after the lead) still gets its draft.
2. Acknowledgement: a handoff handed off but not acknowledged
   HANDOFF_ACK_REMINDER_MINUTES after the incoming shift began (or after the hand-off,
   if that came later) reminds the outgoing on-call and the schedule's escalation
   (the next level of each policy that pages the schedule; the Managers if none), once.

Each handoff reminder is claimed by a conditional UPDATE of its `*_reminded_at` column
before it is queued, and notices are unique per key and method, so nothing is sent
twice.
"""

import functools
import logging
import smtplib
from datetime import timedelta
from itertools import groupby

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from mindweave_ir.templatetags.mw import display_name
from oncall import notices
from oncall.models import ContactKind, ContactMethod, EscalationLevel, Schedule
from oncall.roles import Role

from . import services, shifts
from .models import (
    CLOSED_ACTION_STATUSES,
    ActionItem,
    Handoff,
    HandoffState,
    PIRState,
    PostIncidentReview,
)

logger = logging.getLogger(__name__)

ITEM_DAYS_AHEAD = 2
REVIEW_BUSINESS_DAYS_AHEAD = 1


_name = functools.partial(display_name, missing="nobody")


# --- post-incident reviews and action items ---------------------------------------------

def _link(path):
    return f"{settings.SITE_URL}{path}"


def _address(user):
    """Where a person's reminders go: their account e-mail, else their first enabled
    e-mail contact method (the one paging uses); "" if they have neither."""
    if user is None or not user.is_active:
        return ""
    if user.email:
        return user.email
    method = (ContactMethod.objects.filter(user=user, kind=ContactKind.EMAIL,
                                           disabled_at__isnull=True).order_by("id").first())
    return method.target if method else ""


def _addresses(users):
    addresses = []
    for user in users:
        address = _address(user)
        if address and address not in addresses:
            addresses.append(address)
    return addresses


def _send(template, context, to):
    """One plain-text e-mail from templates/reports/email/<template>{_subject,}.txt."""
    # One line, always: a newline in a header is an injection (and Django refuses it).
    subject = " ".join(render_to_string(f"reports/email/{template}_subject.txt", context).split())
    body = render_to_string(f"reports/email/{template}.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to, fail_silently=False)


def _not_reminded(today):
    return Q(reminded_on__lt=today) | Q(reminded_on__isnull=True)


def _claim(model, pk, today):
    """Take today's reminder for one row; False if someone already took it."""
    return model.objects.filter(pk=pk).filter(_not_reminded(today)) \
        .update(reminded_on=today) == 1


def _release(model, rows, today):
    """Give claims back after a failed send (each row to the day it had before)."""
    for row in rows:
        model.objects.filter(pk=row.pk, reminded_on=today).update(reminded_on=row.reminded_on)


def remind_action_item_owners(now):
    """One e-mail per owner listing their open items due within two days or overdue."""
    today = timezone.localdate(now)
    due = (ActionItem.objects.exclude(status__in=CLOSED_ACTION_STATUSES)
           .filter(due_date__lte=today + timedelta(days=ITEM_DAYS_AHEAD), owner__is_active=True)
           .filter(_not_reminded(today))
           .select_related("owner", "pir__incident").order_by("owner_id", "due_date", "id"))
    sent = 0
    for owner, items in groupby(due, key=lambda item: item.owner):
        to = _addresses([owner])
        if not to:
            logger.warning("No e-mail address for %s: action-item reminder not sent.", owner)
            continue
        claimed = [item for item in items if _claim(ActionItem, item.pk, today)]
        if not claimed:
            continue
        context = {
            "owner_name": _name(owner), "days_ahead": ITEM_DAYS_AHEAD,
            "overdue": any(item.due_date < today for item in claimed),
            "items": [{"item": item, "overdue": item.due_date < today,
                       "link": _link(item.pir.get_absolute_url())} for item in claimed],
        }
        try:
            _send("action_items", context, to)
        except Exception:
            logger.exception("Action-item reminder to %s failed; the next run retries.", owner)
            _release(ActionItem, claimed, today)
            continue
        sent += 1
    return sent


def _pir_context(pir, now):
    return {
        "pir": pir, "incident": pir.incident, "overdue": pir.is_overdue(now),
        "in_review": pir.state == PIRState.IN_REVIEW,
        "due": f"{timezone.localtime(pir.due_at):%Y-%m-%d %H:%M %Z}",
        "commander_name": _name(pir.incident.commander),
        "link": _link(pir.get_absolute_url()),
    }


def remind_reviews_due(now):
    """One e-mail per review not approved and due within a business day (or overdue),
    to its incident's commander and the Managers."""
    today = timezone.localdate(now)
    horizon = services.add_business_days(now, REVIEW_BUSINESS_DAYS_AHEAD)
    reviews = (PostIncidentReview.objects.exclude(state=PIRState.APPROVED)
               .filter(due_at__lte=horizon).filter(_not_reminded(today))
               .select_related("incident", "incident__commander").order_by("due_at", "id"))
    managers = list(get_user_model().objects.filter(is_active=True, groups__name=Role.MANAGER)
                    .distinct().order_by("id"))
    manager_addresses = _addresses(managers)
    sent = 0
    for pir in reviews:
        to = _addresses([pir.incident.commander])
        to += [address for address in manager_addresses if address not in to]
        if not to:
            logger.warning("Nobody to remind about %s.", pir)
            continue
        if not _claim(PostIncidentReview, pir.pk, today):
            continue
        try:
            _send("pir_due", _pir_context(pir, now), to)
        except Exception:
            logger.exception("Reminder about %s failed; the next run retries.", pir)
            _release(PostIncidentReview, [pir], today)
            continue
        sent += 1
    return sent


def send_reminders(now=None):
    """The day's reminders (beat runs this hourly); returns how many e-mails went out."""
    now = now or timezone.now()
    return remind_action_item_owners(now) + remind_reviews_due(now)


def send_pir_reminder(pir, *, by):
    """Remind the incident's commander about the review now (the admin's "send
    reminder"), whatever `reminded_on` says, and note it in the audit trail.

    The audit entry is written first, in the same transaction as the send: a refused
    sender (not a Manager) sends nothing, and a failed send leaves no entry (and is
    a PIRError, which callers show like any refusal).
    """
    commander = pir.incident.commander
    to = _addresses([commander])
    if not to:
        raise services.PIRError(f"{pir.incident.ref} has no Incident Commander with an e-mail "
                                "address to remind.")
    try:
        with transaction.atomic():
            services.record_reminder(pir, by=by, to=commander)
            _send("pir_due", _pir_context(pir, timezone.now()), to)
    except (smtplib.SMTPException, OSError) as exc:
        raise services.PIRError(f"The mail server did not take the reminder: {exc}") from None
    return to


# --- weekly handoffs ---------------------------------------------------------------------

_TICK = timedelta(microseconds=1)
CATCH_UP = timedelta(hours=24)  # a beat outage up to this long still drafts the shift


def prepare_lead():
    return timedelta(minutes=settings.HANDOFF_PREPARE_LEAD_MINUTES)


def ack_grace():
    return timedelta(minutes=settings.HANDOFF_ACK_REMINDER_MINUTES)


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


def handoff_tick(now=None):
    """The beat's handoff work (every minute): (drafts reminded, handoffs reminded)."""
    now = now or timezone.now()
    return prepare_drafts(now), remind_unacknowledged(now)
