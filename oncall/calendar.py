"""Schedule timelines from loaded rows: the calendar grid, "my shifts", iCal feeds.

Pages that show several schedules (list, dashboard, guardrails, feeds) load each
schedule's members and the overrides of a window once, with `load_timeline`;
everything below then works on those rows without further queries. The grid is
pure (shifts in, days of segments in the viewer's zone out); feeds are built with
the `icalendar` package, times in UTC.
"""

import calendar as _stdlib_calendar
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

import icalendar
from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q

from mindweave_ir.templatetags.mw import person

from . import rotation
from .models import Coverage, Override, RotationKind, Schedule, ScheduleMember, Weekday

DAY = timedelta(days=1)


# --- Timelines over prefetched rows ----------------------------------------------------

def load_timeline(queryset, start, end, *, align=False, contact_methods=False):
    """The schedules of `queryset` as a list, with their rows for [start, end) loaded.

    Each gets `ordered_members` (users selected), `window_overrides` (only those
    touching the window, oldest first, as the rotation applies them) and
    `window_start`: `start`, or with `align` the last handoff at or before it, so
    shifts computed from there begin where they really begin. `contact_methods`
    also loads each member's contact methods. Three or four queries in all.
    """
    members = ScheduleMember.objects.select_related("user").order_by("position")
    if contact_methods:
        members = members.prefetch_related("user__contact_methods")
    schedules = list(queryset.prefetch_related(
        Prefetch("members", queryset=members, to_attr="ordered_members")))
    for schedule in schedules:
        schedule.window_start = aligned_start(schedule, start) if align else start
    begin = min((s.window_start for s in schedules), default=start)
    by_schedule = {s.pk: [] for s in schedules}
    if schedules:
        overrides = (Override.objects.filter(schedule__in=schedules, start__lt=end, end__gt=begin)
                     .select_related("user", "created_by").order_by("created_at", "id"))
        for override in overrides:
            by_schedule[override.schedule_id].append(override)
    for schedule in schedules:
        schedule.window_overrides = by_schedule[schedule.pk]
    # People only earlier member lists name (a member change kept past turns): one
    # query, and only when some schedule has such a history.
    earlier = set().union(*(s.history_member_ids() for s in schedules)) if schedules else set()
    earlier -= {m.user_id for s in schedules for m in s.ordered_members}
    found = {u.pk: u for u in get_user_model().objects.filter(pk__in=earlier)} if earlier else {}
    for schedule in schedules:
        schedule.history_users = {uid: found[uid] for uid in schedule.history_member_ids()
                                  if uid in found}
    return schedules


def rotation_of(schedule):
    """The schedule as a rotation.Rotation, or None (no members, or settings it rejects)."""
    members = [m.user_id for m in schedule.ordered_members]
    if not members:
        return None
    try:
        return schedule.as_rotation(members)
    except ValueError:
        return None


def rotation_problem(schedule):
    """Why the schedule's settings make no rotation (a message), or None."""
    members = [m.user_id for m in schedule.ordered_members] or [None]
    try:
        schedule.as_rotation(members)
    except ValueError as exc:
        return str(exc)
    return None


def override_spans(schedule, start, end):
    return [rotation.OverrideSpan(o.start, o.end, o.user_id)
            for o in schedule.window_overrides if o.start < end and o.end > start]


def timeline(schedule, start, end):
    """rotation.Shift list for [start, end), overrides applied (same as Schedule.shifts)."""
    spans = override_spans(schedule, start, end)
    rot = rotation_of(schedule)
    if rot is None:
        return [rotation.Shift(max(o.start, start), min(o.end, end), o.member, True)
                for o in sorted(spans, key=lambda o: o.start)]
    return rotation.shifts(rot, spans, start, end)


def people(schedule):
    """user id -> user for everyone the prefetched rows mention."""
    users = dict(getattr(schedule, "history_users", {}))
    users.update((m.user_id, m.user) for m in schedule.ordered_members)
    users.update((o.user_id, o.user) for o in schedule.window_overrides)
    return users


