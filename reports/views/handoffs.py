"""Weekly on-call handoffs (§2.2, §2.3): the overview and on-call log, one handoff's
page (the shift's activity, checklist, summary, readiness, acknowledgement), its PDF.

Thin: load, check the form, call reports.services.handoffs, render. HTMX requests
get the fragment they swap (a partial of the detail template named like its DOM
id); refusals are 4xx with the reason in that fragment and nothing changed; a stale
edit is a 409 that keeps the writer's text. Without JavaScript every form posts
normally and the page redirects back.
"""

import functools

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from mindweave_ir import tables
from mindweave_ir.htmx import is_fragment
from mindweave_ir.templatetags.mw import display_name, when
from oncall import notices
from oncall.models import ContactMethod, Schedule

from .. import shifts
from ..filters import HandoffFilter
from ..forms import HandoffForm
from ..models import Handoff, HandoffState, ShiftCheck, ShiftPhase
from ..pdf import render_handoff_pdf
from ..services import handoffs as services
from ..tables import HandoffTable
from .exports import pdf_attachment

DETAIL = "reports/handoff_detail.html"
INDEX = "reports/handoff_index.html"



def _handoff(pk):
    queryset = Handoff.objects.select_related("schedule", "outgoing", "incoming",
                                              "handed_off_by", "acknowledged_by")
    return get_object_or_404(queryset, pk=pk)


# --- overview and log --------------------------------------------------------------------

def _current_rows(now, user):
    rows = []
    current = shifts.current_shifts(Schedule.objects.order_by("name"), now)
    spans = {schedule.pk: span for schedule, span in current}
    ends = [span.end for span in spans.values() if span]
    existing = {(h.schedule_id, h.shift_end): h
                for h in Handoff.objects.filter(schedule_id__in=spans, shift_end__in=ends)}
    people = _users({span.outgoing_id for span in spans.values() if span}
                    | {span.incoming_id for span in spans.values() if span})
    for schedule, span in current:
        rows.append({
            "schedule": schedule, "span": span,
            "outgoing": people.get(span.outgoing_id) if span else None,
            "incoming": people.get(span.incoming_id) if span else None,
            "handoff": existing.get((schedule.pk, span.end)) if span else None,
            "yours": bool(span and user.pk in (span.outgoing_id, span.incoming_id)),
        })
    return rows


def _users(ids):
    return {u.pk: u for u in get_user_model().objects.filter(pk__in=[i for i in ids if i])}


@require_GET
def handoff_index(request):
    """Each schedule's current shift and its handoff; handoffs awaiting acknowledgement;
    the on-call log (filterable, sortable, paginated)."""
    queryset = Handoff.objects.select_related("outgoing", "incoming")
    filterset = HandoffFilter(request.GET or None, queryset=queryset)
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else queryset
    table = HandoffTable(rows)
    tables.configure(request, table, per_page=25)
    if is_fragment(request):
        return render(request, f"{INDEX}#handoff-log", {"filter": filterset, "table": table})
    now = timezone.now()
    return render(request, INDEX, {
        "filter": filterset, "table": table, "current": _current_rows(now, request.user),
        "awaiting": queryset.filter(state=HandoffState.HANDED_OFF).order_by("shift_end"),
        "now": now,
    })


@require_GET
def handoff_current(request, schedule_pk):
    """The handoff of the schedule's running shift (made if need be)."""
    schedule = get_object_or_404(Schedule, pk=schedule_pk)
    handoff = services.current_handoff(schedule)
    if handoff is None:
        raise Http404(f"{schedule.name} has no shift running now (no members, or its "
                      "rotation starts later).")
    return redirect(handoff)


# --- one handoff ----------------------------------------------------------------------------

def _readiness(handoff):
    """The incoming on-call's contact methods and whether one is known to work."""
    if handoff.incoming is None:
        return {"methods": [], "ready": False}
    methods = list(ContactMethod.objects.filter(user=handoff.incoming).order_by("id"))
    return {"methods": methods,
            "ready": any(m.is_enabled and m.last_test_ok for m in methods),
            "untested": [m for m in methods if m.is_enabled and m.last_test_ok is None]}


def _upcoming(handoff):
    if handoff.schedule is None:
        return []
    found, people = shifts.upcoming(handoff.schedule, handoff.shift_end)
    return [{"start": s.start, "end": s.end, "person": people.get(s.member),
             "is_override": s.is_override} for s in found]


