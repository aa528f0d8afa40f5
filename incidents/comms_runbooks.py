"""Runbooks on an incident (handbook §4): which ones fit, attaching one, ticking steps.

Split from comms.py (services) to keep each module small; same rules: every write
checks permission, runs in a transaction and writes the timeline.
"""

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from . import permissions
from .models import Runbook, RunbookAttachment, RunbookStepTick, TimelineKind
from .services import IncidentError, _locked, _log, _name, _require


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


@transaction.atomic
def attach(incident, *, runbook_id, by):
    """Attach a runbook to the incident (an IC's call)."""
    incident = _locked(incident)
    _require(permissions.can_command(by, incident),
             "Only the incident's commander, Incident Commanders and Managers attach runbooks.")
    runbook = Runbook.objects.filter(pk=runbook_id or 0).first() \
        if str(runbook_id or "").isdigit() else None
    if runbook is None:
        raise IncidentError("Choose a runbook.")
    attachment, made = RunbookAttachment.objects.get_or_create(
        incident=incident, runbook=runbook, defaults={"attached_by": by})
    if not made:
        raise IncidentError(f"“{runbook.title}” is already attached.")
    _log(incident, TimelineKind.COMMS, f"Runbook **{runbook.title}** attached by {_name(by)}.",
         by=by)
    return attachment


@transaction.atomic
def tick(attachment, *, position, done, by):
    """Tick (or untick) one step of an attached runbook, recording who and when."""
    incident = _locked(attachment.incident)
    _require(permissions.can_edit(by, incident),
             "Only people working on this incident may tick runbook steps.")
    steps = attachment.runbook.steps()
    if not 0 <= position < len(steps):
        raise IncidentError("That step is not in the runbook.")
    if done:
        RunbookStepTick.objects.get_or_create(
            attachment=attachment, position=position,
            defaults={"text": steps[position], "done_by": by, "done_at": timezone.now()})
    else:
        RunbookStepTick.objects.filter(attachment=attachment, position=position).delete()
    return attachment
