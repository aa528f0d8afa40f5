"""Escalation policies (what will happen) and pages (what did).

An HTMX request (not boosted) gets only the fragment it swaps, the partial named
like the DOM id it replaces; refusals are 4xx with the reason in the fragment.
The one-click acknowledgement link opens without login (signed, expiring token):
its GET only asks, because mail scanners prefetch links; only its POST acts.
"""

import zoneinfo
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count, Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mindweave_ir.htmx import is_fragment
from mindweave_ir.templatetags.mw import display_name

from .. import guardrails, paging
from ..middleware import user_timezone_name
from ..models import (
    OPEN_PAGE_STATUSES,
    ContactMethod,
    DeliveryStatus,
    EscalationPolicy,
    Notification,
    Page,
    PageStatus,
    ScheduleMember,
)

DETAIL = "oncall/pages/page_detail.html"
LIST = "oncall/pages/page_list.html"
MY_PAGE = "oncall/pages/_my_page.html"
ONE_CLICK = "oncall/pages/one_click_ack.html"
RECENT_LIMIT = 50

# One place for colours: badge classes per page status and delivery status.
PAGE_STATUS_CLASS = {
    PageStatus.TRIGGERED: "sev-1",
    PageStatus.ACKNOWLEDGED: "status-fixing",
    PageStatus.RESOLVED: "status-resolved",
    PageStatus.EXHAUSTED: "sev-2",
}
DELIVERY_CLASS = {
    DeliveryStatus.QUEUED: "sla-running",
    DeliveryStatus.SENDING: "sla-soon",
    DeliveryStatus.SENT: "sla-met",
    DeliveryStatus.FAILED: "sla-missed",
    DeliveryStatus.CANCELLED: "help",
}



_name = display_name


# --- Escalation policies ---------------------------------------------------------------

@dataclass
class LevelView:
    """One level as the policy page shows it: who it names and who it reaches now."""

    level: object
    people: list = field(default_factory=list)  # [(user, has_working_method)]
    on_call_now: object = None  # for schedule levels: the user on call right now
    targets: list = field(default_factory=list)  # whom a page raised now would call
    reachable_now: list = field(default_factory=list)  # ... of those, with a working method

    @property
    def nobody_now(self):
        return not self.targets


def _working_user_ids(user_ids):
    """Users with at least one enabled contact method whose last test did not fail."""
    return set(ContactMethod.objects.filter(user_id__in=user_ids, disabled_at__isnull=True)
               .exclude(last_test_ok=False).values_list("user_id", flat=True))


def _level_views(policy, now):
    members = Prefetch("schedule__members",
                       queryset=ScheduleMember.objects.select_related("user").order_by("position"))
    levels = list(policy.levels.select_related("schedule", "schedule__team")
                  .prefetch_related("users", members).order_by("position"))
    on_call = {level.schedule_id: level.schedule.on_call_at(now)
               for level in levels if level.schedule_id}
    users = {}
    for level in levels:
        named = ([m.user for m in level.schedule.members.all()] if level.schedule_id
                 else list(level.users.all()))
        users |= {u.pk: u for u in named}
    missing = {uid for uid in on_call.values() if uid and uid not in users}
    users |= {u.pk: u for u in get_user_model().objects.filter(pk__in=missing)}
    working = _working_user_ids(users)
    views = []
    for level in levels:
        if level.schedule_id:
            named = [m.user for m in level.schedule.members.all()]
            now_user = users.get(on_call[level.schedule_id])
            targets = [now_user] if now_user else []
        else:
            named = list(level.users.all())
            now_user, targets = None, named
        views.append(LevelView(
            level=level, people=[(u, u.pk in working) for u in named], on_call_now=now_user,
            targets=targets, reachable_now=[u for u in targets if u.pk in working],
        ))
    return views, working


