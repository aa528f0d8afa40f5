"""What every incidents view shares: finding the incident named in the URL, and the one
way a section of a page answers (HTMX fragment, whole page, or redirect).

Refusals (a service's IncidentError, PermissionDenied) become a status and a message
through mindweave_ir.errors.refusal, re-exported here for the views.
"""

from django.shortcuts import get_object_or_404, redirect, render
from django_htmx.http import trigger_client_event

from mindweave_ir.errors import refusal
from mindweave_ir.htmx import is_fragment

from ..models import Incident

__all__ = ["CHECKLIST_CHANGED", "TIMELINE_CHANGED", "incident_or_404", "refusal", "respond"]

# The client event that makes the incident page's timeline fetch itself again.
TIMELINE_CHANGED = "timeline-changed"
# ... and its checklists: a verb that writes on the timeline may also have ticked an
# item the system observed (roles assigned, first update sent, acknowledged).
CHECKLIST_CHANGED = "checklist-changed"


def incident_or_404(ref, queryset=None):
    """The incident with this INC id (in any case) from `queryset` (default: every
    incident, nothing joined), or 404."""
    return get_object_or_404(Incident.objects if queryset is None else queryset,
                             ref=ref.upper())


def respond(request, template, context, *, partial=None, page=None, status=200,
            redirect_to=None, timeline_changed=False):
    """One section of a page, answered the way the request asks:

    1. A plain (non-HTMX) POST that succeeded redirects to `redirect_to`
       (post/redirect/get).
    2. An HTMX request gets only what it swaps: `template#partial` (the partial named
       like the DOM id it replaces), or `template` itself when there is no partial.
    3. Anything else gets the whole page: `page`, else `template`.

    `context` is a function returning the template's context, called only when
    something is rendered. `timeline_changed` tells the incident page to refresh its
    timeline (the section wrote an entry) and its checklists.
    """
    if not is_fragment(request) and request.method == "POST" and status < 400:
        return redirect(redirect_to)
    if is_fragment(request):
        name = f"{template}#{partial}" if partial else template
    else:
        name = page or template
    response = render(request, name, context(), status=status)
    if timeline_changed:
        trigger_client_event(response, TIMELINE_CHANGED)
        trigger_client_event(response, CHECKLIST_CHANGED)
    return response
