"""What people answer by phone, and what Twilio reports: the services behind the Twilio
webhooks (views/phone.py checks the signature first, then calls these).

- An SMS reply "1" acknowledges, "2" escalates, optionally naming the page's code
  ("1 42"; without one, the person's latest page still waiting for acknowledgement).
- A call reads the page and takes one key: 1 acknowledges, 2 escalates.
- Status callbacks record Twilio's word (delivered, undelivered, no-answer ...) on the
  notification, notice or test it is about.
Acknowledging is paging.acknowledge_page, the same service as the web's; escalating
now is `escalate_page` here. Every answer says what happened, and a refusal changes
nothing.
"""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from mindweave_ir.live import versions as live
from mindweave_ir.templatetags.mw import display_name

from . import paging, phone, wakeup
from .models import (
    PHONE_KINDS,
    ContactMethod,
    Notice,
    Notification,
    Page,
    PageEventKind,
    PageStatus,
)

ACK, ESCALATE = "1", "2"
REPLY = re.compile(r"\s*(1|2|ack|esc|escalate)(?:[\s#:,.\-]+(\d{1,12}))?\s*[.!]?\s*",
                   re.IGNORECASE)
REF = re.compile(r"([ntx])(\d{1,12})")
HELP = ("Reply 1 to acknowledge your latest page, 2 to escalate it, or 1 CODE / 2 CODE for "
        "a given page (the code is in the page's text). Nothing was changed.")
# Twilio's delivery error codes people meet most, named for the owner.
# https://www.twilio.com/docs/api/errors
DELIVERY_ERRORS = {
    "30003": "handset unreachable", "30004": "message blocked", "30005": "unknown number",
    "30006": "landline or unreachable carrier", "30007": "filtered by the carrier",
    "30008": "unknown error",
}


@transaction.atomic
def escalate_page(page, *, by, via):
    """Run the page's next level now, not when the current level's timeout ends.

    Allowed to whoever may acknowledge it (people it notified, Incident Commanders,
    Managers), for a page still escalating. The engine is woken on commit.
    """
    page = Page.objects.select_for_update().get(pk=page.pk)
    if page.status != PageStatus.TRIGGERED:
        who = f" by {display_name(page.acknowledged_by)}" if page.acknowledged_by else ""
        raise paging.PagingError(
            f"This page is already {page.get_status_display().lower()}{who}.")
    if not paging.can_acknowledge(by, page):
        raise paging.PagingError("Only people this page notified, Incident Commanders and "
                                 "Managers escalate it.")
    if not page.escalate:
        raise paging.PagingError("This page notifies its first level only; there is no "
                                 "next level to escalate to.")
    now = timezone.now()
    page.next_step_at = now
    page.save(update_fields=["next_step_at"])
    paging.record_event(page, PageEventKind.ESCALATED,
                        f"{display_name(by)} asked to escalate now ({via}).", by=by, now=now)
    wakeup.ring()
    return page


# --- SMS replies ---------------------------------------------------------------------------

def parse_reply(body):
    """(ACK or ESCALATE, the page code or None), or None for anything else."""
    match = REPLY.fullmatch(body or "")
    if match is None:
        return None
    word = match.group(1).lower()
    action = ACK if word in ("1", "ack") else ESCALATE
    return action, int(match.group(2)) if match.group(2) else None


def answer_sms(*, from_number, body):
    """Act on an SMS reply from `from_number`; the text to answer with.

    1. The number must be one of someone's SMS or voice methods (paused ones too: a
       person may answer a page from the phone they paused).
    2. The reply must be 1 or 2, optionally with a page code.
    3. The page is the named one, or the latest still waiting, among pages that
       notified that person; then the same services as the web's act as that person.
    """
    try:
        number = phone.normalise_number(from_number)
    except ValidationError:  # a sender id that is not a number is simply unknown
        number = ""
    user_ids = set(ContactMethod.objects.filter(kind__in=PHONE_KINDS, target=number)
                   .values_list("user_id", flat=True)) if number else set()
    if not user_ids:
        return "This number is not registered with MindWeave IR. Nothing was changed."
    parsed = parse_reply(body)
    if parsed is None:
        return HELP
    action, code = parsed
    pages = Page.objects.filter(notifications__user_id__in=user_ids).distinct()
    if code is not None:
        page = pages.filter(pk=code).first()
        if page is None:
            return f"No page {code} was sent to you. Nothing was changed."
    else:
        page = pages.filter(status=PageStatus.TRIGGERED).order_by("-created_at", "-pk").first()
        if page is None:
            return "You have no page waiting for acknowledgement. Nothing was changed."
    user = page.notifications.filter(user_id__in=user_ids).select_related("user") \
        .order_by("pk").first().user
    return _act(page, action, user, via="SMS")


