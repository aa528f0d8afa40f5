"""The handbook's on-call set-up (§2.1) for the demo, applied from a YAML file.

`oncall/demo/on-call.yaml` is the handbook's file with its teams filled with demo
users: three weekly schedules handing off Monday 09:00 America/New_York and the
"Production Incidents" policy (5/10/15/30 minutes, level 4 the VP of engineering).
It is applied as `manage.py oncall_apply` would (idempotently). Rotations start at
this week's handoff so `ic` is primary and `responder` secondary on call now, as
DESIGN.md's demo users promise; `responder` follows `ic` on Primary, so `ic`'s
handoff goes to `responder`. Every demo user gets an e-mail contact method (the
demo prints e-mail to the worker's console).
"""

from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from oncall import ascode, services
from oncall.models import ContactMethod, EscalationPolicy

ONCALL_FILE = Path(__file__).resolve().parents[2] / "oncall" / "demo" / "on-call.yaml"
NEW_YORK = "America/New_York"
# What the file makes (the scenarios and the aftermath read it): name, description,
# members, escalation timeout (minutes).
SCHEDULES = [
    ("Primary On-Call", "First responders for all production incidents",
     ["ic", "responder", "amara", "bjorn"], 5),
    ("Secondary On-Call", "Backup responders and escalation path",
     ["responder", "chen", "diego"], 15),
    ("Engineering Manager On-Call", "Management escalation for SEV-1 incidents",
     ["manager", "elena"], 10),
]


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
    ascode.apply_text(ONCALL_FILE.read_text(encoding="utf-8"), path=str(ONCALL_FILE),
                      by=services.CommandLine("seed_demo"), now=now)
    return EscalationPolicy.objects.get(name="Production Incidents")
