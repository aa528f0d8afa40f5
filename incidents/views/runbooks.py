"""The incident page's runbooks section (handbook §4; HTMX fragment): the runbooks that
fit the incident (its services, its alerts' names), attaching one, ticking its steps.
Without JavaScript it is a page of its own."""

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .. import permissions, services
from ..models import Runbook, RunbookAttachment, RunbookStepTick
from .common import refusal, respond
from .detail import incident_for_section

RUNBOOKS = "incidents/comms/runbooks_panel.html"


def alert_names(incident):
    """The `alertname` labels of the incident's alerts (none when it has no alerts)."""
    alerts = getattr(incident, "alerts", None)
    if alerts is None:
        return set()
    names = set()
    for labels in alerts.values_list("labels", flat=True)[:200]:
        if isinstance(labels, dict) and labels.get("alertname"):
            names.add(str(labels["alertname"]))
    return names


def suggested(incident):
    """Runbooks for the incident's services or its alerts' names, not yet attached;
    those matching both first."""
    service_ids = {s.pk for s in incident.services.all()}
    names = alert_names(incident)
    taken = set(incident.runbooks.values_list("runbook_id", flat=True))
    scored = []
    for runbook in Runbook.objects.prefetch_related("services"):
        if runbook.pk in taken:
            continue
        by_service = bool(service_ids & {s.pk for s in runbook.services.all()})
        by_alert = bool(names & set(runbook.alert_name_list()))
        if by_service or by_alert:
            scored.append((-(by_service + by_alert), runbook.title, runbook))
    return [runbook for *_, runbook in sorted(scored, key=lambda x: x[:2])]


def attached(incident):
    """The incident's runbooks, each with its steps as (position, text, tick or None)."""
    rows = incident.runbooks.select_related("runbook", "attached_by").prefetch_related(
        Prefetch("ticks", queryset=RunbookStepTick.objects.select_related("done_by")))
    result = []
    for attachment in rows:
        ticks = {t.position: t for t in attachment.ticks.all()}
        steps = [(i, text, ticks.get(i)) for i, text in enumerate(attachment.runbook.steps())]
        result.append((attachment, steps))
    return result


def runbooks_context(request, incident, **extra):
    """The section's context (also rendered by the live update, views/live.py)."""
    return {
        "incident": incident,
        "can_attach": permissions.can_command(request.user, incident),
        "can_tick": permissions.can_edit(request.user, incident),
        "attached": attached(incident),
        "suggested": suggested(incident),
        **extra,
    }


def _respond(request, incident, *, status=200, **extra):
    """The section for HTMX, else its own page; a successful plain POST redirects."""
    return respond(request, RUNBOOKS, lambda: runbooks_context(request, incident, **extra),
                   partial="incident-runbooks", page="incidents/comms/runbooks_page.html",
                   status=status,
                   redirect_to=reverse("incidents:runbooks", args=[incident.ref]))


@require_GET
def runbooks_panel(request, ref):
    return _respond(request, incident_for_section(ref))


@require_POST
def runbook_attach(request, ref):
    incident = incident_for_section(ref)
    try:
        services.attach_runbook(incident, runbook_id=request.POST.get("runbook"),
                              by=request.user)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = refusal(exc)
        return _respond(request, incident, status=status, runbook_error=message)
    return _respond(request, incident)


@require_POST
def runbook_tick(request, ref, pk, position):
    incident = incident_for_section(ref)
    attachment = get_object_or_404(RunbookAttachment, pk=pk, incident=incident)
    try:
        services.tick_runbook_step(attachment, position=position,
                                   done=bool(request.POST.get("done")), by=request.user)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = refusal(exc)
        return _respond(request, incident, status=status, runbook_error=message)
    return _respond(request, incident)
