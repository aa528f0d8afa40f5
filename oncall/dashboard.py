"""Who is on call now and next, for the IC dashboard and the schedule list.

Schedules are few, so all of them are loaded at once with their members and the
overrides of the horizon: three queries, whatever the number of people.
"""

from datetime import timedelta

from django.core.cache import cache

from mindweave_ir.live import versions

from . import calendar
from .models import Schedule

HORIZON = timedelta(days=56)


def on_call_panel(now, schedules=None):
    """One dict per schedule, by name.

    Keys: `schedule`; `on_call` (user or None) and `is_override`; `until` (end of
    the current shift, None when it runs past the horizon); `next` (the next
    different person, or None) and `next_start`.
    """
    end = now + HORIZON
    queryset = Schedule.objects.all() if schedules is None else schedules
    rows = []
    for schedule in calendar.load_timeline(queryset.order_by("name"), now, end):
        rows.append(_row(schedule, now, end))
    return rows


def cached_on_call_panel(now, live_version):
    """(on_call_panel(now), the first instant it changes by time alone: a shift ends
    or the next one starts), computed once per DASHBOARD version (schedule, rotation,
    override and membership edits move it) and kept until that instant."""
    key = f"oncall-panel:{live_version}"
    cached = cache.get(key)
    if cached is not None and cached[1] > now:
        return cached
    rows = on_call_panel(now)
    changes = [t for row in rows for t in (row["until"], row["next_start"]) if t]
    valid_until = min(changes, default=now + HORIZON)
    seconds = min((valid_until - now).total_seconds(), versions.FRAGMENT_SECONDS)
    if seconds >= 1:
        cache.set(key, (rows, valid_until), int(seconds))
    return rows, valid_until


def _row(schedule, now, end):
    shifts = calendar.timeline(schedule, now, end)
    users = calendar.people(schedule)
    current = shifts[0] if shifts and shifts[0].start <= now else None
    upcoming = shifts[1:] if current else shifts
    following = next((s for s in upcoming if current is None or s.member != current.member),
                     None)
    return {
        "schedule": schedule,
        "on_call": users.get(current.member) if current else None,
        "is_override": bool(current and current.is_override),
        "until": current.end if current and current.end < end else None,
        "next": users.get(following.member) if following else None,
        "next_start": following.start if following else None,
    }
