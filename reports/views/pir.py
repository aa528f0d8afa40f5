"""The post-incident review page (handbook §3.5) and its HTMX fragments.

Thin, like the incident views: load, check the form, call reports.services.pir, render.
Each section is a partial of reports/pir_detail.html named like the DOM id it
replaces (`pir-root-cause`); an HTMX request (not boosted) gets only that fragment,
with the audit trail swapped out of band after a change. Refusals are 4xx with the
reason in the fragment; a stale edit is a 409 that keeps the writer's text and shows
what is saved now. Without JavaScript every form posts normally and the page
redirects back (post/redirect/get).
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from incidents.models import Incident, TimelineEntry
from mindweave_ir.htmx import is_fragment
from mindweave_ir.markup import render_markdown

from ..forms import (
    SECTION_FORMS,
    ActionItemForm,
    ActionStatusForm,
    WorkflowAction,
    WorkflowForm,
)
from ..models import ActionItem, ActionStatus, PIRChange, PIRState, PostIncidentReview
from ..services import pir as services

DETAIL = "reports/pir_detail.html"
HEADER, ITEMS, CHANGES = "pir-header", "pir-action-items", "pir-changes"
MARKDOWN_FIELDS = ("impact", "what_happened", "why_it_happened", "went_well", "could_improve")
# The state badge's CSS classes (colours from app.css).
STATE_BADGE = {PIRState.DRAFT: "badge", PIRState.IN_REVIEW: "badge warn",
               PIRState.APPROVED: "badge status-resolved"}



def _dom_id(section):
    return "pir-" + section.replace("_", "-")


def _review(ref):
    """The review of incident `ref` with all the page shows, in a fixed number of queries."""
    queryset = PostIncidentReview.objects.select_related(
        "incident", "incident__commander", "approved_by",
    ).prefetch_related(
        "whys", "factors", "prevention",
        Prefetch("key_entries", queryset=TimelineEntry.objects.select_related("author")
                 .order_by("occurred_at", "id")),
        Prefetch("action_items", queryset=ActionItem.objects.select_related("owner")),
        Prefetch("changes", queryset=PIRChange.objects.select_related("by")),
    )
    return get_object_or_404(queryset, incident__ref=ref.upper())


def _hhmm(delta):
    minutes = max(int(delta.total_seconds() // 60), 0)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _context(request, pir, **overrides):
    user = request.user
    can_edit = services.can_edit(user, pir)
    can_approve = services.can_approve(user)
    now = timezone.now()
    context = {
        "pir": pir,
        "incident": pir.incident,
        "html": {name: render_markdown(getattr(pir, name)) for name in MARKDOWN_FIELDS},
        "can_edit": can_edit,
        "can_approve": can_approve,
        "can_submit": can_edit and pir.state == PIRState.DRAFT,
        "can_approve_now": can_approve and pir.state == PIRState.IN_REVIEW,
        "can_reopen": can_approve and pir.state != PIRState.DRAFT,
        "state_badge": STATE_BADGE[PIRState(pir.state)],
        "overdue": pir.is_overdue(now),
        "duration": _hhmm(pir.incident.duration(now)),
        "today": timezone.localdate(now),
        "item_form": ActionItemForm(adding=True) if can_edit else None,
        "workflow_form": WorkflowForm(),
        "status_choices": ActionStatus.choices,
        "editing": None,
    }
    return context | overrides


def _respond(request, pir, partial, *, status=200, changed=False, **context):
    """One fragment for HTMX (plus the audit trail, out of band, after a change); the
    whole page otherwise. A successful plain POST redirects back to the page."""
    if not is_fragment(request):
        if request.method == "POST" and status < 400:
            return redirect(f"{pir.get_absolute_url()}#{partial}")
        return render(request, DETAIL, _context(request, pir, **context), status=status)
    context = _context(request, pir, **context)
    body = render_to_string(f"{DETAIL}#{partial}", context, request=request)
    if changed:
        body += render_to_string(f"{DETAIL}#{CHANGES}", {**context, "oob": True},
                                 request=request)
    return HttpResponse(body, status=status)


def _refusal(exc):
    if isinstance(exc, services.StaleEdit):
        return 409, str(exc)
    if isinstance(exc, PermissionDenied):
        return 403, str(exc) or "You may not do that."
    return 400, str(exc)


def _edit_refusal(user, pir):
    """Why `user` may not open an editor on `pir` (status, message), or None."""
    if pir.is_approved:
        return 400, "This review is approved and read-only; a Manager can reopen it."
    if not services.can_edit(user, pir):
        return 403, ("Only the incident's responders, Incident Commanders and Managers "
                     "edit its review.")
    return None


def _add_errors(form, exc):
    """A service's ValidationError beside the fields it names (others at the top)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


# --- The page ---------------------------------------------------------------------------

@require_GET
def pir_detail(request, ref):
    try:
        pir = _review(ref)
    except Http404:
        incident = get_object_or_404(Incident, ref=ref.upper())
        return render(request, "reports/pir_missing.html", {"incident": incident}, status=404)
    return render(request, DETAIL, _context(request, pir))


