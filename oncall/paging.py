"""Pages escalate level by level until someone acknowledges: the verbs and one step.

Reliability (DESIGN.md): all state is in the database. A page's `next_step_at`
says when the engine must act; the paging engine's loop (oncall/engine.py, its own
process, no broker) finds due pages and claims each with
`select_for_update(skip_locked=True)`, so a dead engine or a lost wake-up only
delays a step until another engine's next loop. A Notification row is written
before any network call and is unique per (page, cycle, level, person, method),
and sending first claims it with a conditional UPDATE, so neither retries nor
several engines notify the same person twice for the same step.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from mindweave_ir.errors import Refused
from mindweave_ir.live import versions as live
from mindweave_ir.templatetags.mw import display_name

from . import channels, delivery, wakeup
from .models import (
    ContactMethod,
    DeliveryStatus,
    EscalationPolicy,
    Notification,
    Page,
    PageEvent,
    PageEventKind,
    PageStatus,
    Schedule,
)
from .roles import Role, has_role

MAX_ATTEMPTS = delivery.MAX_ATTEMPTS
AUDIT_GRACE = timedelta(minutes=1)
ACK_SALT = "oncall.page-ack"
ACK_MAX_AGE = timedelta(hours=24)


class PagingError(Refused):
    """A request the engine refuses (acknowledging a closed page ...)."""


# --- listeners: how pages report back to whoever raised them ----------------------

_listeners = []


def subscribe(listener):
    """Call `listener(kind, page, text, by=None)` for every page event, in its transaction.

    `oncall` imports nothing from the apps above it; they subscribe here instead
    (incidents writes page events onto the incident timeline).
    """
    if listener not in _listeners:
        _listeners.append(listener)


def _event(page, kind, text, *, by=None, flagged=False, now=None):
    """Record a page event, tell the listeners, and move the live version of what the
    page is about (its `source`, e.g. an incident's page) on commit."""
    _changed(page)
    PageEvent.objects.create(page=page, kind=kind, text=text, flagged=flagged,
                             at=now or timezone.now())
    for listener in _listeners:
        listener(kind, page, text, by=by)


def _changed(page):
    live.bump(page.source)


_name = display_name
record_event = _event  # for the page verbs outside this module (oncall/replies.py)


# --- starting, acknowledging and resolving pages ------------------------------------

def snapshot_policy(policy, *, extra_schedule=None):
    """Freeze the policy's levels so later edits never reroute a live page."""
    levels = []
    if extra_schedule is not None:
        levels.append({"position": 0, "schedule_id": extra_schedule.pk,
                       "label": f"{extra_schedule.name} (SEV-1)", "user_ids": [],
                       "timeout_minutes": 0, "parallel": True})
    for level in policy.levels.prefetch_related("users").select_related("schedule"):
        levels.append({
            "position": level.position,
            "schedule_id": level.schedule_id,
            "label": level.schedule.name if level.schedule else
            ", ".join(_name(u) for u in level.users.all()),
            "user_ids": [u.pk for u in level.users.all()],
            "timeout_minutes": level.timeout_minutes,
        })
    return {"policy": policy.name, "repeat_count": policy.repeat_count, "levels": levels}


@transaction.atomic
def trigger_page(*, title, dedup_key, policy, severity="", link="", source="",
                 escalate=True, extra_schedule=None, is_test=False):
    """Start a page, or return the open one with the same dedup key (folded, not doubled).
    `is_test`: the page is for a drill (a test/game-day incident); its notifications
    say "[TEST]".

    The first step is due at once: the commit wakes the paging engines (a wake-up
    that is lost costs one engine loop, no more; no broker involved).
    """
    open_page = Page.objects.select_for_update().filter(
        dedup_key=dedup_key, status__in=[PageStatus.TRIGGERED, PageStatus.ACKNOWLEDGED]
    ).first()
    if open_page is not None:
        return open_page
    if not isinstance(policy, EscalationPolicy):
        raise PagingError("A page needs an escalation policy.")
    now = timezone.now()
    page = Page.objects.create(
        title=title[:300], severity=severity, link=link, dedup_key=dedup_key, source=source,
        policy=policy, escalate=escalate, is_test=is_test, created_at=now, next_step_at=now,
        snapshot=snapshot_policy(policy, extra_schedule=extra_schedule),
    )
    _event(page, PageEventKind.TRIGGERED,
           f"Paging policy “{policy.name}”" + ("." if escalate else " (first level only)."),
           now=now)
    wakeup.ring()
    return page


def can_acknowledge(user, page):
    if has_role(user, Role.INCIDENT_COMMANDER, Role.MANAGER):
        return True
    # Viewers only read: a Viewer put on a rotation is notified, but cannot stop the
    # escalation; it goes on to someone who can act.
    return has_role(user, Role.RESPONDER) and page.notifications.filter(user=user).exists()


@transaction.atomic
def acknowledge_page(page, *, by, via="dashboard"):
    """Stop escalation; the first acknowledgement is the page's (and MTTA's) time."""
    page = Page.objects.select_for_update().get(pk=page.pk)
    if page.status != PageStatus.TRIGGERED:
        who = f" by {_name(page.acknowledged_by)}" if page.acknowledged_by else ""
        raise PagingError(f"This page is already {page.get_status_display().lower()}{who}.")
    if not can_acknowledge(by, page):
        raise PagingError("Only people this page notified, Incident Commanders and Managers "
                          "acknowledge it.")
    return _acknowledge(page, by=by, via=via, now=timezone.now(), reported_by=by)


@transaction.atomic
def acknowledge_pages(source, *, by, via, now=None):
    """Acknowledge every still-escalating page raised by `source`: what raised them was
    acknowledged (an incident, by someone its app allowed), so their escalation stops
    too, at that same moment. Reported to listeners as the system's doing (no `by`).
    Returns the pages acknowledged."""
    now = now or timezone.now()
    return [_acknowledge(page, by=by, via=via, now=now, reported_by=None)
            for page in Page.objects.select_for_update()
            .filter(source=source, status=PageStatus.TRIGGERED).order_by("pk")]


def _acknowledge(page, *, by, via, now, reported_by):
    """Stop the (locked, triggered) page's escalation and cancel what is still queued."""
    page.status = PageStatus.ACKNOWLEDGED
    page.acknowledged_at, page.acknowledged_by = now, by
    page.next_step_at = None
    page.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "next_step_at"])
    page.notifications.filter(status=DeliveryStatus.QUEUED).update(
        status=DeliveryStatus.CANCELLED)
    _event(page, PageEventKind.ACKNOWLEDGED, f"Acknowledged by {_name(by)} ({via}).",
           by=reported_by, now=now)
    return page


