"""Notices: messages to a person on all their enabled contact methods, outside paging.

A notice has no escalation and no acknowledgement; apps above `oncall` use it for
things like "you have a handoff to acknowledge". `notify` writes one Notice row per
enabled method, unique per (key, method), so calling it twice with the same key
sends nothing new; rows are sent after the transaction commits, and the beat tick
sends any whose wake-up was lost or whose retry is due.
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mindweave_ir.queue import enqueue_on_commit

from . import channels, delivery
from .models import ContactMethod, DeliveryStatus, Notice


def notify(user, *, key, subject, text, link=""):
    """Queue the message to each of the user's enabled contact methods; the rows for `key`.

    An inactive user, or one with no enabled method, gets nothing: the caller sees
    an empty list and can say so.
    """
    if user is None or not user.is_active:
        return []
    methods = ContactMethod.objects.filter(user=user, disabled_at__isnull=True).order_by("id")
    notices = []
    with transaction.atomic():
        for method in methods:
            notice, made = Notice.objects.get_or_create(
                key=key, contact_method=method,
                defaults={"user": user, "kind": method.kind, "subject": subject[:300],
                          "text": text, "link": link[:500], "due_at": timezone.now()})
            notices.append(notice)
            if made:
                enqueue_on_commit("oncall.tasks.deliver_notice", notice.pk)
    return notices


def _message(notice):
    return channels.Message(
        subject=notice.subject, text=notice.text,
        link=notice.link if notice.link.startswith("http") else f"{settings.SITE_URL}{notice.link}",
        ack_url="", severity="", dedup_key=notice.key, kind="notice",
        ref=f"x{notice.pk}")


def deliver(notice_id, *, now=None):
    """Send one queued notice, at most once (see oncall/delivery.py)."""
    now = now or timezone.now()
    if not delivery.claim(Notice, notice_id, now):
        return "not mine"
    notice = Notice.objects.select_related("contact_method", "user").get(pk=notice_id)
    try:
        summary = delivery.send(notice.contact_method, _message(notice))
    except channels.ChannelError as exc:
        delay, error = delivery.record_failure(notice, exc)
        return f"retry in {delay}s: {error}" if delay else f"failed: {error}"
    delivery.record_sent(Notice, notice_id)
    return f"sent: {summary}"


def deliver_due(*, now=None):
    """Beat: queued notices that are due (lost wake-ups, retries); also fail stuck sends."""
    now = now or timezone.now()
    for pk in delivery.stuck(Notice.objects, now).values_list("pk", flat=True):
        delivery.fail_if_stuck(Notice, pk)
    ids = list(Notice.objects.filter(status=DeliveryStatus.QUEUED, due_at__lte=now)
               .values_list("pk", flat=True)[:500])
    return sum(deliver(pk, now=now).startswith("sent") for pk in ids)


def for_key(prefix):
    """Notices whose key starts with `prefix`, oldest first, with person and method."""
    return Notice.objects.filter(key__startswith=prefix).select_related("user", "contact_method")