def _act(page, action, user, *, via):
    label = f"Page {page.pk} ({page.title[:80]})"
    try:
        if action == ACK:
            paging.acknowledge_page(page, by=user, via=via)
        else:
            escalate_page(page, by=user, via=via)
    except paging.PagingError as exc:
        return f"{label}: {exc} Nothing was changed."
    if action == ACK:
        return f"{label} acknowledged by you. Escalation stopped."
    return f"{label}: escalating to the next level now."


# --- calls -------------------------------------------------------------------------------------

def _row(ref):
    """(kind letter, row) for a ref like n12, or (None, None)."""
    match = REF.fullmatch(ref or "")
    if match is None:
        return None, None
    letter, pk = match.group(1), int(match.group(2))
    model = {"n": Notification, "x": Notice, "t": ContactMethod}[letter]
    related = {"n": ["page", "user", "contact_method"], "x": ["contact_method"], "t": []}
    return letter, model.objects.select_related(*related[letter]).filter(pk=pk).first()


def _called(row, to_number):
    """The call went to the number of the row's contact method."""
    method = row if isinstance(row, ContactMethod) else row.contact_method
    return method is not None and method.target == to_number


def page_words(page):
    drill = "This is a drill, not a real outage. " if page.is_test else ""
    return f"MindWeave I R page. {drill}{page.severity} {page.title}."


def call_script(*, ref, to_number):
    """What an answered call says, and whether it then waits for a key."""
    letter, row = _row(ref)
    if row is None or not _called(row, to_number):
        return "This call could not be matched to a page. Goodbye.", False
    if letter == "t":
        return ("This is a MindWeave I R test call. If you can hear this, paging reaches "
                "you by phone. Goodbye."), False
    if letter == "x":
        return f"MindWeave I R notice. {row.subject}. {row.text[:400]} Goodbye.", False
    page = row.page
    if page.status != PageStatus.TRIGGERED:
        who = f" by {display_name(page.acknowledged_by)}" if page.acknowledged_by else ""
        return (f"{page_words(page)} This page is already "
                f"{page.get_status_display().lower()}{who}. Goodbye."), False
    return page_words(page), True


def keypad(*, ref, digits, to_number):
    """A key pressed during a page's call: (what to say, whether to wait for another)."""
    letter, row = _row(ref)
    if letter != "n" or row is None or not _called(row, to_number):
        return "This call could not be matched to a page. Nothing was changed. Goodbye.", False
    if digits not in (ACK, ESCALATE):
        return "Sorry, that key does nothing.", True
    said = _act(row.page, digits, row.user, via="phone call")
    return f"{said} Goodbye.", False


# --- status callbacks ------------------------------------------------------------------------

def _problem(status, error_code):
    if not error_code:
        return status if status in phone.FINAL_PROBLEMS else ""
    return f"{status}, Twilio error {error_code}" + (
        f": {DELIVERY_ERRORS[error_code]}" if error_code in DELIVERY_ERRORS else "")


@transaction.atomic
def record_status(*, ref, sid, status, error_code=""):
    """Record Twilio's status for the message or call `ref` names; a short outcome.

    Statuses only move forward (STATUS_RANK): callbacks may arrive out of order. A row
    belongs to the first SID reported for it. A failed or unanswered page
    notification is flagged on the page, so its people see it did not reach them.
    """
    status = (status or "").strip().lower()
    error_code = (error_code or "").strip()[:10]
    if status not in phone.STATUS_RANK:
        return "unknown status"
    letter, row = _row(ref)
    if row is None:
        return "unknown ref"
    now = timezone.now()
    problem = _problem(status, error_code)
    if letter == "t":
        if problem:
            ContactMethod.objects.filter(pk=row.pk).update(
                last_test_ok=False, last_test_at=now, last_test_error=f"Twilio: {problem}.")
        return f"test {status}"
    row = type(row).objects.select_for_update().get(pk=row.pk)
    if row.provider_id and sid and row.provider_id != sid:
        return "another SID"
    if phone.STATUS_RANK[status] < phone.STATUS_RANK.get(row.provider_status, -1):
        return "stale"
    type(row).objects.filter(pk=row.pk).update(
        provider_id=(sid or row.provider_id)[:64], provider_status=status,
        provider_status_at=now, provider_error=problem[:200])
    if letter != "n":
        return status
    live.bump(row.page.source)  # the page's notifications table, where it is watched live
    if problem and row.provider_status != status:
        paging.record_event(row.page, PageEventKind.FAILED,
                            f"{row.get_kind_display()} to {display_name(row.user)}: "
                            f"{problem}.", flagged=True, now=now)
    return status
