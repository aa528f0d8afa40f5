"""Delivering updates: every recipient at most once.

`send_update` (services/comms.py) stores one delivery row per recipient before any
network call and wakes the `deliver_update` task after commit; each row is claimed
before it is sent (oncall/delivery.py), so a retry or a second worker never sends the
same update to the same recipient twice. The beat (`deliver_due`) sends what a lost
wake-up or a retry left due, and fails sends a dead worker left mid-way.
"""

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from mindweave_ir.live import versions as live
from oncall import channels, delivery
from oncall.models import DeliveryStatus

from ..models import CommsDelivery, CommsKind, CommsStatus, CommsUpdate


def _message(row):
    update = row.update
    if update.channel == CommsKind.SLACK:
        link = f"{settings.SITE_URL}{update.incident.get_absolute_url()}"
    else:
        link = ""  # customers get no link into the internal app
    drill = update.incident.is_exercise
    subject = channels.marked_test(update.subject).strip() if drill else update.subject
    return channels.Message(subject=subject, text=update.body, link=link, ack_url="",
                            severity="", dedup_key="", kind="notice", is_test=drill)


def deliver(delivery_id, *, now=None):
    """Send one queued delivery at most once; returns (outcome text, retry delay or None)."""
    now = now or timezone.now()
    if not delivery.claim(CommsDelivery, delivery_id, now):
        return "not mine", None
    row = CommsDelivery.objects.select_related("update__incident").get(pk=delivery_id)
    try:
        summary = channels.channel_for(row.kind).send(row.target, _message(row))
    except channels.ChannelError as exc:
        delay, _ = delivery.record_failure(row, exc)
        refresh_status(row.update_id)
        return (f"retry in {delay}s" if delay else "failed"), delay
    delivery.record_sent(CommsDelivery, delivery_id)
    refresh_status(row.update_id)
    return f"sent: {summary}", None


def deliver_update(update_id, *, now=None):
    """Send every due delivery of one update; the shortest retry delay, or None."""
    now = now or timezone.now()
    ids = list(CommsDelivery.objects.filter(update_id=update_id, status=DeliveryStatus.QUEUED,
                                            due_at__lte=now).values_list("pk", flat=True))
    delays = [d for _, d in (deliver(pk, now=now) for pk in ids) if d]
    return min(delays) if delays else None


def refresh_status(update_id):
    """Sum the deliveries up onto the update: queued while any is pending, else failed
    if any failed (with the first error), else delivered."""
    rows = CommsDelivery.objects.filter(update_id=update_id)
    pending = Q(status__in=[DeliveryStatus.QUEUED, DeliveryStatus.SENDING])
    totals = rows.aggregate(pending=Count("id", filter=pending), attempts=Sum("attempts"),
                            failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)))
    error = ""
    if totals["pending"]:
        status = CommsStatus.QUEUED
    elif totals["failed"]:
        status = CommsStatus.FAILED
        first = rows.filter(status=DeliveryStatus.FAILED).order_by("id").first()
        error = f"{totals['failed']} of {rows.count()} failed. {first.error}"[:1000]
    else:
        status = CommsStatus.SENT
    CommsUpdate.objects.filter(pk=update_id).update(status=status, error=error,
                                                    attempts=totals["attempts"] or 0)
    incident_id = CommsUpdate.objects.filter(pk=update_id).values_list("incident_id",
                                                                       flat=True).first()
    live.bump(live.incident_key(incident_id) if incident_id else "")


def deliver_due(*, now=None):
    """Beat: fail deliveries stuck mid-send, then send every due queued one (lost
    wake-ups, retries). Returns how many were sent."""
    now = now or timezone.now()
    for row in delivery.stuck(CommsDelivery.objects, now).only("pk", "update_id"):
        if delivery.fail_if_stuck(CommsDelivery, row.pk):
            refresh_status(row.update_id)
    ids = list(CommsDelivery.objects.filter(status=DeliveryStatus.QUEUED, due_at__lte=now)
               .values_list("pk", flat=True)[:500])
    return sum(deliver(pk, now=now)[0].startswith("sent") for pk in ids)
