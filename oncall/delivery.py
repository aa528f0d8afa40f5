"""Sending one queued delivery row at most once: shared by page notifications and notices.

A row (Notification or Notice) is written before any network call. Sending first
claims it with a conditional UPDATE (queued -> sending), so only one worker ever
sends it; the outcome is recorded after. A transient channel error re-queues the
row with exponential backoff until MAX_ATTEMPTS; a permanent one disables the
contact method, visibly. A row left in "sending" by a dead worker is marked failed,
never resent: the person may already have it.
"""

from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from . import channels
from .models import ContactMethod, DeliveryStatus

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 10  # 10 s, 20 s, 40 s, 80 s between attempts
STUCK_SENDING = timedelta(minutes=2)
INTERRUPTED = "The worker stopped while sending; outcome unknown."


def claim(model, pk, now):
    """Take a due queued row for sending; False if another worker has it (or it is not due).

    Only the row's own columns in the WHERE: PostgreSQL re-checks those after waiting
    on a concurrent claim, but not a join's (Django would turn a filter on a related
    field into `id IN (subquery)`, and two workers could both win).
    """
    return model.objects.filter(pk=pk, status=DeliveryStatus.QUEUED, due_at__lte=now).update(
        status=DeliveryStatus.SENDING, sending_at=now, attempts=F("attempts") + 1) == 1


def send(method, message):
    """Hand `message` to the method's channel; the channel's summary, or ChannelError."""
    if method is None:
        raise channels.PermanentChannelError("The contact method was deleted.")
    return channels.channel_for(method.kind).send(method.target, message, secret=method.secret)


def record_sent(model, pk):
    model.objects.filter(pk=pk).update(status=DeliveryStatus.SENT, sent_at=timezone.now(),
                                       error="")


def record_failure(row, exc):
    """Re-queue with backoff or fail for good; returns (retry delay in s or None, error).

    A permanent failure also disables the row's contact method, if it has one (rows
    sent to a plain address, like customer e-mails, have none)."""
    error = str(exc)[:1000]
    model = type(row)
    if not exc.permanent and row.attempts < MAX_ATTEMPTS:
        delay = BACKOFF_SECONDS * 2 ** (row.attempts - 1)
        model.objects.filter(pk=row.pk).update(
            status=DeliveryStatus.QUEUED, error=error,
            due_at=timezone.now() + timedelta(seconds=delay))
        return delay, error
    model.objects.filter(pk=row.pk).update(status=DeliveryStatus.FAILED, error=error)
    method_id = getattr(row, "contact_method_id", None)
    if exc.permanent and method_id:
        ContactMethod.objects.filter(pk=method_id).update(
            disabled_at=timezone.now(), disabled_reason=error)
    return None, error


def fail_if_stuck(model, pk):
    """Mark one row interrupted mid-send as failed; True if this call did it."""
    return model.objects.filter(pk=pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.FAILED, error=INTERRUPTED) == 1


def stuck(queryset, now):
    """Rows of `queryset` in "sending" for longer than STUCK_SENDING."""
    return queryset.filter(status=DeliveryStatus.SENDING, sending_at__lt=now - STUCK_SENDING)
