"""Reminders about post-incident review work, at most one a day per thing reminded about.

1. Action items: the owner of open items due within two days (or overdue) gets one
   e-mail listing them.
2. Reviews: for each review not yet approved and due within one business day (or
   overdue), one e-mail goes to its incident's commander and the Managers.

Each action item and review is claimed with a conditional UPDATE (`reminded_on`
empty or before today -> today) before its e-mail goes out, so a second run the
same day, or a second worker running beside the first, sends nothing. A send that
fails gives its claims back, so the next hourly run tries again.
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
from oncall.models import ContactKind, ContactMethod
from oncall.roles import Role

from . import services
from .models import CLOSED_ACTION_STATUSES, ActionItem, PIRState, PostIncidentReview

logger = logging.getLogger(__name__)

ITEM_DAYS_AHEAD = 2
REVIEW_BUSINESS_DAYS_AHEAD = 1


_name = functools.partial(display_name, missing="nobody")


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
