"""The incident's §3.2 / §3.4 checklists: ticking an item, waiving one with a reason."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_POST

from .. import services
from ..forms import WaiveForm
from ..models import ChecklistItem
from .common import refusal
from .detail import incident_for_page, respond_section


def _checklist_item(incident, pk):
    return get_object_or_404(ChecklistItem.objects.select_related("incident"),
                             pk=pk, incident=incident)


@require_GET
def checklist(request, ref):
    """The checklists section alone: the page refetches it after a verb that may have
    ticked an item the system observed (the `checklist-changed` event)."""
    return respond_section(request, incident_for_page(ref), "incident-checklist")


@require_POST
def checklist_toggle(request, ref, pk):
    incident = incident_for_page(ref)
    item = _checklist_item(incident, pk)
    try:
        services.set_checklist_item(item, done=request.POST.get("done") == "on",
                                    by=request.user)
    except PermissionDenied as exc:
        return respond_section(request, incident, "incident-checklist", status=403,
                               checklist_error=str(exc))
    return respond_section(request, incident, "incident-checklist")


@require_POST
def checklist_waive(request, ref, pk):
    incident = incident_for_page(ref)
    item = _checklist_item(incident, pk)
    form = WaiveForm(request.POST)
    if not form.is_valid():
        return respond_section(request, incident, "incident-checklist", status=400,
                               checklist_error=f"Say why “{item.text}” is waived.")
    try:
        services.waive_checklist_item(item, reason=form.cleaned_data["reason"], by=request.user)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = refusal(exc)
        return respond_section(request, incident, "incident-checklist", status=status,
                               checklist_error=message)
    return respond_section(request, incident, "incident-checklist", timeline_changed=True)
