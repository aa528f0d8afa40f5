"""The demo's current Primary On-Call shift, so a handoff has something to hand over.

The scripted incidents still going on were declared during `ic`'s shift, but as
history nobody was paged for them. Here each of those (SEV-1 to SEV-3) gets the page
`ic` would have received: notified by e-mail, acknowledged by `ic` a few minutes
later (or when the incident was, if that came first). Idempotent: an incident that
already has a page gets none.
"""

from datetime import timedelta

from django.conf import settings

from incidents.models import Incident, Severity
from oncall.models import (
    DeliveryStatus,
    Notification,
    Page,
    PageEvent,
    PageEventKind,
    PageStatus,
    Schedule,
)
from reports import shifts
from reports.demo.scenarios import SCENARIOS

# Minutes to acknowledge, in turn: most within the 5-minute target, one late (the
# fourth: the CSV-export incident, which its scenario acknowledges later still).
ACK_MINUTES = (2, 4, 1, 9, 1)


def seed_shift_pages(users, now):
    schedule = Schedule.objects.filter(name="Primary On-Call").first()
    span = shifts.shift_at(schedule, now) if schedule else None
    ic = users["ic"]
    method = ic.contact_methods.order_by("id").first()
    if span is None or method is None:
        return 0
    incidents = (Incident.objects.filter(declared_at__gte=span.start, declared_at__lt=now,
                                         severity__lte=Severity.SEV3,
                                         title__in=[sc.title for sc in SCENARIOS])
                 .order_by("declared_at"))
    made = 0
    for n, incident in enumerate(incidents):
        source = f"incident:{incident.pk}"
        if Page.objects.filter(source=source).exists():
            continue
        created = incident.declared_at
        acked = min(created + timedelta(minutes=ACK_MINUTES[n % len(ACK_MINUTES)]), now)
        # One truth (README, Paging): the first of the page's and the incident's
        # acknowledgement is both's acknowledged time.
        if incident.acknowledged_at is not None:
            acked = min(acked, incident.acknowledged_at)
        if incident.acknowledged_at != acked:
            Incident.objects.filter(pk=incident.pk).update(acknowledged_at=acked)
        page = Page.objects.create(
            title=f"{incident.ref} {incident.title}",
            severity=Severity(incident.severity).label,
            link=f"{settings.SITE_URL}{incident.get_absolute_url()}",
            dedup_key=f"incident/{incident.ref}/{Severity(incident.severity).label}",
            source=source, escalate=incident.severity <= Severity.SEV2,
            snapshot={"levels": []}, created_at=created, cycle=0, next_level=1, current_level=1,
            status=PageStatus.ACKNOWLEDGED if incident.is_open else PageStatus.RESOLVED,
            acknowledged_at=acked, acknowledged_by=ic,
            resolved_at=None if incident.is_open else incident.resolved_at)
        Notification.objects.create(
            page=page, cycle=0, level=1, user=ic, contact_method=method, kind=method.kind,
            status=DeliveryStatus.SENT, due_at=created, queued_at=created,
            sending_at=created, sent_at=created + timedelta(seconds=2), attempts=1)
        PageEvent.objects.bulk_create([
            PageEvent(page=page, at=created, kind=PageEventKind.TRIGGERED,
                      text="Triggered (demo history)."),
            PageEvent(page=page, at=created + timedelta(seconds=2),
                      kind=PageEventKind.DELIVERED,
                      text=f"E-mail delivered to {ic.get_full_name()}."),
            PageEvent(page=page, at=acked, kind=PageEventKind.ACKNOWLEDGED,
                      text=f"Acknowledged by {ic.get_full_name()}."),
        ])
        made += 1
    return made