@transaction.atomic
def resolve_page(page, *, by=None, reason=""):
    """Close the page (its incident was resolved); pending notifications are cancelled."""
    page = Page.objects.select_for_update().get(pk=page.pk)
    if not page.is_open:
        return page
    page.status = PageStatus.RESOLVED
    page.resolved_at = timezone.now()
    page.next_step_at = None
    page.save(update_fields=["status", "resolved_at", "next_step_at"])
    page.notifications.filter(status=DeliveryStatus.QUEUED).update(
        status=DeliveryStatus.CANCELLED)
    _event(page, PageEventKind.RESOLVED, reason or "Resolved.", by=by)
    return page


# --- running escalation steps -------------------------------------------------------

def _recipients(level, now):
    """User ids a level reaches now: the schedule's on-call, or its named people."""
    if level.get("schedule_id"):
        schedule = Schedule.objects.filter(pk=level["schedule_id"]).first()
        who = schedule.on_call_at(now) if schedule else None
        return [who] if who else []
    return list(level.get("user_ids", []))


def _plan_notifications(page, level_number, user_ids, now, due):
    """Queue one Notification per person and enabled method; return who has none.

    A method set to wait N minutes is due N minutes after the step was due, `due`
    (cancelled if the page is acknowledged first); immediate ones are due when the step
    was: the engine that ran this step sends them in the same loop (and any other is
    woken after commit). So `due_at` is when the person should have been notified and
    `sending_at - due_at` is the whole lateness, the step's included (/metrics).
    """
    methods = ContactMethod.objects.filter(user_id__in=user_ids, disabled_at__isnull=True) \
        .select_related("user")
    reached, rung = set(), False
    for method in methods:
        notification, made = Notification.objects.get_or_create(
            page=page, cycle=page.cycle, level=level_number, user=method.user,
            contact_method=method,
            defaults={"kind": method.kind, "queued_at": now,
                      "due_at": due + timedelta(minutes=method.notify_after_minutes)},
        )
        reached.add(method.user_id)
        if made and method.notify_after_minutes == 0 and not rung:
            wakeup.ring()
            rung = True
    return [uid for uid in user_ids if uid not in reached]


