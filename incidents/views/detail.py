"""The incident page (`/incidents/<INC-ID>/`): finding its incident, its context, and the
one answer for each of its sections (header, roles, timeline, checklists), which the
section views in incidents.py, timeline.py and checklists.py share. The
communications and runbook sections load separately (comms.py, runbooks.py)."""

import functools
import uuid

from django.db import connection
from django.db.models import CharField, OuterRef, Prefetch, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.http import Http404, HttpResponse
from django.template.loader import render_to_string
from django.utils.functional import SimpleLazyObject
from django_htmx.http import trigger_client_event

from mindweave_ir.htmx import is_fragment
from mindweave_ir.live import pages as pages_cache
from mindweave_ir.live import versions
from mindweave_ir.live.models import LiveTopic
from oncall import paging
from oncall.models import Notification, Page, PageStatus

from .. import permissions, services
from ..forms import (
    ResolveForm,
    SeverityForm,
    TimelineEntryForm,
    TransitionForm,
    responder_users,
)
from ..models import ChecklistPhase, Incident
from .common import CHECKLIST_CHANGED, TIMELINE_CHANGED, incident_or_404, respond

DETAIL = "incidents/incident_detail.html"
TIMELINE_RECENT = 100  # entries shown before "Show the N earlier entries"


def with_live_version(queryset):
    """Each incident with `live_version`, its live topic's version, and `names_version`
    (people's, services' and integrations' names: incidents/freshness.py), read in the
    same query: the page polls with the version read before anything on it was, and
    its cached sections are keyed by both."""
    key = Concat(Value("incident:"), Cast(OuterRef("pk"), CharField()))
    topic = LiveTopic.objects.filter(key=key).values("version")[:1]
    names = LiveTopic.objects.filter(key=versions.NAMES).values("version")[:1]
    return queryset.annotate(live_version=Coalesce(Subquery(topic), 0),
                             names_version=Coalesce(Subquery(names), 0))


def incident_for_page(ref):
    """The incident with everything its page shows joined or prefetched, or 404."""
    return incident_or_404(ref, with_live_version(Incident.objects.select_related(
        "commander", "technical_lead", "communications_lead", "declared_by", "pir"
    ).prefetch_related("services", "responders")))


def page_versions(ref):
    """(the incident's version, the names' version) for the INC id, or 404: what its
    whole page is kept under, read before anything else. One statement written out,
    not compiled by the ORM on every view: it is all a repeat view runs."""
    with connection.cursor() as cursor:
        cursor.execute(_page_versions_sql(),
                       [versions.incident_key(""), versions.NAMES, ref.upper()])
        shown = cursor.fetchone()
    if shown is None:
        raise Http404("No such incident.")
    return shown


@functools.cache
def _page_versions_sql():
    # Names from the models' metadata, quoted; every value is a parameter.
    quote = connection.ops.quote_name
    topic, incident = quote(LiveTopic._meta.db_table), quote(Incident._meta.db_table)
    key, version = quote("key"), quote("version")
    by_key = f"(SELECT t.{version} FROM {topic} t WHERE t.{key} = %s"  # noqa: S608  # nosec B608
    return (f"SELECT COALESCE({by_key} || CAST(i.{quote('id')} AS TEXT)), 0),"  # noqa: S608
            f" COALESCE({by_key}), 0) FROM {incident} i WHERE i.{quote('ref')} = %s")  # nosec B608


def incident_for_section(ref):
    """The incident with what its separately loaded sections (communications, runbooks)
    show, or 404."""
    return incident_or_404(ref, Incident.objects.select_related(
        "commander", "communications_lead").prefetch_related("services"))


def timeline_context(request, incident):
    """The timeline to show: the latest TIMELINE_RECENT entries, oldest first, unless
    the reader asked for all (`?timeline=all`), and how many earlier ones were left out.
    A long incident's page stays as quick as a short one's (GitHub does the same)."""
    entries = (incident.timeline.filter(deleted_at__isnull=True)
               .select_related("author", "edited_by"))
    if request.GET.get("timeline") == "all":
        return {"entries": entries.order_by("occurred_at", "id"), "earlier": 0,
                "timeline_all": True}
    recent = list(entries.order_by("-occurred_at", "-id")[:TIMELINE_RECENT + 1])
    earlier = 0
    if len(recent) > TIMELINE_RECENT:
        earlier = entries.count() - TIMELINE_RECENT
        recent = recent[:TIMELINE_RECENT]
    return {"entries": recent[::-1], "earlier": earlier, "timeline_all": False}