def _guardrails(policy, views, working, now):
    """Plain-words warnings about pages of this policy that would reach nobody."""
    warnings = []
    if not views:
        warnings.append("This policy has no levels: its pages reach nobody.")
        return warnings
    schedule_warnings = guardrails.warnings_by_schedule(
        {view.level.schedule_id for view in views if view.level.schedule_id}, now)
    for view in views:
        level = view.level
        label = f"Level {level.position}"
        if view.nobody_now:
            why = (f"nobody is on call on “{level.schedule.name}” right now"
                   if level.schedule_id else "it names nobody")
            warnings.append(f"{label} resolves to nobody right now ({why}); escalation "
                            "skips it.")
        if level.schedule_id:
            # The schedule's own checks: members without working methods, coverage gaps.
            warnings.extend(f"{label} (“{level.schedule.name}”): {text}"
                            for text in schedule_warnings.get(level.schedule_id, []))
            members = [u for u, _ in view.people]
            now_user = view.on_call_now
            unreachable = [_name(now_user)] if now_user and now_user not in members \
                and now_user.pk not in working else []
        else:
            unreachable = [_name(u) for u, ok in view.people if not ok]
        if unreachable:
            warnings.append(f"{label}: {', '.join(unreachable)} "
                            f"{'has' if len(unreachable) == 1 else 'have'} no working contact "
                            "method and will not be paged.")
    if all(not view.reachable_now for view in views):
        warnings.append("Every level can resolve to nobody: a page raised right now would "
                        "reach no one.")
    extra = policy.major_incident_schedule
    if extra is not None and extra.on_call_at(now) is None:
        warnings.append(f"The SEV-1 schedule “{extra.name}” has nobody on call right now.")
    return warnings


@require_GET
def policy_list(request):
    policies = (EscalationPolicy.objects.select_related("major_incident_schedule")
                .prefetch_related("services")
                .annotate(level_count=Count("levels", distinct=True)).order_by("name"))
    return render(request, "oncall/pages/policy_list.html", {"policies": policies})


@require_GET
def policy_detail(request, pk):
    policy = get_object_or_404(
        EscalationPolicy.objects.select_related("major_incident_schedule"), pk=pk)
    now = timezone.now()
    views, working = _level_views(policy, now)
    return render(request, "oncall/pages/policy_detail.html", {
        "policy": policy,
        "levels": views,
        "services": policy.services.all(),
        "warnings": _guardrails(policy, views, working, now),
        "now": now,
    })


# --- Pages ---------------------------------------------------------------------------------

def _level_label(page, position):
    for level in page.levels:
        if level.get("position") == position:
            return level.get("label", "")
    return ""


def _next_step(page):
    """What the engine does at `next_step_at`, in words."""
    if page.status != PageStatus.TRIGGERED or page.next_step_at is None:
        return ""
    levels = page.levels
    if page.next_level < len(levels):
        level = levels[page.next_level]
        return f"escalates to level {level['position']} ({level.get('label', '')})"
    if page.escalate and page.cycle < page.snapshot.get("repeat_count", 0):
        return "runs the policy again from the first level"
    return "stops: nobody acknowledged"


def _notified(page):
    """Each person notified, once, with how their notifications went (prefetched rows)."""
    people = {}
    for n in page.notifications.all():
        entry = people.setdefault(n.user_id, {"user": n.user, "statuses": set()})
        entry["statuses"].add(n.status)
    result = []
    for entry in people.values():
        statuses = entry["statuses"]
        if DeliveryStatus.SENT in statuses:
            state = DeliveryStatus.SENT
        elif statuses & {DeliveryStatus.QUEUED, DeliveryStatus.SENDING}:
            state = DeliveryStatus.QUEUED
        elif DeliveryStatus.FAILED in statuses:
            state = DeliveryStatus.FAILED
        else:
            state = DeliveryStatus.CANCELLED
        result.append({"user": entry["user"], "state": DeliveryStatus(state),
                       "css": DELIVERY_CLASS[state]})
    return result


def _decorate(page):
    page.badge_class = PAGE_STATUS_CLASS.get(page.status, "")
    page.level_label = _level_label(page, page.current_level)
    page.next_step = _next_step(page)
    return page


def _safe_link(url):
    return url if url.startswith(("https://", "http://", "/")) and not url.startswith("//") \
        else ""


@require_GET
def page_list(request):
    """Open pages first (still escalating before acknowledged, newest first), then recent."""
    pages = Page.objects.select_related("acknowledged_by").prefetch_related(
        Prefetch("notifications", queryset=Notification.objects.select_related("user")))
    open_pages = [_decorate(p) for p in
                  pages.filter(status__in=OPEN_PAGE_STATUSES).order_by("-created_at")]
    open_pages.sort(key=lambda p: p.status != PageStatus.TRIGGERED)  # stable: keeps recency
    recent = [_decorate(p) for p in
              pages.exclude(status__in=OPEN_PAGE_STATUSES).order_by("-created_at")[:RECENT_LIMIT]]
    for page in open_pages + recent:
        page.notified = _notified(page)
    for page in open_pages:
        page.can_ack = _can_ack(request.user, page)
    return render(request, LIST, {
        "open_pages": open_pages, "recent": recent, "limit": RECENT_LIMIT,
        "now": timezone.now(),
    })


