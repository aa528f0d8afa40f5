"""Resolved incidents with their reviews, made the way real use makes them."""

from datetime import timedelta

from django.utils import timezone

from incidents import services as incident_services
from incidents.models import ChecklistPhase, Severity
from reports.models import PostIncidentReview
from reports.services import pir as services


def resolved_incident(by, **kwargs):
    """Declare, settle every closure item, resolve: what opens a review."""
    incident = incident_services.declare_incident(
        title="Checkout errors", severity=Severity.SEV2, by=by,
        customer_impact="Some customers could not pay.", **kwargs)
    for item in incident.checklist.filter(phase=ChecklistPhase.CLOSURE):
        incident_services.set_checklist_item(item, done=True, by=by)
    incident_services.resolve_incident(incident, resolution="Rolled back release 42.", by=by)
    incident.refresh_from_db()
    return incident


def resolved_pir(by, *, title="Checkout API returning errors", started=None):
    """Declare, tick the closure checklist and resolve: the resolve hook opens the review."""
    incident = incident_services.declare_incident(
        title=title, severity=Severity.SEV2, by=by, page_oncall=False,
        started_at=started, detected_at=started)
    for item in incident.checklist.filter(phase=ChecklistPhase.CLOSURE):
        incident_services.set_checklist_item(item, done=True, by=by)
    incident_services.resolve_incident(incident, resolution="Rolled back the deploy.", by=by)
    return PostIncidentReview.objects.get(incident=incident)


def finish_sections(pir, by):
    """Write what approval needs besides the analysis: impact, lessons, and prevention
    measures in place of the template's `[condition]`/`[scenario]`/`[safeguard]`."""
    pir = PostIncidentReview.objects.get(pk=pir.pk)
    if not pir.impact.strip():
        pir = services.update_section(pir, section="summary", by=by,
                                      expected_version=pir.version,
                                      data={"impact": "Some customers could not pay."})
    pir = services.update_section(pir, section="lessons", by=by, expected_version=pir.version,
                                  data={"went_well": "Paging reached the on-call at once.",
                                        "could_improve": "No canary caught the release."})
    services.set_prevention(pir, by=by, expected_version=pir.version,
                            measures=[("Add monitoring for checkout error rate", False),
                                      ("Implement a canary for payment releases", False)])
    return PostIncidentReview.objects.get(pk=pir.pk)


def ready_for_review(pir, by, owner):
    """Fill what submit and approve need, through the services."""
    pir = finish_sections(pir, by)
    pir = services.update_section(pir, section="root_cause", data={
        "why_it_happened": "A config flag shipped on by default."},
        expected_version=pir.version, by=by)
    services.add_action_item(pir, action="Add a canary for config flags", owner=owner,
                             due_date=timezone.localdate() + timedelta(days=7), by=by)
    return PostIncidentReview.objects.get(pk=pir.pk)
