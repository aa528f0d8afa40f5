"""The public status page (`/status/`, `/status/index.json`), no login.

What leaves here is built from an explicit list of columns: service names, and the
published status-page updates (state, component state, subject, body, time) with
their incident's id and open/resolved times. A component's state comes only from a
published update (its sender chose it), so an unpublished incident changes nothing.
Never an incident's title, description, impact, resolution, timeline or people.
Drills (tests, game days) are not shown. Bodies are plain text, escaped by the template.
"""

from collections import defaultdict
from datetime import timedelta

from django.contrib.auth.decorators import login_not_required
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from ..models import (
    CommsKind,
    CommsStatus,
    CommsUpdate,
    ComponentState,
    Exercise,
    Incident,
    PublicState,
    Service,
    Status,
)

RESOLVED_DAYS = 90


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def _banner(components, active):
    """The headline, from the same data as the lists below it, so the two agree."""
    worst = ComponentState.worst(c["status"] for c in components)
    if worst != ComponentState.OPERATIONAL:
        description = worst.label
    elif active:
        description = (f"{len(active)} active incident{'s' if len(active) != 1 else ''}; "
                       "all components operational")
    else:
        description = "All systems operational"
    return {"indicator": worst.value, "description": description}


def _public_title(items, is_open):
    """The name the incident is listed under. Open: its latest headline. Resolved: the
    headline of its published resolution if there is one, else the name it was first
    announced under (never a later "monitoring" headline under a "Resolved" badge)."""
    if is_open:
        return items[0]["title"]
    for item in items:
        if item["status"] == PublicState.RESOLVED:
            return item["title"]
    return items[-1]["title"]


def public_status(now=None):
    """Everything the public page shows, as plain data (the JSON is this, serialised).

    Only what was published counts: an incident nobody wrote a status-page update
    about changes nothing here, however severe.
    1. Published status-page updates of real incidents, open ones and those resolved
       in the last 90 days, newest first, grouped by incident.
    2. Components: every service; one an open incident affects shows the component
       state of that incident's latest published update (the worst, if several).
    3. Incidents: open ones are active, under their latest headline and state;
       resolved ones are listed as resolved, under their public title.
    4. The banner: the worst component state, or the active incidents if all are
       operational.
    """
    now = now or timezone.now()
    updates = (CommsUpdate.objects
               .filter(channel=CommsKind.STATUS_PAGE, status=CommsStatus.SENT,
                       incident__exercise=Exercise.REAL)
               .filter(Q(incident__resolved_at__isnull=True)
                       | Q(incident__resolved_at__gte=now - timedelta(days=RESOLVED_DAYS)))
               .order_by("-created_at", "-id")
               .values("incident_id", "incident__ref", "incident__status",
                       "incident__resolved_at", "state", "component_state", "subject", "body",
                       "created_at"))
    by_incident = defaultdict(list)
    heads = {}
    for row in updates:
        by_incident[row["incident_id"]].append({
            "status": row["state"], "title": row["subject"], "body": row["body"],
            "created_at": _iso(row["created_at"]), "at": row["created_at"],
        })
        heads.setdefault(row["incident_id"], row)
    affected = defaultdict(list)  # incident id -> [(service id, name)]
    through = Incident.services.through.objects.filter(incident_id__in=list(by_incident))
    for incident_id, service_id, name in through.values_list(
            "incident_id", "service_id", "service__name"):
        affected[incident_id].append((service_id, name))
    shown = defaultdict(list)  # service id -> published states of its open incidents
    active, resolved = [], []
    for incident_id, items in by_incident.items():
        head = heads[incident_id]
        # Resolved publicly once either side says so: a reopened incident whose last
        # published word is "resolved" stays resolved here until a new update says more.
        published_resolved = head["state"] == PublicState.RESOLVED
        is_open = head["incident__status"] != Status.RESOLVED and not published_resolved
        if is_open:
            for service_id, _ in affected[incident_id]:
                shown[service_id].append(head["component_state"] or ComponentState.OPERATIONAL)
        entry = {
            "id": head["incident__ref"], "name": _public_title(items, is_open),
            "status": items[0]["status"] if is_open else PublicState.RESOLVED.value,
            "components": sorted(name for _, name in affected[incident_id]),
            "started_at": items[-1]["created_at"], "updated_at": items[0]["created_at"],
            "resolved_at": None if is_open else _iso(
                head["incident__resolved_at"] or head["created_at"]),
            "updates": items,
        }
        (active if is_open else resolved).append(entry)
    components = []
    for pk, name, slug in Service.objects.order_by("name").values_list("pk", "name", "slug"):
        state = ComponentState.worst(shown.get(pk, ()))
        components.append({"name": name, "slug": slug, "status": state.value,
                           "status_label": state.label})
    return {
        "status": _banner(components, active),
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
