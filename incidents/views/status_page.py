"""The public status page (`/status/`, `/status/index.json`), no login.

What leaves here is built from an explicit list of columns: service names, and the
published status-page updates (state, subject, body, time) with their incident's
id and open/resolved times. Never an incident's title, description, impact,
resolution, timeline or people. Drills (tests, game days) are not shown. Bodies are
plain text, escaped by the template.
"""

from collections import defaultdict
from datetime import timedelta

from django.contrib.auth.decorators import login_not_required
from django.db.models import Min, Q
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from ..models import CommsKind, CommsStatus, CommsUpdate, Exercise, Incident, Service, Status

RESOLVED_DAYS = 90


class ComponentState:
    OPERATIONAL = "operational"
    DEGRADED = "degraded_performance"
    PARTIAL = "partial_outage"
    MAJOR = "major_outage"


STATE_LABELS = {
    ComponentState.OPERATIONAL: "Operational",
    ComponentState.DEGRADED: "Degraded performance",
    ComponentState.PARTIAL: "Partial outage",
    ComponentState.MAJOR: "Major outage",
}
# Worst open severity -> component state (SEV-1 is 1).
SEVERITY_STATE = {1: ComponentState.MAJOR, 2: ComponentState.PARTIAL,
                  3: ComponentState.DEGRADED, 4: ComponentState.DEGRADED}
STATE_RANK = [ComponentState.OPERATIONAL, ComponentState.DEGRADED, ComponentState.PARTIAL,
              ComponentState.MAJOR]


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def public_status(now=None):
    """Everything the public page shows, as plain data (the JSON is this, serialised).

    1. Components: every service, in the state of its worst open real incident.
    2. Incidents with at least one published update: open ones, and those resolved in
       the last 90 days; each with its updates, newest first.
    """
    now = now or timezone.now()
    real_open = Incident.objects.filter(exercise=Exercise.REAL).exclude(status=Status.RESOLVED)
    worst = dict(Service.objects.filter(incidents__in=real_open)
                 .annotate(worst=Min("incidents__severity", filter=Q(incidents__in=real_open)))
                 .values_list("pk", "worst"))
    components = []
    for pk, name, slug in Service.objects.order_by("name").values_list("pk", "name", "slug"):
        state = SEVERITY_STATE.get(worst.get(pk), ComponentState.OPERATIONAL)
        components.append({"name": name, "slug": slug, "status": state,
                           "status_label": STATE_LABELS[state]})
    updates = (CommsUpdate.objects
               .filter(channel=CommsKind.STATUS_PAGE, status=CommsStatus.SENT,
                       incident__exercise=Exercise.REAL)
               .filter(Q(incident__resolved_at__isnull=True)
                       | Q(incident__resolved_at__gte=now - timedelta(days=RESOLVED_DAYS)))
               .order_by("-created_at", "-id")
               .values("incident_id", "incident__ref", "incident__status",
                       "incident__resolved_at", "state", "subject", "body", "created_at"))
    by_incident = defaultdict(list)
    heads = {}
    for row in updates:
        by_incident[row["incident_id"]].append({
            "status": row["state"], "title": row["subject"], "body": row["body"],
            "created_at": _iso(row["created_at"]), "at": row["created_at"],
        })
        heads.setdefault(row["incident_id"], row)
    names = defaultdict(list)
    through = Incident.services.through.objects.filter(incident_id__in=list(by_incident))
    for incident_id, name in through.values_list("incident_id", "service__name"):
        names[incident_id].append(name)
    active, resolved = [], []
    for incident_id, items in by_incident.items():
        head = heads[incident_id]
        is_open = head["incident__status"] != Status.RESOLVED
        entry = {
            "id": head["incident__ref"], "name": items[0]["title"], "status": items[0]["status"],
            "components": sorted(names[incident_id]),
            "started_at": items[-1]["created_at"], "updated_at": items[0]["created_at"],
            "resolved_at": None if is_open else _iso(head["incident__resolved_at"]),
            "updates": items,
        }
        (active if is_open else resolved).append(entry)
    overall = max((c["status"] for c in components), key=STATE_RANK.index,
                  default=ComponentState.OPERATIONAL)
    return {
        "status": {"indicator": overall, "description": (
            "All systems operational" if overall == ComponentState.OPERATIONAL
            else STATE_LABELS[overall])},
        "components": components, "active": active, "resolved": resolved,
        "generated_at": _iso(now),
    }


@login_not_required
@require_GET
@cache_control(max_age=30, public=True)
def status_page(request):
    return render(request, "status/status_page.html", {"page": public_status()})


@login_not_required
@require_GET
@cache_control(max_age=30, public=True)
def status_json(request):
    data = public_status()
    for incident in data["active"] + data["resolved"]:
        for update in incident["updates"]:
            update.pop("at")
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})
