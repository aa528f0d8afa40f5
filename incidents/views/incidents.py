"""Incidents: the IC dashboard, the incident list, the declare wizard, the incident page
and its header actions (status, resolve, severity, roles, join). Thin: load, check the
form, call a service, render or redirect.

An HTMX request (not boosted) gets only the fragment it swaps: the partial named
like the DOM id it replaces. Refusals come back as 4xx with the reason in the
fragment (htmx is configured to swap 4xx, see base.html).
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from mindweave_ir import tables
from mindweave_ir.csv_export import csv_response
from mindweave_ir.htmx import is_fragment
from mindweave_ir.live import pages as page_cache
from mindweave_ir.live import versions
from oncall import paging
from oncall.dashboard import cached_on_call_panel
from oncall.models import Page, PageStatus

from .. import classification, permissions, services
from ..filters import IncidentFilter
from ..forms import (
    ClassificationForm,
    DeclareForm,
    ResolveCommsForm,
    ResolveForm,
    RoleForm,
    SeverityForm,
    TransitionForm,
)
from ..models import Incident, Severity, Status
from ..tables import IncidentTable
from .common import refusal
from .detail import (
    DETAIL,
    detail_context,
    incident_for_page,
    page_versions,
    respond_section,
    respond_sections,
)
from .triage import report_to_declare

DASHBOARD_LIMIT = 50

# --- Dashboard and list -------------------------------------------------------------

# Panels the apps above add to the dashboard (incidents never imports them): each a
# template and a function (request, now) -> the dict the template gets as `panel`.
_dashboard_panels = []


def add_dashboard_panel(template, context):
    if (template, context) not in _dashboard_panels:
        _dashboard_panels.append((template, context))


@require_GET
def dashboard(request):
    """Active incidents worst first, with SLA timers; "my incidents". It updates itself
    live (views/live.py) from the version read here, before anything else."""
    live_version = versions.version(versions.DASHBOARD)

    def page():
        context = dashboard_context(request, live_version)
        return render(request, "incidents/dashboard.html", context), context["valid_until"]

    # Whole, per viewer, under the same version (mindweave_ir/live/pages.py).
    return page_cache.serve(request, ("dashboard", live_version), page)


def dashboard_context(request, live_version):
    """What the dashboard shows (its live update renders the same). `live_version` is
    DASHBOARD's version, read before anything else: the costly tables are cached
    under it (the template's `{% cache %}`), so the queries below run only when a
    write moved it — querysets stay lazy and `counts` is computed on first use."""
    active = (Incident.objects.exclude(status=Status.RESOLVED)
              .select_related("commander").prefetch_related("services")
              .order_by("severity", "detected_at"))  # SEV-1 is 1: worst first
    # Joined responders through a subquery: a join would need DISTINCT over every column.
    joined = Incident.responders.through.objects.filter(user=request.user).values("incident_id")
    mine = active.filter(Q(commander=request.user) | Q(technical_lead=request.user)
                         | Q(communications_lead=request.user) | Q(pk__in=joined))
    counts = SimpleLazyObject(lambda: Incident.objects.exclude(status=Status.RESOLVED).aggregate(
        total=Count("id"), **{f"sev{s}": Count("id", filter=Q(severity=s)) for s in Severity}))
    now = timezone.now()
    my_pages = (Page.objects.filter(status=PageStatus.TRIGGERED, notifications__user=request.user)
                .distinct().order_by("created_at")[:DASHBOARD_LIMIT])
    on_call, valid_until = cached_on_call_panel(now, live_version)
    panels = [{"template": template, "panel": context(request, now)}
              for template, context in _dashboard_panels]
    # The first instant a panel changes by time alone (a shift starts, a handoff is
    # due to be prepared): a kept dashboard is not served from then on.
    valid_until = min([valid_until] + [p["panel"]["valid_until"] for p in panels
                                       if p["panel"].get("valid_until")])
    return {
        "live_version": live_version,
        "valid_until": valid_until,
        "on_call": on_call,
        "my_pages": my_pages,
        "panels": panels,
        "active": active[:DASHBOARD_LIMIT],
        "mine": mine[:DASHBOARD_LIMIT],
        "counts": counts,
        "limit": DASHBOARD_LIMIT,
        "can_declare": permissions.can_declare(request.user),
        "cache_seconds": versions.FRAGMENT_SECONDS,
    }


@require_GET
def incident_list(request):
    """Every incident: filters, sortable paginated table, CSV of the filtered rows.

    The filters and the table are cached under DASHBOARD's version (every write to an
    incident, a service or a person moves it; incidents/freshness.py) and the query
    string: a repeat of the same list runs no query."""
    if request.GET.get("format") == "csv":
        table = IncidentTable(_filtered(request.GET)[1])
        tables.configure(request, table)
        return csv_response(table, "incidents.csv")
    live_version = versions.version(versions.DASHBOARD)
    partial = "incident-table" if is_fragment(request) else "incident-list-body"

    def body():
        filterset, rows = _filtered(request.GET)
        table = tables.configure(request, IncidentTable(rows), per_page=25)
        return render_to_string(f"incidents/incident_list.html#{partial}",
                                {"filter": filterset, "table": table}, request)

    def html():
        return versions.cached(("incident-list", partial, live_version,
                                timezone.get_current_timezone_name(), request.GET.urlencode()),
                               body)

    if partial == "incident-table":
        return HttpResponse(html())
    return page_cache.serve(request, ("incident-list", live_version), lambda: (render(
        request, "incidents/incident_list.html",
        {"list_body": html(), "can_declare": permissions.can_declare(request.user)}), None))


def _filtered(params):
    queryset = Incident.objects.select_related("commander").prefetch_related("services")
    filterset = IncidentFilter(params or None, queryset=queryset)
    return filterset, (filterset.qs if filterset.is_bound and filterset.is_valid()
                       else queryset)


# --- Declare wizard -------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def declare(request):
    """Declare through the §1.2 tree, one question at a time, then the details.

    The answers travel as hidden fields, so the wizard works with plain form posts
    too; with HTMX only the #wizard region is swapped.
    """
    if not permissions.can_declare(request.user):
        raise PermissionDenied("Viewers cannot declare incidents.")
    report, refused = report_to_declare(request)  # ?from_report=<id>
    if refused:
        return refused
    answers_form = ClassificationForm(request.POST or None)
    answers = answers_form.answers() if request.method == "POST" else {}
    if "back" in request.POST and answers:
        answers.pop(list(answers)[-1])
    outcome = classification.classify(answers)
    form = None
    status = 200
    if outcome.severity is not None:
        submitted = request.method == "POST" and "declare" in request.POST
        form = DeclareForm(request.POST if submitted else None,
                           classified_severity=outcome.severity,
                           initial=report.declare_initial() if report else None)
        if submitted and form.is_valid():
            data = form.cleaned_data
            details = dict(
                title=data["title"], severity=data["severity"],
                description=data["description"], classification=answers,
                classified_severity=outcome.severity,
                override_reason=data["override_reason"], services=data["services"],
                customer_impact=data["customer_impact"],
                detection_source=data["detection_source"],
                started_at=data["started_at"], detected_at=data["detected_at"],
                exercise=data["exercise"],
            )
            try:
                if report is not None:  # one transaction: a refusal undoes the declare too
                    incident = services.declare_from_report(report, by=request.user, **details)
                else:
                    incident = services.declare_incident(by=request.user, **details)
            except services.IncidentError as exc:
                form.add_error(None, str(exc))
            else:
                if is_fragment(request):
                    return HttpResponseClientRedirect(incident.get_absolute_url())
                return redirect(incident)
        if submitted:
            status = 400
    context = {"outcome": outcome, "answers": answers, "form": form, "report": report,
               "severity_label": Severity(outcome.severity).label if outcome.severity else None}
    template = "incidents/incident_declare.html"
    if is_fragment(request):
        template += "#wizard"
    return render(request, template, context, status=status)


# --- The incident page and its header ------------------------------------------------

@require_GET
def incident_detail(request, ref):
    """The incident page, kept whole per viewer under the versions of the incident and
    of the names it shows (mindweave_ir/live/pages.py), read before anything else."""
    shown = page_versions(ref)
    return page_cache.serve(
        request, ("incident", *shown),
        lambda: (render(request, DETAIL, detail_context(request, incident_for_page(ref))), None))


def _header_action(request, ref, form_class, form_name, act,
                   invalid="Check the form below.", **kept):
    """The shared shape of the header's actions: validate, call the service, answer.

    `act(incident, data)` calls the service; a refusal comes back in the header
    fragment with the form as typed (and `kept`: other forms as typed). The paging
    card is swapped too: acknowledging or resolving the incident changes its pages.
    """
    incident = incident_for_page(ref)
    form = form_class(request.POST)
    if not form.is_valid():
        return respond_section(request, incident, "incident-header", status=400, error=invalid,
                               **{form_name: form}, **kept)
    try:
        act(incident, form.cleaned_data)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = refusal(exc)
        return respond_section(request, incident, "incident-header", status=status,
                               error=message, **{form_name: form}, **kept)
    return respond_sections(request, incident_for_page(ref), "incident-header",
                            oob=["incident-paging"], timeline_changed=True)


@require_POST
def incident_transition(request, ref):
    return _header_action(request, ref, TransitionForm, "transition_form",
                          lambda incident, data: services.change_status(
                              incident, to=data["to"], note=data["note"], by=request.user),
                          invalid="Choose a status.")


@require_POST
def incident_resolve(request, ref):
    """Resolve, and in the same transaction send the updates ticked on the form (§6.1)."""
    updates = ResolveCommsForm(request.POST)

    def act(incident, data):
        if not updates.is_valid():
            raise services.IncidentError("Check the updates to send: " + updates.errors.as_text())
        services.resolve_with_updates(incident, resolution=data["resolution"],
                                      updates=updates.items(), by=request.user)

    # A refused resolve keeps every update the user chose, as typed (issue 17, item 2).
    return _header_action(request, ref, ResolveForm, "resolve_form", act,
                          resolve_comms_form=updates)


@require_POST
def incident_severity(request, ref):
    return _header_action(request, ref, SeverityForm, "severity_form",
                          lambda incident, data: services.change_severity(
                              incident, to=data["to"], reason=data["reason"], by=request.user))


@require_POST
def incident_role(request, ref):
    incident = incident_for_page(ref)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return respond_section(request, incident, "incident-roles", status=400,
                               role_error="Choose a role and a person from the list.")
    try:
        services.assign_role(incident, role=form.cleaned_data["role"],
                             user=form.cleaned_data["user"], by=request.user)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = refusal(exc)
        return respond_section(request, incident, "incident-roles", status=status,
                               role_error=message)
    return respond_section(request, incident_for_page(ref), "incident-roles",
                           timeline_changed=True)


# What joining (or being joined by acknowledging a page) lets the user do, in place.
JOINED_SECTIONS = ["timeline-form", "incident-checklist"]


@require_POST
def incident_join(request, ref):
    incident = incident_for_page(ref)
    try:
        services.join_incident(incident, by=request.user)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = refusal(exc)
        return respond_section(request, incident, "incident-roles", status=status,
                               role_error=message)
    return respond_sections(request, incident_for_page(ref), "incident-roles",
                            oob=JOINED_SECTIONS, timeline_changed=True)


@require_POST
def incident_page_acknowledge(request, ref, pk):
    """Acknowledge one of the incident's pages from its paging card, in place: the
    incident is acknowledged too if it was not, and the acknowledger joins."""
    incident = incident_for_page(ref)
    page = get_object_or_404(Page, pk=pk, source=f"incident:{incident.pk}")
    try:
        paging.acknowledge_page(page, by=request.user, via="incident page")
    except paging.PagingError as exc:
        # Someone got there first (409), or this user may not (403).
        taken = Page.objects.filter(pk=pk).exclude(status=PageStatus.TRIGGERED).exists()
        return respond_sections(request, incident_for_page(ref), "incident-paging",
                                oob=["incident-header"], status=409 if taken else 403,
                                paging_error=str(exc))
    return respond_sections(request, incident_for_page(ref), "incident-paging",
                            oob=["incident-header", "incident-roles", *JOINED_SECTIONS],
                            timeline_changed=True)