def _names(user_ids):
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(pk__in=user_ids)
    return ", ".join(sorted(_name(u) for u in users)) or "nobody"


def _step(page, now):
    """Run the page's next level (skipping levels that reach nobody), then schedule the next.

    1. Past the last level: repeat from level 1 if cycles remain, else stop (exhausted).
    2. Resolve the level's people now (schedule on-call or named users).
    3. Nobody, or nobody with a contact method: flag it and go straight on.
    4. Otherwise queue their notifications and wait the level's timeout.
    """
    levels = page.levels
    due = min(page.next_step_at or now, now)
    for _ in range(len(levels) * (page.snapshot.get("repeat_count", 0) + 1) + 1):
        if page.next_level >= len(levels):
            if page.escalate and page.cycle < page.snapshot.get("repeat_count", 0):
                page.cycle += 1
                page.next_level = 0
                _event(page, PageEventKind.REPEATED,
                       f"Nobody acknowledged; running the policy again "
                       f"(round {page.cycle + 1}).", now=now)
                continue
            page.next_step_at = None
            if page.escalate:
                page.status = PageStatus.EXHAUSTED
                _event(page, PageEventKind.EXHAUSTED,
                       "Every level was paged and nobody acknowledged.", flagged=True, now=now)
            return
        level = levels[page.next_level]
        number = level["position"]
        page.next_level += 1
        user_ids = _recipients(level, now)
        unreachable = _plan_notifications(page, number, user_ids, now, due) if user_ids else []
        reached = [u for u in user_ids if u not in unreachable]
        if unreachable:
            _event(page, PageEventKind.SKIPPED, f"{_names(unreachable)} on level {number} "
                   "has no working contact method.", flagged=True, now=now)
        if not reached:
            if not user_ids:
                _event(page, PageEventKind.SKIPPED, f"Level {number} ({level['label']}) "
                       "resolves to nobody right now; moving on.", flagged=True, now=now)
            continue
        if level.get("parallel"):
            _event(page, PageEventKind.NOTIFIED, f"Also paging {_names(reached)} "
                   f"({level['label']}).", now=now)
            continue
        page.current_level = number
        _event(page, PageEventKind.NOTIFIED,
               f"Level {number} ({level['label']}): paging {_names(reached)}.", now=now)
        if not page.escalate:
            page.next_level = len(levels)
            page.next_step_at = None
            return
        page.next_step_at = now + timedelta(minutes=level["timeout_minutes"])
        return


def run_page(page_id, *, now=None):
    """Run the page's due step, if it is due and nobody else is running it."""
    now = now or timezone.now()
    with transaction.atomic():
        page = (Page.objects.select_for_update(skip_locked=True)
                .filter(pk=page_id, status=PageStatus.TRIGGERED, next_step_at__lte=now).first())
        if page is None:
            return "not due"
        _step(page, now)
        page.save(update_fields=["status", "cycle", "next_level", "current_level",
                                 "next_step_at"])
    return f"page {page_id}: level {page.current_level}, next {page.next_step_at}"


