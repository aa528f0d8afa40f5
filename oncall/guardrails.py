"""Read-only checks that warn before a page goes nowhere (handbook §2).

Used by the schedule pages and the escalation-policy pages. Nothing here writes;
each check loads what it needs in a fixed number of queries, however many
members a schedule has.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

from mindweave_ir.templatetags.mw import person

from . import calendar, rotation
from .models import Schedule

GAP_WINDOW = timedelta(days=14)
GAPS_LISTED = 3


def schedule_warnings(schedule, now):
    """Human-readable warnings for one schedule, worst first (empty: all good)."""
    return warnings_by_schedule([schedule.pk], now).get(schedule.pk, [])


def warnings_by_schedule(schedule_ids, now):
    """{schedule id: [warning, ...]} for many schedules in four queries."""
    end = now + GAP_WINDOW
    schedules = calendar.load_timeline(
        Schedule.objects.filter(pk__in=list(schedule_ids)), now, end, contact_methods=True
    )
    return {schedule.pk: _warnings(schedule, now, end) for schedule in schedules}


def _warnings(schedule, now, end):
    members = [m.user for m in schedule.ordered_members]
    if not members:
        return ["No members: nobody is on call except during overrides, so pages to this "
                "schedule reach nobody."]
    warnings = []
    problem = calendar.rotation_problem(schedule)
    if problem:
        warnings.append(f"The rotation settings are invalid ({problem}): nobody is on call.")
    else:
        gaps = rotation.coverage_gaps(calendar.rotation_of(schedule),
                                      calendar.override_spans(schedule, now, end), now, end)
        if gaps:
            warnings.append(_gap_warning(schedule, gaps))
    for user in members:
        methods = list(user.contact_methods.all())
        if not methods:
            warnings.append(f"{person(user)} has no contact method: a page to them "
                            "reaches nobody.")
        elif not any(m.is_working for m in methods):
            warnings.append(f"{person(user)} has no working contact method (all are "
                            "disabled or failed their last test).")
    return warnings


def _gap_warning(schedule, gaps):
    zone = ZoneInfo(schedule.timezone)
    listed = "; ".join(_span(start, end, zone) for start, end in gaps[:GAPS_LISTED])
    more = len(gaps) - GAPS_LISTED
    suffix = f"; and {more} more" if more > 0 else ""
    count = "1 stretch" if len(gaps) == 1 else f"{len(gaps)} stretches"
    return (f"Nobody is on call for {count} in the next 14 days "
            f"({schedule.timezone} time): {listed}{suffix}.")


def _span(start, end, zone):
    start, end = start.astimezone(zone), end.astimezone(zone)
    end_format = "%H:%M %Z" if end.date() == start.date() else "%a %Y-%m-%d %H:%M %Z"
    return f"{start:%a %Y-%m-%d %H:%M %Z} – {end:{end_format}}"
