"""Schedules, their calendar and overrides, "my shifts", and the iCal feeds.

Thin: load, check the form, call a service, render or redirect. An HTMX request
(not boosted) gets only the partial named like the DOM id it replaces; refusals
are 4xx with the reason in that fragment. Forms also post without JavaScript.
"""

import copy
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)
from django_htmx.http import trigger_client_event

from mindweave_ir.htmx import is_fragment

from .. import calendar, dashboard, guardrails, services
from ..forms.schedules import ROTATION_FIELDS, OverrideForm, ScheduleForm, timezone_datalist
from ..models import Override, Profile, Schedule

DETAIL = "oncall/schedules/schedule_detail.html"
FORM = "oncall/schedules/schedule_form.html"
SCHEDULE_CHANGED = "schedule-changed"
MY_SHIFTS_WINDOW = timedelta(weeks=4)
OVERRIDES_SHOWN = 100
# How far from today the calendar may be paged (dates far away overflow).
CALENDAR_REACH = timedelta(days=366 * 20)



def _schedule(pk):
    return get_object_or_404(Schedule, pk=pk)


def _feed_url(request, name, *args):
    """The signed-in user's subscription URL, or None until they have a token."""
    profile = Profile.objects.filter(user=request.user).first()
    if profile is None:
        return None
    url = request.build_absolute_uri(reverse(name, args=args))
    return f"{url}?{urlencode({'token': profile.calendar_token})}"


# --- List and detail ----------------------------------------------------------------------

@require_GET
def schedule_list(request):
    """Every schedule: its rotation, who is on call now and next, how many warnings."""
    now = timezone.now()
    rows = dashboard.on_call_panel(now)
    warnings = guardrails.warnings_by_schedule([row["schedule"].pk for row in rows], now)
    for row in rows:
        row["summary"] = calendar.rotation_summary(row["schedule"])
        row["warnings"] = warnings.get(row["schedule"].pk, [])
    return render(request, "oncall/schedules/schedule_list.html", {
        "rows": rows, "can_manage": services.can_manage_schedules(request.user),
    })


def _calendar_context(request, schedule):
    """The week or month grid asked for by ?view= and ?start=, in the viewer's zone."""
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    view = calendar.parse_view(request.GET.get("view"))
    anchor = calendar.parse_date(request.GET.get("start"), today)
    if abs(anchor - today) > CALENDAR_REACH:
        anchor = today
    grid = calendar.grid_frame(view, anchor, today)
    # A day beyond each edge, so shifts running across the edges show as continuing.
    grid_start, grid_end = grid.bounds(zone)
    start, end = grid_start - calendar.DAY, grid_end + calendar.DAY
    loaded = calendar.load_timeline(Schedule.objects.filter(pk=schedule.pk), start, end)[0]
    calendar.fill(grid, calendar.timeline(loaded, start, end), calendar.people(loaded), zone)

    def link(label, **params):
        query = urlencode({"view": params.get("view", view), "start": params["start"]})
        return {"label": label, "query": query, "current": params.get("current", False)}

    return {
        "grid": grid,
        "calendar_query": urlencode({"view": view, "start": grid.anchor.isoformat()}),
        "calendar_nav": [
            link("‹ Previous", start=grid.previous.isoformat()),
            link("Today", start=today.isoformat()),
            link("Next ›", start=grid.next.isoformat()),
        ],
        "calendar_views": [
            link("Week", view=calendar.View.WEEK, start=grid.anchor.isoformat(),
                 current=view == calendar.View.WEEK),
            link("Month", view=calendar.View.MONTH, start=grid.anchor.isoformat(),
                 current=view == calendar.View.MONTH),
        ],
    }


def _overrides_context(request, schedule, *, form=None, error=None):
    overrides = (schedule.overrides.filter(end__gt=timezone.now())
                 .select_related("user", "created_by").order_by("start")[:OVERRIDES_SHOWN])
    return {
        "schedule": schedule,
        "overrides": overrides,
        "overrides_limit": OVERRIDES_SHOWN,
        "can_override": services.can_edit_overrides(request.user, schedule),
        "override_form": form or OverrideForm(schedule=schedule),
        "override_error": error,
    }