@require_http_methods(["GET", "POST"])
def pir_section(request, ref, section):
    """GET: the section (`?edit=1`: its form). POST: save it through its service."""
    form_class = SECTION_FORMS.get(section)
    if form_class is None:
        raise Http404("No such section.")
    pir, partial = _review(ref), _dom_id(section)
    if request.method == "GET":
        refusal = _edit_refusal(request.user, pir) if "edit" in request.GET else None
        if refusal:
            return _respond(request, pir, partial, status=refusal[0], section_error=refusal[1],
                            error_section=section)
        if "edit" not in request.GET:
            return _respond(request, pir, partial)
        form = form_class(initial=form_class.initial_for(pir), pir=pir)
        return _respond(request, pir, partial, editing=section, form=form)
    form = form_class(request.POST, pir=pir)
    if not form.is_valid():
        return _respond(request, pir, partial, status=400, editing=section, form=form)
    try:
        form.apply(pir, by=request.user)
    except services.StaleEdit as exc:
        # Keep the writer's text, armed with the current version: saving again is a
        # deliberate choice made after reading what is saved now (shown beside it).
        current = _review(ref)
        data = request.POST.copy()
        data["version"] = current.version
        return _respond(request, current, partial, status=409, editing=section,
                        form=form_class(data, pir=current), conflict=str(exc))
    except ValidationError as exc:
        _add_errors(form, exc)
        return _respond(request, _review(ref), partial, status=400, editing=section, form=form)
    except (services.PIRError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        form.add_error(None, message)
        return _respond(request, _review(ref), partial, status=status, editing=section,
                        form=form)
    return _respond(request, _review(ref), partial, changed=True)


# --- Action items -------------------------------------------------------------------------

def _item(pir, pk):
    return get_object_or_404(ActionItem.objects.select_related("owner", "pir"), pk=pk, pir=pir)


@require_http_methods(["GET", "POST"])
def action_item_add(request, ref):
    """GET: the action-item list. POST: add one (owner and due date required)."""
    pir = _review(ref)
    if request.method == "GET":
        return _respond(request, pir, ITEMS)
    form = ActionItemForm(request.POST, adding=True)
    if form.is_valid():
        try:
            services.add_action_item(pir, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        except (services.PIRError, PermissionDenied) as exc:
            status, message = _refusal(exc)
            return _respond(request, _review(ref), ITEMS, status=status, items_error=message)
        else:
            return _respond(request, _review(ref), ITEMS, changed=True)
    return _respond(request, pir, ITEMS, status=400, item_form=form)


@require_http_methods(["GET", "POST"])
def action_item_edit(request, ref, pk):
    """GET: the item's form. POST: save it, or (`status_only`) just its status, which
    its owner and Managers may change even after approval."""
    pir = _review(ref)
    item = _item(pir, pk)
    status_only = "status_only" in request.POST
    if request.method == "GET":
        refusal = _edit_refusal(request.user, pir)
        if refusal:
            return _respond(request, pir, ITEMS, status=refusal[0], items_error=refusal[1])
        form = ActionItemForm(initial=ActionItemForm.initial_for(item))
    else:
        form = (ActionStatusForm if status_only else ActionItemForm)(request.POST)
    context = {"editing_item": item.pk, "edit_form": form}
    if request.method == "GET":
        return _respond(request, pir, ITEMS, **context)
    if not form.is_valid():
        return _respond(request, pir, ITEMS, status=400, **context)
    try:
        changes = {name: value for name, value in form.cleaned_data.items()
                   if getattr(item, name) != value}
        if changes:
            services.update_action_item(item, by=request.user, **changes)
    except ValidationError as exc:
        _add_errors(form, exc)
        return _respond(request, _review(ref), ITEMS, status=400, **context)
    except (services.PIRError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        return _respond(request, _review(ref), ITEMS, status=status, items_error=message,
                        **({} if status_only else context))
    return _respond(request, _review(ref), ITEMS, changed=bool(changes))


@require_POST
def action_item_delete(request, ref, pk):
    pir = _review(ref)
    item = _item(pir, pk)
    try:
        services.delete_action_item(item, by=request.user)
    except (services.PIRError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        return _respond(request, _review(ref), ITEMS, status=status, items_error=message)
    return _respond(request, _review(ref), ITEMS, changed=True)


# --- Workflow -------------------------------------------------------------------------------

@require_POST
def pir_workflow(request, ref):
    """Submit for review; approve or reopen (Managers, reopening with a reason)."""
    pir = _review(ref)
    form = WorkflowForm(request.POST)
    if not form.is_valid():
        return _respond(request, pir, HEADER, status=400, workflow_form=form,
                        workflow_error="Choose submit, approve or reopen.")
    action = form.cleaned_data["action"]
    try:
        if action == WorkflowAction.SUBMIT:
            services.submit_for_review(pir, by=request.user)
        elif action == WorkflowAction.APPROVE:
            services.approve(pir, by=request.user)
        else:
            services.reopen(pir, reason=form.cleaned_data["reason"], by=request.user)
    except (services.PIRError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        return _respond(request, _review(ref), HEADER, status=status, workflow_form=form,
                        workflow_error=message)
    if action != WorkflowAction.SUBMIT and is_fragment(request):
        # Approving or reopening changes what every section offers: load the page anew.
        return HttpResponseClientRedirect(pir.get_absolute_url())
    return _respond(request, _review(ref), HEADER, changed=True)
