"""Resolved incidents with their reviews, made the way real use makes them."""

from incidents import services as incident_services
from incidents.models import ChecklistPhase, Severity


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