def checklist_phases(incident):
    items = list(incident.checklist.select_related("done_by"))
    return [(phase, [i for i in items if i.phase == phase]) for phase in ChecklistPhase]


def pages(incident, user):
    """The incident's pages with who was notified: the escalation's health at a glance,
    and whether `user` may acknowledge each one right there (`can_ack`)."""
    rows = list(Page.objects.filter(source=f"incident:{incident.pk}")
                .select_related("acknowledged_by")
                .prefetch_related(Prefetch("notifications",
                                           queryset=Notification.objects.select_related("user")))
                .order_by("-created_at"))
    for page in rows:
        page.can_ack = (page.status == PageStatus.TRIGGERED
                        and paging.can_acknowledge(user, page))
    return rows


def _shown_versions(incident):
    """(the incident's version, the names' version), read before what they key."""
    if getattr(incident, "live_version", None) is not None:
        return incident.live_version, incident.names_version
    # Loaded without them (a section answering a write, after it committed).
    found = versions.versions(versions.incident_key(incident.pk), versions.NAMES)
    return found[versions.incident_key(incident.pk)], found[versions.NAMES]


def detail_context(request, incident, **overrides):
    """The incident page's context. Its costly sections (timeline, paging, checklists,
    alerts) are cached by the template under the versions of what they show, read
    before them; their rows are read only on a miss (the callables below). Sections
    with forms are keyed by the viewer and their session's CSRF secret; a page
    rendered with extras (a refusal's error) neither reads nor stores the cache."""
    user = request.user
    shown = _shown_versions(incident)
    if overrides:
        shown += (uuid.uuid4().hex,)
    can_edit = permissions.can_edit(user, incident)
    timeline = SimpleLazyObject(lambda: timeline_context(request, incident))
    csrf = pages_cache.csrf_identity(request)
    context = {
        "incident": incident,
        "can_command": permissions.can_command(user, incident),
        "can_edit": can_edit,
        "can_join": permissions.can_join(user, incident)
                    and not permissions.works_on(user, incident),
        "transition_form": TransitionForm(),
        "resolve_form": ResolveForm(),
        "severity_form": SeverityForm(initial={"to": incident.severity}),
        "role_users": responder_users(),
        "incident_roles": [(field, label, getattr(incident, field))
                           for field, label in services.ROLE_FIELDS.items()],
        "entry_form": TimelineEntryForm(),
        # Callables: the template calls them only where the timeline is rendered.
        "entries": lambda: timeline["entries"],
        "earlier": lambda: timeline["earlier"],
        "timeline_all": request.GET.get("timeline") == "all",
        "timeline_key": (shown, can_edit and csrf),
        "own_key": (shown, user.pk, csrf),
        "shared_key": shown,
        "cache_seconds": 0 if overrides else versions.FRAGMENT_SECONDS,
        "phases": functools.partial(checklist_phases, incident),
        "pages": functools.partial(pages, incident, user),
    }
    return context | overrides


def respond_section(request, incident, partial, *, status=200, timeline_changed=False,
                    **context):
    """One section of the incident page for HTMX, the whole page otherwise; a successful
    plain POST redirects back to the page."""
    return respond(request, DETAIL, lambda: detail_context(request, incident, **context),
                   partial=partial, status=status, redirect_to=incident,
                   timeline_changed=timeline_changed)


def respond_sections(request, incident, partial, *, oob=(), status=200,
                     timeline_changed=False, **context):
    """Like respond_section, with the other sections the action changed (`oob`, partial
    names) swapped out of band in the same HTMX answer: the page updates in place."""
    if not is_fragment(request):
        return respond_section(request, incident, partial, status=status,
                               timeline_changed=timeline_changed, **context)
    ctx = detail_context(request, incident, **context)
    html = render_to_string(f"{DETAIL}#{partial}", ctx, request)
    for name in oob:
        html += render_to_string(f"{DETAIL}#{name}", {**ctx, "oob": True}, request)
    response = HttpResponse(html, status=status)
    if timeline_changed:
        trigger_client_event(response, TIMELINE_CHANGED)
        trigger_client_event(response, CHECKLIST_CHANGED)
    return response
