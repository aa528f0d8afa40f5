"""factory_boy factories for schedules, with deterministic values.

Schedules and overrides are made through the services (as the pages make them),
so every test object passed the same checks a user's would.
"""

from datetime import date, time

import factory

from oncall import services
from oncall.models import ContactKind, ContactMethod, Schedule


class ScheduleFactory(factory.Factory):
    """A weekly 24x7 rotation; `members` (users, in order) and `by` must be given."""

    class Meta:
        model = Schedule

    name = factory.Sequence(lambda n: f"Primary On-Call {n:03d}")
    description = "First responders for all production incidents."
    rotation_kind = "weekly"
    timezone = "America/New_York"
    handoff_day = 0
    handoff_time = time(9, 0)
    starts_on = date(2026, 1, 5)
    coverage = "24x7"
    business_days = factory.LazyFunction(list)
    business_start = None
    business_end = None
    escalation_timeout_minutes = 5

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        raise TypeError("Schedules are made through services.create_schedule; use create().")

    @classmethod
    def _create(cls, model_class, *args, members, by, **kwargs):
        return services.create_schedule(members=members, by=by, **kwargs)


def business_hours(**overrides):
    """Field values for a Mon–Fri 09:00–17:00 schedule."""
    return {"coverage": "business", "business_days": [0, 1, 2, 3, 4],
            "business_start": time(9, 0), "business_end": time(17, 0), **overrides}


def email(user, **kwargs):
    """A working e-mail contact method for `user`."""
    return ContactMethod.objects.create(user=user, kind=ContactKind.EMAIL,
                                        target=f"{user.username}@example.com", **kwargs)