def _detail_context(request, schedule, **overrides_context):
    return {
        **_overrides_context(request, schedule, **overrides_context),
        **_calendar_context(request, schedule),
        "summary": calendar.rotation_summary(schedule),
        "members": schedule.members.select_related("user").order_by("position"),
        "warnings": guardrails.schedule_warnings(schedule, timezone.now()),
        "can_manage": services.can_manage_schedules(request.user),
        "feed_url": _feed_url(request, "oncall:schedule-calendar-feed", schedule.pk),
    }


@require_GET
def schedule_detail(request, pk):
    schedule = _schedule(pk)
    return render(request, DETAIL, _detail_context(request, schedule))


@require_GET
def schedule_calendar(request, pk):
    """The #schedule-calendar region for HTMX; the whole page for a plain link."""
    schedule = _schedule(pk)
    if not is_fragment(request):
        return render(request, DETAIL, _detail_context(request, schedule))
    return render(request, f"{DETAIL}#schedule-calendar",
                  {"schedule": schedule, **_calendar_context(request, schedule)})


# --- Overrides -----------------------------------------------------------------------------

def _overrides_response(request, schedule, *, status=200, form=None, error=None):
    """#schedule-overrides for HTMX (telling the calendar to refresh after a change);
    after a plain POST, a redirect on success or the whole page with the errors."""
    if not is_fragment(request):
        if status < 400:
            messages.success(request, "Overrides updated.")
            return redirect(schedule)
        return render(request, DETAIL, _detail_context(request, schedule, form=form,
                                                       error=error), status=status)
    response = render(request, f"{DETAIL}#schedule-overrides",
                      _overrides_context(request, schedule, form=form, error=error),
                      status=status)
    if status < 400:
        trigger_client_event(response, SCHEDULE_CHANGED)
    return response


@require_POST
def override_create(request, pk):
    schedule = _schedule(pk)
    form = OverrideForm(request.POST, schedule=schedule)
    if not services.can_edit_overrides(request.user, schedule):
        return _overrides_response(request, schedule, status=403, form=form, error=(
            "Only members of this schedule, Incident Commanders and Managers add overrides."))
    if not form.is_valid():
        return _overrides_response(request, schedule, status=400, form=form)
    data = form.cleaned_data
    try:
        services.create_override(schedule, user=data["user"], start=data["start"],
                                 end=data["end"], reason=data["reason"], by=request.user)
    except PermissionDenied as exc:
        return _overrides_response(request, schedule, status=403, form=form, error=str(exc))
    except ValidationError as exc:
        form.add_error(None, exc)
        return _overrides_response(request, schedule, status=400, form=form)
    return _overrides_response(request, schedule)


@require_POST
def override_delete(request, pk, override_pk):
    schedule = _schedule(pk)
    override = get_object_or_404(Override.objects.select_related("schedule"),
                                 pk=override_pk, schedule=schedule)
    try:
        services.delete_override(override, by=request.user)
    except PermissionDenied as exc:
        return _overrides_response(request, schedule, status=403, error=str(exc))
    return _overrides_response(request, schedule)


# --- Create and edit, with the handoff preview ---------------------------------------------

@require_http_methods(["GET", "POST"])
def schedule_create(request):
    if not services.can_manage_schedules(request.user):
        raise PermissionDenied("Only Incident Commanders and Managers create schedules.")
    initial = {"starts_on": timezone.localdate(),
               "timezone": timezone.get_current_timezone_name()}
    form = ScheduleForm(request.POST or None, initial=initial)
    return _schedule_form(request, form, None)


@require_http_methods(["GET", "POST"])
def schedule_edit(request, pk):
    schedule = _schedule(pk)
    if not services.can_manage_schedules(request.user):
        raise PermissionDenied("Only Incident Commanders and Managers change schedules.")
    # The form validates into its own copy: a refused edit leaves `schedule` as saved.
    form = ScheduleForm(request.POST or None, instance=copy.copy(schedule))
    return _schedule_form(request, form, schedule)