def due_page_ids(now):
    return list(Page.objects.filter(status=PageStatus.TRIGGERED, next_step_at__lte=now)
                .order_by("next_step_at").values_list("pk", flat=True)[:500])


def run_due_pages(*, now=None):
    """Every due step, here and now: for a caller without an engine (tests, a shell).
    The engine runs the same steps in its loop and sends on its own threads."""
    now = now or timezone.now()
    ran = 0
    for page_id in due_page_ids(now):
        if run_page(page_id, now=now) != "not due":
            ran += 1
    return ran


# --- delivery -------------------------------------------------------------------------

def ack_url(page, user):
    token = signing.dumps({"p": page.pk, "u": user.pk}, salt=ACK_SALT, compress=True)
    return f"{settings.SITE_URL}/oncall/ack/{token}/"


def read_ack_token(token):
    """(page_id, user_id) from a one-click link; PagingError if expired or tampered."""
    try:
        data = signing.loads(token, salt=ACK_SALT, max_age=ACK_MAX_AGE)
    except signing.SignatureExpired:
        raise PagingError("This acknowledgement link has expired (links last 24 hours). "
                          "Acknowledge from the dashboard instead.") from None
    except signing.BadSignature:
        raise PagingError("This acknowledgement link is not valid: it was changed or "
                          "truncated. Acknowledge from the dashboard instead.") from None
    return data["p"], data["u"]


def _escalation_hint(page, level_number):
    level = next((lv for lv in page.levels if lv["position"] == level_number), None)
    if not page.escalate or level is None or level.get("parallel"):
        return "Acknowledge to let the team know you are on it."
    return (f"Acknowledge within {level['timeout_minutes']} minutes or the page escalates "
            "to the next level.")


def _message(notification):
    page = notification.page
    text = (f"{'TEST (a drill): ' if page.is_test else ''}"
            f"{page.severity + ' ' if page.severity else ''}{page.title}\n"
            f"Escalation level {notification.level}"
            f"{' (repeat ' + str(notification.cycle) + ')' if notification.cycle else ''}.\n"
            f"{_escalation_hint(page, notification.level)}")
    subject = f"[{page.severity or 'PAGE'}] {page.title}"
    return channels.Message(
        subject=channels.marked_test(subject) if page.is_test else subject, text=text,
        link=page.link or f"{settings.SITE_URL}{page.get_absolute_url()}",
        ack_url=ack_url(page, notification.user), severity=page.severity,
        dedup_key=page.dedup_key, is_test=page.is_test, reply_code=str(page.pk),
        ref=f"n{notification.pk}",
    )


def deliver(notification_id, *, now=None):
    """Send one queued notification, at most once (see oncall/delivery.py).

    1. Claim it: queued -> sending with a conditional UPDATE; only one worker wins.
    2. Send outside any transaction (a slow network never holds a lock).
    3. Record sent / failed; a transient error re-queues it with exponential backoff
       until MAX_ATTEMPTS; a permanent one disables the contact method, visibly.
    """
    now = now or timezone.now()
    if not delivery.claim(Notification, notification_id, now):
        return "not mine"
    notification = Notification.objects.select_related("page", "user", "contact_method") \
        .get(pk=notification_id)
    _changed(notification.page)  # now "sending", shown on the paging card
    if notification.page.status != PageStatus.TRIGGERED:
        Notification.objects.filter(pk=notification_id).update(status=DeliveryStatus.CANCELLED)
        return "page no longer open"
    try:
        summary = delivery.send(notification.contact_method, _message(notification))
    except channels.ChannelError as exc:
        return _delivery_failed(notification, exc)
    with transaction.atomic():
        delivery.record_sent(Notification, notification_id)
        _event(notification.page, PageEventKind.DELIVERED,
               f"{notification.get_kind_display()} delivered to {_name(notification.user)}.")
    return f"sent: {summary}"


