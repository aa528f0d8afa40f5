"""Everything a shift saw, gathered for the outgoing on-call (§2.3 "End of Shift").

`gather` returns plain values (dicts, lists, datetimes) so the same shape can be
shown live on a draft and frozen into `Handoff.activity` (JSON) at hand-off;
`revive` turns the frozen JSON back into the same shape. A fixed number of
queries, whatever the number of incidents; each list is capped at LIMIT rows with
the full count beside it.

Time boundaries: the shift is [shift_start, shift_end) in UTC (its instants come
from the rotation in the schedule's own zone); while the shift is still running,
everything is cut at `now`.
"""

import functools
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from incidents.models import Incident, Severity
from mindweave_ir.templatetags.mw import display_name
from oncall.models import Page

from .models import CLOSED_ACTION_STATUSES, ActionItem

LIMIT = 100
ACK_TARGET_SECONDS = 5 * 60  # §2.2: acknowledge all pages within 5 minutes


_name = functools.partial(display_name, missing="")


def _incident(incident, outgoing_id):
    return {
        "ref": incident.ref, "title": incident.title, "url": incident.get_absolute_url(),
        "is_test": incident.is_exercise,
        "severity": Severity(incident.severity).label, "severity_value": incident.severity,
        "status": incident.get_status_display(), "commander": _name(incident.commander),
        "declared_at": incident.declared_at, "resolved_at": incident.resolved_at,
        "theirs": outgoing_id is not None and outgoing_id in (
            incident.commander_id, incident.technical_lead_id, incident.communications_lead_id),
    }


def _rows(queryset, outgoing_id):
    rows = list(queryset[:LIMIT + 1])
    return {"count": len(rows) if len(rows) <= LIMIT else queryset.count(),
            "rows": [_incident(i, outgoing_id) for i in rows[:LIMIT]]}


def page_row(page):
    """One page as the handoff lists it: time to acknowledge against the §2.2 target."""
    seconds = None
    if page.acknowledged_at:
        seconds = max(0, int((page.acknowledged_at - page.created_at).total_seconds()))
    return {
        "title": page.title, "severity": page.severity, "url": page.get_absolute_url(),
        "is_test": page.is_test,
        "status": page.get_status_display(), "created_at": page.created_at,
        "acknowledged_at": page.acknowledged_at,
        "acknowledged_by": _name(page.acknowledged_by), "ack_seconds": seconds,
        "within_target": seconds is not None and seconds <= ACK_TARGET_SECONDS,
    }


def gather(handoff, now):
    """The shift's incidents, pages, the outgoing's open action items and checklist."""
    start, cut = handoff.shift_start, min(handoff.shift_end, now)
    outgoing = handoff.outgoing_id
    incidents = Incident.objects.select_related("commander").order_by("severity", "declared_at")
    opened = incidents.filter(declared_at__gte=start, declared_at__lt=cut)
    resolved = incidents.filter(resolved_at__gte=start, resolved_at__lt=cut)
    active = incidents.filter(declared_at__lt=cut).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gte=cut))
    pages = (Page.objects.filter(notifications__user_id=outgoing, created_at__gte=start,
                                 created_at__lt=cut)
             .select_related("acknowledged_by").distinct().order_by("created_at")[:LIMIT])
    pages = [page_row(p) for p in pages] if outgoing else []
    items = (ActionItem.objects.filter(owner_id=outgoing).exclude(status__in=CLOSED_ACTION_STATUSES)
             .select_related("pir__incident").order_by("due_date", "id")[:LIMIT])
    checks = handoff.checks.select_related("done_by")
    acked = [p["ack_seconds"] for p in pages if p["ack_seconds"] is not None]
    today = timezone.localdate(now)
    return {
        "gathered_at": now, "until": cut,
        "opened": _rows(opened, outgoing), "active": _rows(active, outgoing),
        "resolved": _rows(resolved, outgoing),
        "pages": pages, "pages_acknowledged": len(acked),
        "pages_within_target": sum(s <= ACK_TARGET_SECONDS for s in acked),
        "action_items": [{
            "action": item.action, "priority": item.priority, "due_date": item.due_date,
            "status": item.get_status_display(), "overdue": item.is_overdue(today),
            "incident": item.pir.incident.ref, "url": item.pir.get_absolute_url(),
        } for item in items],
        "checklist": [{
            "phase": check.get_phase_display(), "text": check.text, "done_at": check.done_at,
            "done_by": _name(check.done_by),
        } for check in checks],
    }


def _revive_value(key, value):
    if isinstance(value, str) and (key.endswith("_at") or key == "until"):
        try:
            return datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return value
    if key == "due_date" and isinstance(value, str):
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            return value
    return revive(value)


def revive(data):
    """Frozen JSON activity back to the shape `gather` returns (datetimes parsed)."""
    if isinstance(data, dict):
        return {key: _revive_value(key, value) for key, value in data.items()}
    if isinstance(data, list):
        return [revive(value) for value in data]
    return data
