"""Incident pages. Thin: load, check the form, call a service, render or redirect.

An HTMX request (not boosted) gets only the fragment it swaps: the partial named
like the DOM id it replaces. Refusals come back as 4xx with the reason in the
fragment (htmx is configured to swap 4xx, see base.html).
"""

import functools

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event
from django_tables2 import RequestConfig

from mindweave_ir.csv_export import csv_response
from mindweave_ir.htmx import is_fragment
from oncall.dashboard import on_call_panel
from oncall.models import Notification, Page, PageStatus

from . import classification, permissions, report_views, services
from .comms_forms import ResolveCommsForm
from .filters import IncidentFilter
from .forms import (
    ClassificationForm,
    DeclareForm,
    ResolveForm,
    RoleForm,
    SeverityForm,
    TimelineEditForm,
    TimelineEntryForm,
    TransitionForm,
    WaiveForm,
    responder_users,
)
from .models import (
    ChecklistItem,
    ChecklistPhase,
    Incident,
    Severity,
    Status,
    TimelineEntry,
)
from .tables import IncidentTable

DETAIL = "incidents/incident_detail.html"
TIMELINE_CHANGED = "timeline-changed"
DASHBOARD_LIMIT = 50



def _incident(ref):
    queryset = Incident.objects.select_related(
        "commander", "technical_lead", "communications_lead", "declared_by", "pir"
    ).prefetch_related("services", "responders")
    return get_object_or_404(queryset, ref=ref.upper())


TIMELINE_RECENT = 100  # entries shown before "Show the N earlier entries"


def _timeline(request, incident):
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


def _checklist_phases(incident):
    items = list(incident.checklist.select_related("done_by"))
    return [(phase, [i for i in items if i.phase == phase]) for phase in ChecklistPhase]


def _pages(incident):
    """The incident's pages with who was notified: the escalation's health at a glance."""
    return (Page.objects.filter(source=f"incident:{incident.pk}")
            .select_related("acknowledged_by")
            .prefetch_related(Prefetch("notifications",
                                       queryset=Notification.objects.select_related("user")))
            .order_by("-created_at"))


def _detail_context(request, incident, **overrides):
    user = request.user
    context = {
        "incident": incident,
        "can_command": permissions.can_command(user, incident),
        "can_edit": permissions.can_edit(user, incident),
        "can_join": permissions.can_join(user, incident)
                    and not permissions.works_on(user, incident),
        "transition_form": TransitionForm(),
        "resolve_form": ResolveForm(),
        "severity_form": SeverityForm(initial={"to": incident.severity}),
        "role_users": responder_users(),
        "incident_roles": [(field, label, getattr(incident, field))
                           for field, label in services.ROLE_FIELDS.items()],
        "entry_form": TimelineEntryForm(),
        **_timeline(request, incident),
        "phases": functools.partial(_checklist_phases, incident),
        "pages": functools.partial(_pages, incident),
        "now": timezone.now(),
    }
    context.update(overrides)
    return context


def _respond(request, incident, partial, *, status=200, timeline_changed=False, **context):
    """Render one fragment for HTMX, or the whole page otherwise.

    A successful non-HTMX POST redirects back to the page (post/redirect/get).
    """
    if not is_fragment(request) and request.method == "POST" and status < 400:
        return redirect(incident)
    template = f"{DETAIL}#{partial}" if is_fragment(request) else DETAIL
    response = render(request, template, _detail_context(request, incident, **context),
                      status=status)
    if timeline_changed:
        trigger_client_event(response, TIMELINE_CHANGED)
    return response


def _refusal(exc):
    if isinstance(exc, PermissionDenied):
        return 403, str(exc) or "You may not do that."
    if isinstance(exc, services.ConflictError):
        return 409, str(exc)
    return 400, str(exc)


# --- Dashboard and list -------------------------------------------------------------

# Panels the apps above add to the dashboard (incidents never imports them): each a
# template and a function (request, now) -> the dict the template gets as `panel`.
_dashboard_panels = []


def add_dashboard_panel(template, context):
    if (template, context) not in _dashboard_panels:
        _dashboard_panels.append((template, context))


@require_GET
def dashboard(request):
    """Active incidents worst first, with SLA timers; "my incidents"."""
    active = (Incident.objects.exclude(status=Status.RESOLVED)
              .select_related("commander").prefetch_related("services")
              .order_by("severity", "detected_at"))  # SEV-1 is 1: worst first
    # Joined responders through a subquery: a join would need DISTINCT over every column.
    joined = Incident.responders.through.objects.filter(user=request.user).values("incident_id")
    mine = active.filter(Q(commander=request.user) | Q(technical_lead=request.user)
                         | Q(communications_lead=request.user) | Q(pk__in=joined))
    counts = Incident.objects.exclude(status=Status.RESOLVED).aggregate(
        total=Count("id"), **{f"sev{s}": Count("id", filter=Q(severity=s)) for s in Severity}
    )
    now = timezone.now()
    my_pages = (Page.objects.filter(status=PageStatus.TRIGGERED, notifications__user=request.user)
                .distinct().order_by("created_at")[:DASHBOARD_LIMIT])
    return render(request, "incidents/dashboard.html", {
        "on_call": on_call_panel(now),
        "my_pages": my_pages,
        "panels": [{"template": template, "panel": context(request, now)}
                   for template, context in _dashboard_panels],
        "active": active[:DASHBOARD_LIMIT],
        "mine": mine[:DASHBOARD_LIMIT],
        "counts": counts,
        "limit": DASHBOARD_LIMIT,
        "can_declare": permissions.can_declare(request.user),
        "now": now,
    })


