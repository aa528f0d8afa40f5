"""A schedule's shifts: its rotation's turns, between two of its own handoff instants.

A shift is [start, end) where start and end are consecutive rotation handoffs
(e.g. Monday 09:00 America/New_York to the next Monday 09:00, 167 or 169 hours
across a DST change). Who hands to whom is decided at the handoff moment: the
outgoing on-call is whoever is on call just before `end`, the incoming whoever is
on call at `end`, overrides applied; where coverage (business hours) leaves nobody
on call at that moment, the rotation's member for the turn.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from oncall import calendar, rotation

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class ShiftSpan:
    schedule: object
    start: datetime
    end: datetime
    outgoing_id: int | None
    incoming_id: int | None


def _rotation(schedule, loaded):
    if loaded:
        return calendar.rotation_of(schedule)
    members = schedule.member_ids()
    if not members:
        return None
    try:
        return schedule.as_rotation(members)
    except ValueError:
        return None


def _on_call(schedule, rot, at, loaded):
    if not loaded:
        return schedule.on_call_at(at)
    return rotation.on_call_at(rot, calendar.override_spans(schedule, at, at + _TICK), at)


def shift_at(schedule, at, *, loaded=False):
    """The shift of `schedule` containing `at`, or None (no members, before its start).

    `loaded`: the schedule comes from calendar.load_timeline with a window holding
    the shift's end, so no further queries are made (pages listing every schedule).
    """
    rot = _rotation(schedule, loaded)
    if rot is None:
        return None
    turn = rotation.turn_at(replace(rot, coverage=None), at)
    if turn is None:
        return None
    following = rotation.turn_at(replace(rot, coverage=None), turn.end)
    outgoing = _on_call(schedule, rot, turn.end - _TICK, loaded) or turn.member
    incoming = _on_call(schedule, rot, turn.end, loaded) or following.member
    return ShiftSpan(schedule, turn.start, turn.end, outgoing, incoming)


def current_shifts(schedules, now, horizon=timedelta(days=60)):
    """(schedule, ShiftSpan or None) for each schedule of the queryset, in a fixed number
    of queries: members and the overrides of [now, now + horizon) loaded at once (a
    shift ending beyond the horizon would miss overrides at its end)."""
    loaded = calendar.load_timeline(schedules, now, now + horizon)
    return [(s, shift_at(s, now, loaded=True)) for s in loaded]



def upcoming(schedule, start, days=14):
    """The schedule's shifts (overrides applied, cut at handoffs) for `days` from `start`:
    the rotation the incoming on-call can see coming."""
    loaded = calendar.load_timeline(type(schedule).objects.filter(pk=schedule.pk), start,
                                    start + timedelta(days=days))
    if not loaded:
        return [], {}
    schedule = loaded[0]
    end = start + timedelta(days=days)
    shifts = calendar.split_at_handoffs(schedule, calendar.timeline(schedule, start, end), end)
    return shifts, calendar.people(schedule)