def _can_ack(user, page):
    return page.status == PageStatus.TRIGGERED and paging.can_acknowledge(user, page)


def _page(pk):
    return get_object_or_404(Page.objects.select_related("acknowledged_by", "policy"), pk=pk)


def _detail_context(request, page, **overrides):
    notifications = list(page.notifications.select_related("user", "contact_method")
                         .order_by("cycle", "level", "queued_at", "id"))
    for n in notifications:
        n.css = DELIVERY_CLASS.get(n.status, "")
    _decorate(page)
    context = {
        "page": page,
        "levels": page.levels,
        "notifications": notifications,
        "events": page.events.all(),
        "link": _safe_link(page.link),
        "can_ack": _can_ack(request.user, page),
        "now": timezone.now(),
    }
    context |= overrides
    return context


def _respond(request, page, *, status=200, **context):
    """The fragment the HTMX request targets: the page list's row (#page-<pk>), the
    dashboard's "Paging you now" item (#my-page-<pk>), or else #page-status (with the
    notifications and events swapped out of band)."""
    if not is_fragment(request):
        if request.method == "POST" and status < 400:
            return redirect(page)
        return render(request, DETAIL, _detail_context(request, page, **context), status=status)
    target = request.htmx.target
    if target == f"page-{page.pk}":
        _decorate(page).notified = _notified(page)
        page.can_ack = _can_ack(request.user, page)
        return render(request, f"{LIST}#page-row",
                      {"page": page, "now": timezone.now(), **context}, status=status)
    if target == f"my-page-{page.pk}":
        return render(request, MY_PAGE, {"page": page, **context}, status=status)
    ctx = _detail_context(request, page, **context)
    html = render_to_string(f"{DETAIL}#page-status", ctx, request)
    for partial in ("page-notifications", "page-events"):
        html += render_to_string(f"{DETAIL}#{partial}", {**ctx, "oob": True}, request)
    return HttpResponse(html, status=status)


@require_GET
def page_detail(request, pk):
    return render(request, DETAIL, _detail_context(request, _page(pk)))


@require_POST
def page_acknowledge(request, pk):
    page = _page(pk)
    try:
        paging.acknowledge_page(page, by=request.user, via="dashboard")
    except paging.PagingError as exc:
        page = _page(pk)
        # A closed page is a conflict (someone got there first); an open one, a refusal.
        status = 409 if page.status != PageStatus.TRIGGERED else 403
        return _respond(request, page, status=status, error=str(exc))
    return _respond(request, _page(pk), acknowledged=True)


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def one_click_ack(request, token):
    """The link in a notification. GET asks; POST acknowledges as the link's person.

    1. A tampered or expired token: 400, saying so; nothing happens.
    2. The page is no longer open: say who acknowledged it and when (200).
    3. GET: a confirmation page with one button. POST: acknowledge.
    """
    try:
        page_id, user_id = paging.read_ack_token(token)
    except paging.PagingError as exc:
        return render(request, ONE_CLICK, {"error": str(exc), "invalid": True}, status=400)
    page = Page.objects.select_related("acknowledged_by").filter(pk=page_id).first()
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if page is None or user is None:
        what = "page" if page is None else "person this link was sent to"
        return render(request, ONE_CLICK, {"error": f"The {what} no longer exists here. "
                                           "Open the dashboard instead.", "invalid": True},
                      status=404)
    context = {"page": page, "as_user": user, "token": token, "statuses": PageStatus}
    status = 200
    if request.method == "POST" and page.status == PageStatus.TRIGGERED:
        try:
            page = paging.acknowledge_page(page, by=user, via="one-click link")
            context |= {"page": page, "acknowledged_now": True}
        except paging.PagingError as exc:
            page = Page.objects.select_related("acknowledged_by").get(pk=page.pk)
            context["page"] = page
            if page.status == PageStatus.TRIGGERED:  # still open: this person may not
                context["error"], status = str(exc), 403
    # Show times in the zone of the person the link was sent to.
    with timezone.override(zoneinfo.ZoneInfo(user_timezone_name(user))):
        return render(request, ONE_CLICK, context, status=status)