@transaction.atomic
def _delivery_failed(notification, exc):
    delay, error = delivery.record_failure(notification, exc)
    _changed(notification.page)
    if delay:
        return f"retry in {delay}s: {error}"
    _event(notification.page, PageEventKind.FAILED,
           f"{notification.get_kind_display()} to {_name(notification.user)} failed after "
           f"{notification.attempts} attempt(s): {error}", flagged=True)
    return f"failed: {error}"


def due_notifications(now, *, limit=500, held=()):
    """Queued notifications of open pages due by `now`, oldest first: (pk, kind, target).

    `held`: pks the caller already holds (waiting behind a slow receiver's share); left
    out, so that `limit` of them can never hide the notifications for everyone else."""
    return list(Notification.objects.filter(status=DeliveryStatus.QUEUED, due_at__lte=now,
                                            page__status=PageStatus.TRIGGERED)
                .exclude(pk__in=held)
                .order_by("due_at", "pk")
                .values_list("pk", "kind", "contact_method__target")[:limit])


# --- the auditor ----------------------------------------------------------------------

def audit(*, now=None):
    """Find escalation that should have happened and did not; fire it and flag it.

    - a due step more than AUDIT_GRACE late (no paging engine running);
    - a notification due more than AUDIT_GRACE ago and still queued (the same): sent
      from here, so people are paged late rather than never;
    - a notification stuck in "sending" (its engine died mid-send): marked failed,
      not resent, since the person may already have it.
    """
    now = now or timezone.now()
    fixed = 0
    for page_id in due_page_ids(now - AUDIT_GRACE):
        with transaction.atomic():
            page = Page.objects.select_for_update(skip_locked=True).filter(pk=page_id).first()
            if page is None or page.next_step_at is None:
                continue
            late = now - page.next_step_at
            _event(page, PageEventKind.AUDITOR, f"Step was {int(late.total_seconds())} s "
                   "overdue; the auditor fired it.", flagged=True, now=now)
        run_page(page_id, now=now)
        fixed += 1
    for pk, _, _ in due_notifications(now - AUDIT_GRACE):
        notification = Notification.objects.select_related("page", "user").get(pk=pk)
        late = int((now - notification.due_at).total_seconds())
        if deliver(pk, now=now).startswith(("sent", "retry", "failed")):
            with transaction.atomic():
                _event(notification.page, PageEventKind.AUDITOR,
                       f"{notification.get_kind_display()} to {_name(notification.user)} was "
                       f"{late} s overdue; the auditor sent it (is a paging engine running?).",
                       flagged=True, now=now)
            fixed += 1
    for notification in delivery.stuck(Notification.objects, now).select_related("page", "user"):
        with transaction.atomic():
            if delivery.fail_if_stuck(Notification, notification.pk):
                _event(notification.page, PageEventKind.AUDITOR,
                       f"{notification.get_kind_display()} to {_name(notification.user)} was "
                       "interrupted mid-send; not resent to avoid a duplicate.", flagged=True,
                       now=now)
                fixed += 1
    return fixed


# --- test notifications ----------------------------------------------------------------

def send_test_notification(method):
    """Send a test to one contact method now and record the outcome on it."""
    message = channels.Message(
        subject="[TEST] MindWeave IR test notification",
        text=f"This is a test for {_name(method.user)}. If you can read it, paging reaches "
             "you here.", link=f"{settings.SITE_URL}/oncall/me/", ack_url="", severity="",
        dedup_key=f"test-{method.pk}", kind="test", ref=f"t{method.pk}",
    )
    now = timezone.now()
    try:
        channels.channel_for(method.kind).send(method.target, message, secret=method.secret)
    except channels.ChannelError as exc:
        ContactMethod.objects.filter(pk=method.pk).update(
            last_test_at=now, last_test_ok=False, last_test_error=str(exc)[:1000])
        return False, str(exc)
    # A good test does not switch a paused or failed method back on: its owner does.
    ContactMethod.objects.filter(pk=method.pk).update(
        last_test_at=now, last_test_ok=True, last_test_error="")
    return True, "Delivered."