@require_GET
def incident_list(request):
    """Every incident: filters, sortable paginated table, CSV of the filtered rows."""
    queryset = Incident.objects.select_related("commander").prefetch_related("services")
    filterset = IncidentFilter(request.GET or None, queryset=queryset)
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else queryset
    table = IncidentTable(rows)
    if request.GET.get("format") == "csv":
        RequestConfig(request, paginate=False).configure(table)
        return csv_response(table, "incidents.csv")
    RequestConfig(request, paginate={"per_page": 25}).configure(table)
    template = "incidents/incident_list.html"
    if is_fragment(request):
        template += "#incident-table"
    return render(request, template, {"filter": filterset, "table": table,
                                      "can_declare": permissions.can_declare(request.user)})


# --- Declare wizard -------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def declare(request):
    """Declare through the §1.2 tree, one question at a time, then the details.

    The answers travel as hidden fields, so the wizard works with plain form posts
    too; with HTMX only the #wizard region is swapped.
    """
    if not permissions.can_declare(request.user):
        raise PermissionDenied("Viewers cannot declare incidents.")
    report, refused = report_views.report_to_declare(request)  # ?from_report=<id>
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
            try:
                with transaction.atomic():
                    incident = services.declare_incident(
                        title=data["title"], severity=data["severity"], by=request.user,
                        description=data["description"], classification=answers,
                        classified_severity=outcome.severity,
                        override_reason=data["override_reason"], services=data["services"],
                        customer_impact=data["customer_impact"],
                        detection_source=data["detection_source"],
                        started_at=data["started_at"], detected_at=data["detected_at"],
                        exercise=data["exercise"],
                    )
                    if report is not None:  # a refusal here undoes the declare too
                        services.mark_declared(report, incident=incident, by=request.user)
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


# --- The incident page and its fragments ----------------------------------------------

@require_GET
def incident_detail(request, ref):
    return render(request, DETAIL, _detail_context(request, _incident(ref)))


def _header_action(request, ref, form_class, form_name, act,
                   invalid="Check the form below."):
    """The shared shape of the header's actions: validate, call the service, answer.

    `act(incident, data)` calls the service; a refusal comes back in the header
    fragment with the form as typed.
    """
    incident = _incident(ref)
    form = form_class(request.POST)
    if not form.is_valid():
        return _respond(request, incident, "incident-header", status=400, error=invalid,
                        **{form_name: form})
    try:
        act(incident, form.cleaned_data)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        return _respond(request, incident, "incident-header", status=status, error=message,
                        **{form_name: form})
    return _respond(request, _incident(ref), "incident-header", timeline_changed=True)


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

    @transaction.atomic
    def act(incident, data):
        if not updates.is_valid():
            raise services.IncidentError("Check the updates to send: " + updates.errors.as_text())
        incident = services.resolve_incident(incident, resolution=data["resolution"],
                                             by=request.user)
        services.send_resolution_updates(incident, items=updates.items(), by=request.user)

    return _header_action(request, ref, ResolveForm, "resolve_form", act)


@require_POST
def incident_severity(request, ref):
    return _header_action(request, ref, SeverityForm, "severity_form",
                          lambda incident, data: services.change_severity(
                              incident, to=data["to"], reason=data["reason"], by=request.user))


@require_POST
def incident_role(request, ref):
    incident = _incident(ref)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _respond(request, incident, "incident-roles", status=400,
                        role_error="Choose a role and a person from the list.")
    try:
        services.assign_role(incident, role=form.cleaned_data["role"],
                             user=form.cleaned_data["user"], by=request.user)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        return _respond(request, incident, "incident-roles", status=status, role_error=message)
    return _respond(request, _incident(ref), "incident-roles", timeline_changed=True)


@require_POST
def incident_join(request, ref):
    incident = _incident(ref)
    try:
        services.join_incident(incident, by=request.user)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        return _respond(request, incident, "incident-roles", status=status, role_error=message)
    return _respond(request, _incident(ref), "incident-roles", timeline_changed=True)