def _context(request, handoff, **extra):
    checks = list(handoff.checks.select_related("done_by"))
    phases = [(phase, [c for c in checks if c.phase == phase]) for phase in ShiftPhase]
    form = extra.pop("form", None) or HandoffForm(initial={
        "summary": handoff.summary, "unresolved": handoff.unresolved,
        "version": handoff.version})
    # Built only if the template shows them: a checklist tick renders only the
    # checklist, and the shift's activity, readiness and notices cost ~15 queries.
    return {
        "handoff": handoff, "activity": SimpleLazyObject(lambda: services.live_activity(handoff)),
        "phases": [(phase, items) for phase, items in phases if items],
        "checks_done": sum(1 for c in checks if c.done_at), "checks_total": len(checks),
        "form": form, "can_edit": services.can_edit(request.user, handoff),
        "can_acknowledge": handoff.awaits_acknowledgement
        and request.user.pk == handoff.incoming_id,
        "readiness": SimpleLazyObject(lambda: _readiness(handoff)),
        "upcoming": SimpleLazyObject(lambda: _upcoming(handoff)),
        "notices": SimpleLazyObject(lambda: list(notices.for_key(f"handoff:{handoff.pk}:"))),
        "shift_started": handoff.shift_start <= timezone.now(),
        "incoming_started": handoff.shift_end <= timezone.now(),
        **extra,
    }


def _respond(request, handoff, partial=None, *, status=200, **extra):
    if not is_fragment(request) and request.method == "POST" and status < 400:
        return redirect(handoff)
    template = f"{DETAIL}#{partial}" if partial and is_fragment(request) else DETAIL
    return render(request, template, _context(request, handoff, **extra), status=status)


@require_GET
def handoff_detail(request, pk):
    return _respond(request, _handoff(pk))


@require_POST
def handoff_check(request, pk, check_pk):
    """Tick or untick one checklist item (HTMX: the checklist fragment)."""
    handoff = _handoff(pk)
    get_object_or_404(ShiftCheck, pk=check_pk, handoff=handoff)
    try:
        services.set_check(handoff, check_pk, done=request.POST.get("done") == "on",
                           by=request.user)
    except services.HandoffError as exc:
        return _respond(request, handoff, "handoff-checklist", status=_status(exc),
                        checklist_error=str(exc))
    return _respond(request, handoff, "handoff-checklist")


@require_POST
def handoff_save(request, pk):
    """Save the draft, or (action=hand_off) hand off. The writer's text is never lost:
    a refusal re-renders the form with it."""
    handoff = _handoff(pk)
    form = HandoffForm(request.POST)
    if not form.is_valid():
        return _respond(request, handoff, "handoff-form", status=400, form=form)
    data = form.cleaned_data
    handing_off = request.POST.get("action") == "hand_off"
    try:
        if handing_off:
            handoff = services.hand_off(handoff, summary=data["summary"],
                                        unresolved=data["unresolved"],
                                        expected_version=data["version"], by=request.user)
        else:
            handoff = services.save_draft(handoff, summary=data["summary"],
                                          unresolved=data["unresolved"],
                                          expected_version=data["version"], by=request.user)
    except services.StaleHandoff as exc:
        return _respond(request, exc.current, "handoff-form", status=409, form=form,
                        form_error=str(exc), saved=exc.current)
    except services.HandoffError as exc:
        return _respond(request, _handoff(pk), "handoff-form", status=_status(exc), form=form,
                        form_error=str(exc))
    if handing_off:
        messages.success(request, f"Handed off to {_name(handoff.incoming)}; they have been "
                                  "notified.")
        if is_fragment(request):
            return HttpResponseClientRedirect(handoff.get_absolute_url())
        return redirect(handoff)
    return _respond(request, handoff, "handoff-form", saved_at=timezone.now())


def _status(exc):
    return 403 if isinstance(exc, services.HandoffForbidden) else 400


_name = functools.partial(display_name, missing="nobody")


@require_POST
def handoff_acknowledge(request, pk):
    handoff = _handoff(pk)
    try:
        handoff = services.acknowledge(handoff, by=request.user)
    except services.HandoffError as exc:
        return _respond(request, _handoff(pk), "handoff-state", status=_status(exc),
                        ack_error=str(exc))
    if not is_fragment(request):  # the fragment says so itself
        starts = "" if handoff.shift_end <= timezone.now() else \
            f" Your shift starts {when(handoff.shift_end)}."
        messages.success(request, f"You acknowledged the {handoff.schedule_name} handoff."
                                  f"{starts} Have a quiet shift.")
    return _respond(request, _handoff(pk), "handoff-state", acknowledged=True)


@require_GET
def handoff_pdf(request, pk):
    handoff = _handoff(pk)
    filename = f"handoff-{handoff.schedule_name}-{handoff.shift_end:%Y-%m-%d}.pdf"
    return pdf_attachment(
        request, lambda: render_handoff_pdf(handoff, services.live_activity(handoff)),
        filename.replace(" ", "-").replace('"', ""))
