"""The incident's timeline: the list (refetched when a section writes an entry), adding
an entry, and each entry's view, edit (a stale edit is refused with both texts shown),
delete and history."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mindweave_ir.htmx import is_fragment

from .. import permissions, services
from ..forms import TimelineEditForm, TimelineEntryForm
from ..models import TimelineEntry
from .common import refusal, respond
from .detail import incident_for_page, respond_section


@require_http_methods(["GET", "POST"])
def timeline(request, ref):
    """GET: the timeline list (refetched on `timeline-changed`). POST: add an entry.

    A successful add answers with a blank form and tells the list to refresh, so
    nothing the user is typing elsewhere on the page is replaced.
    """
    incident = incident_for_page(ref)
    if request.method == "GET":
        return respond_section(request, incident, "incident-timeline")
    form = TimelineEntryForm(request.POST)
    if form.is_valid():
        try:
            services.add_timeline_entry(
                incident, body=form.cleaned_data["body"], kind=form.cleaned_data["kind"],
                occurred_at=form.cleaned_data["occurred_at"], by=request.user,
            )
        except (services.IncidentError, PermissionDenied) as exc:
            status, message = refusal(exc)
            form.add_error(None, message)
            return respond_section(request, incident, "timeline-form", status=status,
                                   entry_form=form)
        return respond_section(request, incident, "timeline-form", timeline_changed=True)
    return respond_section(request, incident, "timeline-form", status=400, entry_form=form)


def _entry(incident, pk, *, allow_deleted=False):
    entry = get_object_or_404(
        TimelineEntry.objects.select_related("author", "edited_by", "incident"),
        pk=pk, incident=incident,
    )
    if entry.deleted_at is not None and not allow_deleted:
        raise Http404("This timeline entry was deleted.")
    return entry


def _entry_response(request, incident, entry, template, *, status=200, **context):
    """The entry's fragment (`template`) for HTMX, else the entry on a page of its own; a
    successful plain POST redirects back to the incident."""
    return respond(request, template, lambda: {
        "incident": incident, "entry": entry,
        "can_edit": permissions.can_edit(request.user, incident), **context,
    }, page="incidents/timeline_entry_page.html", status=status, redirect_to=incident)


@require_GET
def timeline_entry(request, ref, pk):
    incident = incident_for_page(ref)
    return _entry_response(request, incident, _entry(incident, pk),
                           "incidents/_timeline_entry.html")


@require_http_methods(["GET", "POST"])
def timeline_entry_edit(request, ref, pk):
    incident = incident_for_page(ref)
    # A save of an entry deleted meanwhile must reach the service, which answers
    # with a conflict that keeps the writer's text.
    entry = _entry(incident, pk, allow_deleted=request.method == "POST")
    if request.method == "GET":
        form = TimelineEditForm(initial={"body": entry.body, "kind": entry.kind,
                                         "occurred_at": entry.occurred_at,
                                         "version": entry.version},
                                entry_pk=entry.pk)
        return _entry_response(request, incident, entry, "incidents/_timeline_edit.html",
                               form=form, editing=True)
    form = TimelineEditForm(request.POST, entry_pk=entry.pk)
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
                               status=409, form=TimelineEditForm(data, entry_pk=entry.pk),
                               editing=True, conflict=str(exc))
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = refusal(exc)
        form.add_error(None, message)
        return _entry_response(request, incident, entry, "incidents/_timeline_edit.html",
                               status=status, form=form, editing=True)
    return _entry_response(request, incident, entry, "incidents/_timeline_entry.html")


@require_POST
def timeline_entry_delete(request, ref, pk):
    incident = incident_for_page(ref)
    entry = _entry(incident, pk)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = -1
    try:
        services.delete_timeline_entry(entry, expected_version=version, by=request.user)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = refusal(exc)
        return _entry_response(request, incident, entry, "incidents/_timeline_entry.html",
                               status=status, error=message)
    if is_fragment(request):
        return render(request, "incidents/_timeline_deleted.html", {"entry": entry})
    return redirect(incident)


@require_GET
def timeline_entry_history(request, ref, pk):
    incident = incident_for_page(ref)
    entry = _entry(incident, pk)
    revisions = entry.revisions.select_related("replaced_by")
    return _entry_response(request, incident, entry, "incidents/_timeline_history.html",
                           revisions=revisions, history=True)
