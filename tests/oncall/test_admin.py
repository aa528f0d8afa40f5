"""Overrides added in the Django admin pass the same checks as on the schedule page."""

from datetime import UTC, datetime

import pytest

from oncall import services
from oncall.models import Override
from tests.oncall.factories import ScheduleFactory

pytestmark = pytest.mark.django_db

START = datetime(2030, 3, 4, 14, 0, tzinfo=UTC)


def inline_post(schedule, *, start, end, user):
    """The schedule's change form as the admin posts it, with one new override row."""
    data = {
        "name": schedule.name, "description": schedule.description,
        "rotation_kind": schedule.rotation_kind, "timezone": schedule.timezone,
        "handoff_time": "09:00", "handoff_day": schedule.handoff_day,
        "starts_on": schedule.starts_on.isoformat(), "coverage": schedule.coverage,
        "business_days": "[]", "escalation_timeout_minutes": 5,
        "members-TOTAL_FORMS": 0, "members-INITIAL_FORMS": 0,
        "overrides-TOTAL_FORMS": 1, "overrides-INITIAL_FORMS": 0,
        "overrides-0-user": user.pk, "overrides-0-reason": "swap",
        "overrides-0-start_0": f"{start:%Y-%m-%d}", "overrides-0-start_1": f"{start:%H:%M}",
        "overrides-0-end_0": f"{end:%Y-%m-%d}", "overrides-0-end_1": f"{end:%H:%M}",
    }
    return data


def test_overlapping_override_from_the_admin_is_refused(client, manager, ic, responder):
    schedule = ScheduleFactory(name="Primary", members=[ic, responder], by=manager)
    services.create_override(schedule, user=ic, start=START,
                             end=START.replace(hour=18), by=manager)
    client.force_login(manager)

    response = client.post(f"/admin/oncall/schedule/{schedule.pk}/change/",
                           inline_post(schedule, start=START.replace(hour=16),
                                       end=START.replace(hour=20), user=responder))

    assert response.status_code == 200  # the form again, with the error
    assert "Overlaps the override" in response.content.decode()
    assert Override.objects.count() == 1


def test_admin_override_is_created_by_the_service_with_its_author(client, manager, ic,
                                                                   responder):
    schedule = ScheduleFactory(name="Primary", members=[ic, responder], by=manager)
    client.force_login(manager)

    response = client.post(f"/admin/oncall/schedule/{schedule.pk}/change/",
                           inline_post(schedule, start=START, end=START.replace(hour=18),
                                       user=responder))

    assert response.status_code == 302
    override = Override.objects.get()
    assert (override.user, override.created_by) == (responder, manager)
