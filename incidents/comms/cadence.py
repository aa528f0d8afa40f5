"""The §5.3 cadence: when the next status update of an incident is due, and the
reminder to its Communications Lead when it is late."""

import logging
from datetime import timedelta

from django.db.models import Max, Q
from django.utils import timezone

from oncall import notices

from .. import templating
from ..models import CommsStatus, Incident, Severity, Status

log = logging.getLogger(__name__)


# §5.3: "Status Update (Every 30 min for SEV-1/2)". Other severities have no cadence.
CADENCE = {Severity.SEV1: timedelta(minutes=30), Severity.SEV2: timedelta(minutes=30)}


def last_update_at(incident):
    """When the last update that was not a failure went out (any channel), or None."""
    return (incident.comms_updates.exclude(status=CommsStatus.FAILED)
            .aggregate(last=Max("created_at"))["last"])


def next_update_due(incident, *, last=None):
    """When the next update is due under §5.3, or None (no cadence, or resolved)."""
    interval = CADENCE.get(incident.severity)
    if interval is None or not incident.is_open:
        return None
    return (last or last_update_at(incident) or incident.declared_at) + interval


def remind_overdue(*, now=None):
    """Beat: remind the Communications Lead (or the commander when none) of each open
    SEV-1/2 incident whose update is overdue, once per 30-minute interval.

    The reminder's key names the interval's due time (the last update or declaration
    plus a whole number of intervals), so each interval reminds once however often
    this runs; a new update moves the due time on. Returns how many are overdue.
    """
    now = now or timezone.now()
    overdue = 0
    open_incidents = (Incident.objects.exclude(status=Status.RESOLVED)
                      .filter(severity__in=list(CADENCE))
                      .annotate(last=Max("comms_updates__created_at",
                                         filter=~Q(comms_updates__status=CommsStatus.FAILED)))
                      .select_related("communications_lead", "commander"))
    for incident in open_incidents:
        interval = CADENCE[incident.severity]
        base = incident.last or incident.declared_at
        if now < base + interval:
            continue
        due_at = base + interval * int((now - base) / interval)
        person = incident.communications_lead or incident.commander
        if person is None:
            continue
        late = templating.format_duration(now - (base + interval))
        link = incident.get_absolute_url()
        made = notices.notify(
            person, key=f"comms:{incident.pk}:{due_at:%Y%m%dT%H%M}",
            subject=("[TEST] " if incident.is_exercise else "")
            + f"[{Severity(incident.severity).label}] {incident.ref}: update overdue",
            text=f"The next status update for {incident.ref} {incident.title} was due "
                 f"{late} ago (every {int(interval.total_seconds() // 60)} minutes for "
                 f"SEV-1/2, handbook §5.3). Post one from the incident page.", link=link)
        overdue += 1
        log.debug("comms reminder %s: %d notice(s)", incident.ref, len(made))
    return overdue
