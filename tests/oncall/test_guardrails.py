"""Schedule warnings (oncall/guardrails.py): gaps, unreachable members, no members."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oncall import guardrails, services
from oncall.models import Schedule
from tests.conftest import make_user
from tests.oncall.factories import ScheduleFactory, business_hours, email

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # Wednesday, 07:00 in New York


@pytest.fixture
def reachable(django_user_model):
    alice = make_user(django_user_model, "alice")
    bob = make_user(django_user_model, "bob")
    email(alice)
    email(bob)
    return [alice, bob]


def test_a_covered_schedule_of_reachable_people_has_no_warnings(reachable, manager):
    schedule = ScheduleFactory(members=reachable, by=manager)
    assert guardrails.schedule_warnings(schedule, NOW) == []


def test_business_hours_schedule_warns_of_its_gaps_in_local_time(reachable, manager):
    schedule = ScheduleFactory(members=reachable, by=manager, **business_hours())
    [warning] = guardrails.schedule_warnings(schedule, NOW)
    # Mon–Fri 09:00–17:00 New York over 14 days from Wednesday 07:00: 11 gaps,
    # the last one cut by the end of the window (Wednesday 18 March 08:00 EDT).
    assert warning.startswith("Nobody is on call for 11 stretches in the next 14 days "
                              "(America/New_York time): ")
    assert "Wed 2026-03-04 07:00 EST – 09:00 EST" in warning
    assert "Wed 2026-03-04 17:00 EST – Thu 2026-03-05 09:00 EST" in warning
    assert "Thu 2026-03-05 17:00 EST – Fri 2026-03-06 09:00 EST" in warning
    assert "and 8 more" in warning


def test_weekend_gap_crosses_the_dst_change_named_in_both_offsets(reachable, manager):
    schedule = ScheduleFactory(members=reachable, by=manager, **business_hours())
    friday = datetime(2026, 3, 6, 21, 0, tzinfo=UTC)  # 16:00 EST
    [warning] = guardrails.schedule_warnings(schedule, friday)
    assert "Fri 2026-03-06 17:00 EST – Mon 2026-03-09 09:00 EDT" in warning


def test_override_fills_a_gap(reachable, manager):
    schedule = ScheduleFactory(members=reachable, by=manager, starts_on=date(2026, 3, 9))
    warnings = guardrails.schedule_warnings(schedule, NOW)
    assert any("Wed 2026-03-04 07:00 EST – Mon 2026-03-09 09:00 EDT" in w for w in warnings)
    services.create_override(schedule, user=reachable[0], start=NOW,
                             end=datetime(2026, 3, 9, 13, 0, tzinfo=UTC), by=manager)
    assert guardrails.schedule_warnings(schedule, NOW) == []


def test_member_without_a_contact_method_is_warned(reachable, manager, django_user_model):
    carol = make_user(django_user_model, "carol")
    schedule = ScheduleFactory(members=[*reachable, carol], by=manager)
    assert guardrails.schedule_warnings(schedule, NOW) == [
        "Carol has no contact method: a page to them reaches nobody."]


def test_member_whose_methods_are_disabled_or_failing_is_warned(reachable, manager):
    alice, bob = reachable
    alice.contact_methods.update(disabled_at=timezone.now(), disabled_reason="404")
    bob.contact_methods.update(last_test_ok=False)
    schedule = ScheduleFactory(members=reachable, by=manager)
    warnings = guardrails.schedule_warnings(schedule, NOW)
    assert len(warnings) == 2
    assert all("no working contact method" in w for w in warnings)
    assert warnings[0].startswith("Alice") and warnings[1].startswith("Bob")


def test_one_working_method_is_enough(reachable, manager):
    alice, _ = reachable
    email(alice, last_test_ok=False)
    schedule = ScheduleFactory(members=reachable, by=manager)
    assert guardrails.schedule_warnings(schedule, NOW) == []


def test_schedule_without_members_is_warned(manager):
    # The services refuse this; a schedule can still lose its members (users deleted).
    schedule = Schedule.objects.create(name="Empty", starts_on=date(2026, 1, 5))
    [warning] = guardrails.schedule_warnings(schedule, NOW)
    assert warning.startswith("No members")


def test_invalid_saved_settings_are_a_warning_not_a_crash(reachable, manager):
    schedule = ScheduleFactory(members=reachable, by=manager)
    Schedule.objects.filter(pk=schedule.pk).update(coverage="business", business_days=[])
    [warning] = guardrails.schedule_warnings(schedule, NOW)
    assert warning.startswith("The rotation settings are invalid")


def test_queries_do_not_grow_with_members(manager, django_user_model):
    people = [make_user(django_user_model, f"p{i}") for i in range(8)]
    for person in people[::2]:
        email(person)
    small = ScheduleFactory(members=people[:2], by=manager)
    large = ScheduleFactory(members=people, by=manager, **business_hours())
    counts = []
    for schedule in (small, large):
        with CaptureQueriesContext(connection) as queries:
            guardrails.schedule_warnings(schedule, NOW)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 4
    with CaptureQueriesContext(connection) as queries:
        by_schedule = guardrails.warnings_by_schedule([small.pk, large.pk], NOW)
    assert len(queries) <= 4
    assert len(by_schedule[large.pk]) == 1 + 4  # the gaps, and four unreachable people


def test_the_window_is_fourteen_days(reachable, manager):
    schedule = ScheduleFactory(members=reachable, by=manager,
                               starts_on=(NOW + timedelta(days=15)).date())
    [warning] = guardrails.schedule_warnings(schedule, NOW)
    assert "1 stretch" in warning
    assert "Wed 2026-03-18 08:00 EDT" in warning  # NOW + 14 days, the end of the window