# --- Timeline -----------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def timeline(request, ref):
    """GET: the timeline list (refetched on `timeline-changed`). POST: add an entry.

    A successful add answers with a blank form and tells the list to refresh, so
    nothing the user is typing elsewhere on the page is replaced.
    """
    incident = _incident(ref)
    if request.method == "GET":
        return _respond(request, incident, "incident-timeline")
    form = TimelineEntryForm(request.POST)
    if form.is_valid():
        try:
            services.add_timeline_entry(
                incident, body=form.cleaned_data["body"], kind=form.cleaned_data["kind"],
                occurred_at=form.cleaned_data["occurred_at"], by=request.user,
            )
        except (services.IncidentError, PermissionDenied) as exc:
            status, message = _refusal(exc)
            form.add_error(None, message)
            return _respond(request, incident, "timeline-form", status=status, entry_form=form)
        return _respond(request, incident, "timeline-form", timeline_changed=True)
    return _respond(request, incident, "timeline-form", status=400, entry_form=form)


def _entry(incident, pk, *, allow_deleted=False):
    entry = get_object_or_404(
        TimelineEntry.objects.select_related("author", "edited_by", "incident"),
        pk=pk, incident=incident,
    )
    if entry.deleted_at is not None and not allow_deleted:
        raise Http404("This timeline entry was deleted.")
    return entry


def _entry_response(request, incident, entry, template, *, status=200, **context):
    if not is_fragment(request):
        if request.method == "POST" and status < 400:
            return redirect(incident)
        template = "incidents/timeline_entry_page.html"
    return render(request, template, {"incident": incident, "entry": entry,
                                      "can_edit": permissions.can_edit(request.user, incident),
                                      **context}, status=status)


@require_GET
def timeline_entry(request, ref, pk):
    incident = _incident(ref)
    return _entry_response(request, incident, _entry(incident, pk),
                           "incidents/_timeline_entry.html")


@require_http_methods(["GET", "POST"])
def timeline_entry_edit(request, ref, pk):
    incident = _incident(ref)
    # A save of an entry deleted meanwhile must reach the service, which answers
    # with a conflict that keeps the writer's text.
    entry = _entry(incident, pk, allow_deleted=request.method == "POST")
    if request.method == "GET":
        form = TimelineEditForm(initial={"body": entry.body, "kind": entry.kind,
                                         "occurred_at": entry.occurred_at,
                                         "version": entry.version})
        return _entry_response(request, incident, entry, "incidents/_timeline_edit.html",
                               form=form, editing=True)
    form = TimelineEditForm(request.POST)
    if not form.is_valid():
        return _entry_response(request, incident, entry, "incidents/_timeline_edit.html",
                               status=400, form=form, editing=True)
    data = form.cleaned_data
    try:
        entry = services.edit_timeline_entry(
            entry, body=data["body"], kind=data["kind"], occurred_at=data["occurred_at"],
            expected_version=data["version"], by=request.user,
        )
    except services.ConflictError as exc:
        # Keep the writer's text; arm the form with the current version so saving
        # again is a deliberate choice made after reading the other change.
        data = request.POST.copy()
        data["version"] = exc.current.version
        return _entry_response(request, incident, exc.current, "incidents/_timeline_edit.html",
                               status=409, form=TimelineEditForm(data), editing=True,
                               conflict=str(exc))
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        form.add_error(None, message)
        return _entry_response(request, incident, entry, "incidents/_timeline_edit.html",
                               status=status, form=form, editing=True)
    return _entry_response(request, incident, entry, "incidents/_timeline_entry.html")


@require_POST
def timeline_entry_delete(request, ref, pk):
    incident = _incident(ref)
    entry = _entry(incident, pk)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = -1
    try:
        services.delete_timeline_entry(entry, expected_version=version, by=request.user)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        return _entry_response(request, incident, entry, "incidents/_timeline_entry.html",
                               status=status, error=message)
    if is_fragment(request):
        return render(request, "incidents/_timeline_deleted.html", {"entry": entry})
    return redirect(incident)


@require_GET
def timeline_entry_history(request, ref, pk):
    incident = _incident(ref)
    entry = _entry(incident, pk)
    revisions = entry.revisions.select_related("replaced_by")
    return _entry_response(request, incident, entry, "incidents/_timeline_history.html",
                           revisions=revisions, history=True)


# --- Checklists -----------------------------------------------------------------------

def _checklist_item(incident, pk):
    return get_object_or_404(ChecklistItem.objects.select_related("incident"),
                             pk=pk, incident=incident)


@require_POST
def checklist_toggle(request, ref, pk):
    incident = _incident(ref)
    item = _checklist_item(incident, pk)
    try:
        services.set_checklist_item(item, done=request.POST.get("done") == "on",
                                    by=request.user)
    except PermissionDenied as exc:
        return _respond(request, incident, "incident-checklist", status=403,
                        checklist_error=str(exc))
    return _respond(request, incident, "incident-checklist")


@require_POST
def checklist_waive(request, ref, pk):
    incident = _incident(ref)
    item = _checklist_item(incident, pk)
    form = WaiveForm(request.POST)
    if not form.is_valid():
        return _respond(request, incident, "incident-checklist", status=400,
                        checklist_error=f"Say why “{item.text}” is waived.")
    try:
        services.waive_checklist_item(item, reason=form.cleaned_data["reason"], by=request.user)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        return _respond(request, incident, "incident-checklist", status=status,
                        checklist_error=message)
    return _respond(request, incident, "incident-checklist", timeline_changed=True)

