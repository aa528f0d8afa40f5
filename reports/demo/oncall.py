"""The handbook's on-call set-up (§2.1) for the demo, made idempotently.

Three weekly schedules handing off Monday 09:00 America/New_York and the
"Production Incidents" policy (5/10/15/30 minutes, level 4 the VP of engineering).
Rotations start at this week's handoff so `ic` is primary and `responder`
secondary on call now, as DESIGN.md's demo users promise; `responder` follows `ic`
on Primary, so `ic`'s handoff goes to `responder`. Every demo user gets an
e-mail contact method (the demo prints e-mail to the worker's console).
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from oncall.models import (
    ContactMethod,
    EscalationLevel,
    EscalationPolicy,
    Schedule,
    ScheduleMember,
)

NEW_YORK = "America/New_York"
SCHEDULES = [
    # name, description, members, escalation timeout (minutes)
    ("Primary On-Call", "First responders for all production incidents",
     ["ic", "responder", "amara", "bjorn"], 5),
    ("Secondary On-Call", "Backup responders and escalation path",
     ["responder", "chen", "diego"], 15),
    ("Engineering Manager On-Call", "Management escalation for SEV-1 incidents",
     ["manager", "elena"], 10),
]
POLICY_LEVELS = [("Primary On-Call", 5), ("Secondary On-Call", 10),
                 ("Engineering Manager On-Call", 15), ("vp", 30)]


def this_weeks_handoff_date(now):
    """The date of the latest Monday-09:00 New York handoff at or before `now`."""
    local = now.astimezone(ZoneInfo(NEW_YORK))
    monday = local.date() - timedelta(days=local.weekday())
    if local < datetime.combine(monday, time(9), tzinfo=ZoneInfo(NEW_YORK)):
        monday -= timedelta(days=7)
    return monday


def ensure_oncall(users, now):
    for user in users.values():
        ContactMethod.objects.get_or_create(
            user=user, kind="email", defaults={"target": f"{user.username}@mindweave.example"})
    schedules = {}
    for name, description, members, timeout in SCHEDULES:
        schedule, made = Schedule.objects.get_or_create(name=name, defaults={
            "description": description, "timezone": NEW_YORK,
            "starts_on": this_weeks_handoff_date(now), "escalation_timeout_minutes": timeout,
        })
        if made:
            ScheduleMember.objects.bulk_create(
                ScheduleMember(schedule=schedule, user=users[u], position=i)
                for i, u in enumerate(members))
        schedules[name] = schedule
    policy, made = EscalationPolicy.objects.get_or_create(name="Production Incidents", defaults={
        "description": "Handbook §2.1: primary, secondary, engineering manager, VP.",
        "is_default": not EscalationPolicy.objects.filter(is_default=True).exists(),
        "major_incident_schedule": schedules["Engineering Manager On-Call"],
    })
    if made:
        for position, (target, timeout) in enumerate(POLICY_LEVELS, start=1):
            level = EscalationLevel.objects.create(
                policy=policy, position=position, timeout_minutes=timeout,
                schedule=schedules.get(target))
            if target in users:
                level.users.set([users[target]])
    return policy
