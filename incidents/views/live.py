"""Live updates (README "Live updates"): the incident page and the dashboard poll
these every 2 s with the version they show.

Unchanged: 204 with no body, after one query (plus the session's): the version is
read first and nothing is rendered. Changed: the page's sections, rendered by the
same partials as the page, wrapped with the version read before rendering them
(a write landing meanwhile only makes the next poll render again). static/js/live.js
swaps each section by id and keeps what the user is typing.
"""

from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mindweave_ir.live import versions

from .comms import PANEL as COMMS
from .comms import comms_context
from .detail import DETAIL, detail_context, incident_for_page, page_versions
from .incidents import dashboard_context
from .runbooks import RUNBOOKS, runbooks_context

# The incident page's sections, in page order, each a partial named like its DOM id.
SECTIONS = ["incident-header", "incident-timeline", "timeline-form", "incident-roles",
            "incident-paging", "incident-checklist"]
ALERTS = "incidents/alerts/_incident_alerts.html"


@require_GET
@never_cache
def incident_live(request, ref):
    """The incident page's sections if its version moved past `?v=`, else 204. Same
    access as the page: anyone logged in reads incidents."""
    current = page_versions(ref)[0]
    if versions.unchanged(request, current):
        return versions.no_change()
    incident = incident_for_page(ref)
    context = detail_context(request, incident)
    sections = [render_to_string(f"{DETAIL}#{name}", context, request) for name in SECTIONS]
    sections.append(render_to_string(ALERTS, context, request))
    sections.append(render_to_string(f"{COMMS}#incident-comms",
                                     comms_context(request, incident), request))
    sections.append(render_to_string(f"{RUNBOOKS}#incident-runbooks",
                                     runbooks_context(request, incident), request))
    return versions.changed(sections, current)


@require_GET
@never_cache
def dashboard_live(request):
    """The dashboard's sections if anything it shows changed since `?v=`, else 204."""
    current = versions.version(versions.DASHBOARD)
    if versions.unchanged(request, current):
        return versions.no_change()
    section = render_to_string("incidents/dashboard.html#dashboard-live",
                               dashboard_context(request, current), request)
    return versions.changed([section], current)