def split_at_handoffs(schedule, shifts, end):
    """Cut rotation shifts (not overrides) at every handoff, so each piece is one turn.

    `shifts` merges a member's adjacent turns (a one-person rotation is a single
    endless shift); feeds want one event per turn, with a start that does not
    depend on when the feed was fetched.
    """
    rot = rotation_of(schedule)
    if rot is None or not shifts:
        return list(shifts)
    cuts = _handoffs_between(rot, shifts[0].start, end)
    result = []
    for shift in shifts:
        left = shift.start
        for cut in () if shift.is_override else cuts:
            if left < cut < shift.end:
                result.append(rotation.Shift(left, cut, shift.member, shift.is_override))
                left = cut
        result.append(rotation.Shift(left, shift.end, shift.member, shift.is_override))
    return result


def aligned_start(schedule, start):
    """The last handoff at or before `start` (or `start` itself), so shifts computed
    from it begin at real handoffs rather than at an arbitrary clip point."""
    rot = rotation_of(schedule)
    if rot is None:
        return start
    back = start - 2 * _period_span(rot)
    previous = [h for h in _handoffs_between(rot, back, start + timedelta(microseconds=1))
                if h <= start]
    return previous[-1] if previous else start


def _period_span(rot):
    # A period of local wall time is at most a few hours longer in real time (DST).
    return rot.period + timedelta(hours=3)


def _handoffs_between(rot, start, end):
    """Handoff instants in (start, end)."""
    result, after = [], start
    while True:
        batch = rotation.handoffs(rot, after, 64)
        result.extend(h for h in batch if h < end)
        if not batch or batch[-1] >= end:
            return result
        after = batch[-1]


# --- The calendar grid ------------------------------------------------------------------

class View:
    WEEK = "week"
    MONTH = "month"


@dataclass
class Segment:
    """The part of one shift that falls on one local day of the viewer."""

    start: datetime
    end: datetime
    user: object
    member_id: object
    is_override: bool
    start_label: str
    end_label: str
    continues_before: bool
    continues_after: bool


@dataclass
class Day:
    date: date
    in_period: bool
    is_today: bool
    segments: list = field(default_factory=list)


@dataclass
class Grid:
    view: str
    first: date
    last: date
    anchor: date
    previous: date
    next: date
    today: date
    weeks: list

    @property
    def title(self):
        if self.view == View.MONTH:
            return f"{self.anchor:%B %Y}"
        return f"{self.first:%d %b} – {self.last:%d %b %Y}"

    def bounds(self, zone):
        """UTC [start, end) of the grid's days in `zone`."""
        return local_midnight(self.first, zone), local_midnight(self.last + DAY, zone)


def parse_view(value):
    return View.MONTH if value == View.MONTH else View.WEEK


def parse_date(value, default):
    """`YYYY-MM-DD`, or `default` for anything else (a bad link never breaks the page)."""
    try:
        return date.fromisoformat(value) if value else default
    except (TypeError, ValueError):
        return default


def grid_frame(view, anchor, today):
    """An empty grid for the week (Mon–Sun) or month (whole weeks) holding `anchor`."""
    if view == View.MONTH:
        anchor = anchor.replace(day=1)
        days_in_month = _stdlib_calendar.monthrange(anchor.year, anchor.month)[1]
        month_end = anchor.replace(day=days_in_month)
        first = anchor - timedelta(days=anchor.weekday())
        last = month_end + timedelta(days=6 - month_end.weekday())
        previous = (anchor - DAY).replace(day=1)
        following = month_end + DAY
        in_period = {anchor.month}
    else:
        anchor = first = anchor - timedelta(days=anchor.weekday())
        last = first + timedelta(days=6)
        previous, following = first - timedelta(days=7), first + timedelta(days=7)
        in_period = None
    weeks, day = [], first
    while day <= last:
        week = []
        for _ in range(7):
            week.append(Day(day, in_period is None or day.month in in_period, day == today))
            day += DAY
        weeks.append(week)
    return Grid(view, first, last, anchor, previous, following, today, weeks)