def _schedule_form(request, form, schedule):
    status = 200
    if request.method == "POST":
        if form.is_valid():
            members, fields = form.cleaned_data["members"], form.schedule_fields()
            try:
                if schedule is None:
                    saved = services.create_schedule(members=members, by=request.user, **fields)
                else:
                    saved = services.update_schedule(schedule, members=members,
                                                     by=request.user, **fields)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Schedule “{saved.name}” saved.")
                return redirect(saved)
        status = 400
    return render(request, FORM, {"form": form, "schedule": schedule,
                                  "timezone_datalist": timezone_datalist(),
                                  **_preview_context(form)}, status=status)


@require_http_methods(["GET", "POST"])
def handoff_preview(request):
    """The next handoffs for the form's current values, before anything is saved.

    HTMX refreshes #handoff-preview on every change of the rotation fields; without
    JavaScript the form's "Preview" button posts here and gets the whole form back.
    """
    if not services.can_manage_schedules(request.user):
        raise PermissionDenied("Only Incident Commanders and Managers edit schedules.")
    data = request.POST if request.method == "POST" else request.GET
    editing = data.get("editing", "")
    valid = editing.isascii() and editing.isdigit() and len(editing) <= 18
    schedule = Schedule.objects.filter(pk=int(editing)).first() if valid else None
    form = ScheduleForm(data, instance=copy.copy(schedule) if schedule else None)
    template = f"{FORM}#handoff-preview" if is_fragment(request) else FORM
    return render(request, template, {"form": form, "schedule": schedule,
                                      "timezone_datalist": timezone_datalist(),
                                      **_preview_context(form)})


def _preview_context(form):
    """Rows for #handoff-preview, or the reason there are none yet."""
    if form.is_bound:
        form.is_valid()
        bad = [form.fields[f].label or f for f in ROTATION_FIELDS if f in form.errors]
        if bad:
            return {"preview_problem": f"Fix {', '.join(str(b) for b in bad)} to see the "
                                       "handoffs."}
        sample = Schedule(**{f: form.cleaned_data.get(f) for f in ROTATION_FIELDS})
        members = [] if "members" in form.errors else form.cleaned_data.get("members", [])
    else:
        sample = form.instance
        for name in ROTATION_FIELDS:
            if name in form.initial and not sample.pk:
                setattr(sample, name, form.initial[name])
        members = ([m.user for m in sample.members.select_related("user").order_by("position")]
                   if sample.pk else [])
    try:
        rows = calendar.preview_handoffs(sample, members, timezone.now(),
                                         timezone.get_current_timezone())
    except (ValueError, OverflowError, TypeError) as exc:
        return {"preview_problem": f"These settings make no rotation: {exc}"}
    return {"preview": rows, "preview_zone": sample.timezone}


# --- My shifts ----------------------------------------------------------------------------

@require_GET
def my_shifts(request):
    """The signed-in user's shifts on every schedule for the next four weeks."""
    now = timezone.now()
    rows = calendar.user_shifts(request.user.pk, now, now + MY_SHIFTS_WINDOW)
    return render(request, "oncall/schedules/my_shifts.html", {
        "rows": rows, "now": now, "weeks": MY_SHIFTS_WINDOW.days // 7,
        "feed_url": _feed_url(request, "oncall:my-calendar-feed"),
    })


# --- iCal feeds (no login: the per-user token in the URL is the credential) -----------------

def _feed_profile(request):
    """The profile whose calendar token is ?token=, or 404 (never say which part failed)."""
    token = request.GET.get("token", "")
    if not token or len(token) > 64:
        raise Http404("No calendar for this link.")
    profile = Profile.objects.select_related("user").filter(calendar_token=token).first()
    if profile is None or not secrets.compare_digest(profile.calendar_token.encode(),
                                                     token.encode()):
        raise Http404("No calendar for this link.")
    if not profile.user.is_active:
        raise Http404("No calendar for this link.")
    return profile


def _ical_response(body, filename):
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_not_required
@require_safe
def schedule_calendar_feed(request, pk):
    _feed_profile(request)
    schedule = _schedule(pk)
    body = calendar.schedule_feed(schedule, timezone.now(), site=request.build_absolute_uri("/"))
    return _ical_response(body, f"schedule-{schedule.pk}.ics")


@login_not_required
@require_safe
def my_calendar_feed(request):
    profile = _feed_profile(request)
    body = calendar.user_feed(profile, timezone.now(), site=request.build_absolute_uri("/"))
    return _ical_response(body, "my-shifts.ics")