def fill(grid, shifts, users, zone):
    """Put each shift on the viewer-local days it touches, labelled in `zone`."""
    for week in grid.weeks:
        for day in week:
            day_start, day_end = local_midnight(day.date, zone), local_midnight(day.date + DAY,
                                                                               zone)
            for shift in shifts:
                if shift.end <= day_start or shift.start >= day_end:
                    continue
                start, end = max(shift.start, day_start), min(shift.end, day_end)
                day.segments.append(Segment(
                    start=start, end=end, user=users.get(shift.member),
                    member_id=shift.member, is_override=shift.is_override,
                    start_label=f"{start.astimezone(zone):%H:%M}",
                    end_label="24:00" if end == day_end else f"{end.astimezone(zone):%H:%M}",
                    continues_before=shift.start < day_start,
                    continues_after=shift.end > day_end,
                ))
    return grid


def local_midnight(day, zone):
    """The instant `day` begins in `zone`, in UTC."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


# --- Describing a schedule ----------------------------------------------------------------

def rotation_summary(schedule):
    """`Weekly, Mondays 09:00 (America/New_York); business hours Mon–Fri 09:00–17:00`."""
    at = f"{schedule.handoff_time:%H:%M}" if schedule.handoff_time else "?"
    if schedule.rotation_kind == RotationKind.WEEKLY:
        text = f"Weekly, {Weekday(schedule.handoff_day).label.title()}s {at}"
    elif schedule.rotation_kind == RotationKind.DAILY:
        text = f"Daily at {at}"
    else:
        text = f"Every {schedule.custom_length_hours or '?'} hours from {at}"
    text += f" ({schedule.timezone})"
    if schedule.coverage == Coverage.BUSINESS:
        days = ", ".join(_DAY_ABBR[d] for d in sorted(schedule.business_days or [])
                         if 0 <= d <= 6)
        start = f"{schedule.business_start:%H:%M}" if schedule.business_start else "?"
        end = f"{schedule.business_end:%H:%M}" if schedule.business_end else "?"
        text += f"; business hours {days or '—'} {start}–{end}"
    else:
        text += "; 24x7"
    return text


_DAY_ABBR = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


@dataclass
class PreviewRow:
    at: datetime
    local: str
    viewer: str
    member: object
    offset_changed: bool


def preview_handoffs(schedule, members, now, viewer_zone, count=8):
    """The next `count` handoffs of an unsaved schedule, for the form's preview.

    `members` are users (possibly none yet). A row is flagged when its UTC offset
    in the schedule's zone differs from the previous handoff's (or, for the first,
    from now's): a DST change falls inside the shift that ends there, which is
    then an hour shorter or longer than usual.
    Raises ValueError (or OverflowError) for settings that make no rotation.
    """
    ids = [m.pk for m in members] or [None]
    rot = schedule.as_rotation(ids)
    bare = replace(rot, coverage=None)  # who takes over, even outside business hours
    by_id = {m.pk: m for m in members}
    zone = rot.zone
    previous = now.astimezone(zone).utcoffset()
    rows = []
    for instant in rotation.handoffs(rot, now, count):
        local = instant.astimezone(zone)
        rows.append(PreviewRow(
            at=instant,
            local=f"{local:%a %Y-%m-%d %H:%M %Z}",
            viewer=f"{instant.astimezone(viewer_zone):%a %Y-%m-%d %H:%M %Z}",
            member=by_id.get(rotation.on_call_at(bare, [], instant)),
            offset_changed=local.utcoffset() != previous,
        ))
        previous = local.utcoffset()
    return rows


# --- The signed-in user's shifts, and iCal feeds ----------------------------------------------

FEED_PAST = timedelta(days=14)
FEED_FUTURE = timedelta(days=90)
UID_DOMAIN = "mindweave-ir"


def _user_schedules(user_id, start, end):
    return Schedule.objects.filter(
        Q(members__user_id=user_id)
        | Q(overrides__user_id=user_id, overrides__start__lt=end, overrides__end__gt=start)
    ).distinct().order_by("name")


def user_shifts(user_id, start, end):
    """The user's turns on every schedule in [start, end), by start: dicts with
    `schedule`, `start`, `end`, `is_override`, `is_current` (running at `start`)."""
    rows = []
    for schedule in load_timeline(_user_schedules(user_id, start, end), start, end, align=True):
        shifts = timeline(schedule, schedule.window_start, end)
        for shift in split_at_handoffs(schedule, shifts, end):
            if shift.member == user_id and shift.end > start:
                rows.append({"schedule": schedule, "start": shift.start, "end": shift.end,
                             "is_override": shift.is_override,
                             "is_current": shift.start <= start})
    return sorted(rows, key=lambda row: (row["start"], row["schedule"].name))


def _feed_events(schedule, start, end, *, user_id=None):
    """(uid, start, end, user, override or None) for the feed window.

    Rotation turns are named by schedule, member and start instant, all fixed by
    the rotation itself (computation starts at a real handoff, see load_timeline),
    so the same turn keeps its UID across fetches; overrides are named by their id.
    """
    users = people(schedule)
    shifts = [s for s in timeline(schedule, schedule.window_start, end) if not s.is_override]
    for shift in split_at_handoffs(schedule, shifts, end):
        if shift.end <= start or (user_id is not None and shift.member != user_id):
            continue
        uid = f"shift-{schedule.pk}-{shift.member}-{shift.start:%Y%m%dT%H%M%SZ}@{UID_DOMAIN}"
        yield uid, shift.start, shift.end, users.get(shift.member), None
    for override in schedule.window_overrides:
        if override.end <= start or override.start >= end:
            continue
        if user_id is not None and override.user_id != user_id:
            continue
        yield f"override-{override.pk}@{UID_DOMAIN}", override.start, override.end, \
            override.user, override


def _calendar(name, tzname):
    cal = icalendar.Calendar()
    cal.add("prodid", "-//MindWeave IR//On-call schedules//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", tzname)
    cal.add("x-published-ttl", "PT1H")
    return cal


def _event(uid, start, end, summary, *, stamp, url, description=""):
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    # UTC ("Z") times: the one form every calendar client reads the same way.
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("summary", summary)
    event.add("url", url)
    if description:
        event.add("description", description)
    return event


def _add_events(cal, schedule, now, site, *, user_id=None):
    url = site.rstrip("/") + schedule.get_absolute_url()
    for uid, start, end, user, override in _feed_events(schedule, now - FEED_PAST,
                                                        now + FEED_FUTURE, user_id=user_id):
        summary = f"On call: {schedule.name}"
        if user_id is None:
            summary += f" ({person(user)})"
        description = ""
        if override is not None:
            summary += " – override"
            description = override.reason
        cal.add_component(_event(uid, start, end, summary, stamp=now.astimezone(UTC), url=url,
                                 description=description))


def schedule_feed(schedule, now, *, site):
    """iCalendar bytes: everyone's turns on `schedule` from 14 days ago to 90 ahead."""
    loaded = load_timeline(Schedule.objects.filter(pk=schedule.pk), now - FEED_PAST,
                           now + FEED_FUTURE, align=True)[0]
    cal = _calendar(f"On call: {schedule.name}", schedule.timezone)
    _add_events(cal, loaded, now, site)
    return cal.to_ical()


def user_feed(profile, now, *, site):
    """iCalendar bytes: the profile's user's turns on every schedule."""
    start, end = now - FEED_PAST, now + FEED_FUTURE
    cal = _calendar(f"On call: {person(profile.user)}", profile.timezone)
    for schedule in load_timeline(_user_schedules(profile.user_id, start, end), start, end,
                                  align=True):
        _add_events(cal, schedule, now, site, user_id=profile.user_id)
    return cal.to_ical()
