"""The beat's handoff work (reports/reminders.py, reports.tasks.handoff_tick):
drafts shortly before each shift ends, one "prepare" reminder, and one reminder about a
handoff nobody acknowledged; every run safe to repeat.

Primary On-Call is weekly, Monday 09:00 America/New_York, ic then responder: ic's week
ends Monday 9 March 2026 09:00 EDT = 13:00 UTC (END), when responder takes over.
HANDOFF_PREPARE_LEAD_MINUTES is 120 and HANDOFF_ACK_REMINDER_MINUTES 30 (the defaults;
set explicitly below so an environment variable cannot move them).
"""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from oncall.models import (
    ContactKind,
    ContactMethod,
    EscalationLevel,
    EscalationPolicy,
    Notice,
    ScheduleMember,
)
from oncall.roles import Role
from reports import reminders, tasks
from reports.models import Handoff, HandoffState
from reports.services import handoffs as services
from tests.conftest import make_user
from tests.oncall.factories import ScheduleFactory

pytestmark = pytest.mark.django_db

END = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
NEXT_END = datetime(2026, 3, 16, 13, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
LEAD = 120 * MINUTE
GRACE = 30 * MINUTE


@pytest.fixture(autouse=True)
def timings(settings):
    settings.HANDOFF_PREPARE_LEAD_MINUTES = 120
    settings.HANDOFF_ACK_REMINDER_MINUTES = 30


@pytest.fixture
def schedule(ic, responder, manager):
    return ScheduleFactory(name="Primary On-Call", members=[ic, responder], by=manager)


def reach(*users):
    """An e-mail for each user; ic also has a webhook and a paused Slack."""
    for user in users:
        ContactMethod.objects.create(user=user, kind=ContactKind.EMAIL,
                                     target=f"{user.username}@example.com")
        if user.username == "ic":
            ContactMethod.objects.create(user=user, kind=ContactKind.WEBHOOK,
                                         target="https://hooks.example.com/ic")
            ContactMethod.objects.create(user=user, kind=ContactKind.SLACK,
                                         target="https://hooks.example.com/paused",
                                         disabled_at=END - timedelta(days=30))


def run(at):
    with time_machine.travel(at, tick=False):
        return reminders.handoff_tick(at)


def tick(at):
    with time_machine.travel(at, tick=False):
        return tasks.handoff_tick()


def notices(suffix):
    return sorted((n.user.username, n.kind) for n in Notice.objects.filter(
        key__endswith=f":{suffix}").select_related("user"))


# --- drafts before the shift ends -------------------------------------------------------------

def test_nothing_happens_before_the_lead(schedule, ic, responder):
    reach(ic, responder)

    assert run(END - LEAD - MINUTE) == (0, 0)
    assert run(END - timedelta(days=3)) == (0, 0)

    assert not Handoff.objects.exists()
    assert not Notice.objects.exists()


def test_two_runs_make_one_draft_and_one_prepare_notice_per_method(schedule, ic, responder):
    reach(ic, responder)

    assert run(END - LEAD) == (1, 0)
    assert run(END - LEAD) == (0, 0)  # the same minute twice (two workers, a redelivery)
    assert run(END - LEAD + MINUTE) == (0, 0)

    draft = Handoff.objects.get()
    assert (draft.schedule, draft.shift_end, draft.outgoing, draft.incoming, draft.state) == (
        schedule, END, ic, responder, HandoffState.DRAFT)
    assert draft.prepare_reminded_at == END - LEAD
    assert draft.checks.count() == 13
    assert notices("prepare") == [("ic", "email"), ("ic", "webhook")]
    prepare = Notice.objects.filter(key=f"handoff:{draft.pk}:prepare").first()
    assert prepare.subject == "Prepare your on-call handoff: Primary On-Call"
    assert "2026-03-09 13:00 UTC" in prepare.text and "hand off to Responder" in prepare.text
    assert prepare.link == draft.get_absolute_url()


def test_the_celery_task_does_the_same_work_once(schedule, ic, responder):
    reach(ic)

    assert tick(END - 30 * MINUTE) == "prepare reminders 1, acknowledgement reminders 0"
    assert tick(END - 29 * MINUTE) == "prepare reminders 0, acknowledgement reminders 0"
    assert run(END - 28 * MINUTE) == (0, 0)

    assert Handoff.objects.count() == 1
    assert len(notices("prepare")) == 2


def test_each_schedule_gets_its_own_draft_when_its_shift_nears_its_end(
        schedule, ic, responder, manager, django_user_model):
    other = make_user(django_user_model, "other")
    reach(ic, responder, other)
    later = ScheduleFactory(name="Secondary On-Call", members=[other, responder], by=manager,
                            handoff_time=time(11, 0))  # ends 15:00 UTC
    empty = ScheduleFactory(name="Emptied", members=[other], by=manager)
    ScheduleMember.objects.filter(schedule=empty).delete()

    assert run(END - LEAD) == (1, 0)
    assert list(Handoff.objects.values_list("schedule_name", flat=True)) == ["Primary On-Call"]

    assert run(END) == (1, 0)  # the secondary's shift ends 15:00 UTC: in its lead now
    assert run(END + MINUTE) == (0, 0)
    assert sorted(Handoff.objects.values_list("schedule__name", "shift_end")) == [
        ("Primary On-Call", END), ("Secondary On-Call", END + 2 * 60 * MINUTE)]
    assert Handoff.objects.get(schedule=later).outgoing == other
    assert notices("prepare") == [("ic", "email"), ("ic", "webhook"), ("other", "email")]


def test_a_shift_that_ended_while_beat_was_down_still_gets_its_draft(schedule, ic, responder):
    reach(ic, responder)

    assert run(END + 60 * MINUTE) == (1, 0)  # the first run after an hour's outage
    assert run(END + 61 * MINUTE) == (0, 0)

    draft = Handoff.objects.get()
    assert (draft.shift_end, draft.outgoing, draft.incoming) == (END, ic, responder)
    assert notices("prepare") == [("ic", "email"), ("ic", "webhook")]
    # The running shift (responder's, to 16 March) is not due yet.
    assert not Handoff.objects.filter(shift_end=NEXT_END).exists()


def test_a_shift_that_ended_during_a_longer_outage_still_gets_its_draft(
        schedule, ic, responder):
    reach(ic, responder)

    run(END + 20 * 60 * MINUTE)  # beat was down from before the lead until 20 h after

    assert Handoff.objects.filter(shift_end=END, outgoing=ic).exists()


def test_a_shift_over_for_more_than_a_day_gets_no_late_draft(schedule, ic, responder):
    reach(ic, responder)

    run(END + reminders.prepare_lead() + reminders.CATCH_UP + MINUTE)

    assert not Handoff.objects.filter(shift_end=END).exists()


def test_a_draft_already_made_by_the_page_is_reminded_about_once(schedule, ic, responder):
    reach(ic)
    made = services.current_handoff(schedule, END - timedelta(days=1))

    assert run(END - LEAD) == (1, 0)
    assert run(END - MINUTE) == (0, 0)

    assert Handoff.objects.get().pk == made.pk
    assert len(notices("prepare")) == 2


def test_no_prepare_reminder_for_a_shift_already_handed_off(schedule, ic, responder):
    reach(ic, responder)
    handoff = services.current_handoff(schedule, END - timedelta(days=1))
    services.hand_off(handoff, summary="Done early.", unresolved="", expected_version=1,
                      by=ic, now=END - timedelta(days=1))

    assert run(END - LEAD) == (0, 0)

    assert notices("prepare") == []


# --- reminders about unacknowledged handoffs ------------------------------------------------------

@pytest.fixture
def handed_off(schedule, ic, responder):
    handoff = services.current_handoff(schedule, END - LEAD)
    return services.hand_off(handoff, summary="Quiet week.", unresolved="",
                             expected_version=handoff.version, by=ic, now=END - GRACE)


def policy(*levels):
    """levels: a Schedule or a list of users, in order."""
    made = EscalationPolicy.objects.create(name=f"Policy {EscalationPolicy.objects.count()}")
    for position, target in enumerate(levels, start=1):
        level = EscalationLevel.objects.create(
            policy=made, position=position,
            schedule=None if isinstance(target, list) else target)
        if isinstance(target, list):
            level.users.set(target)
    return made


def test_no_reminder_before_shift_end_plus_the_grace_then_exactly_one(
        handed_off, ic, responder, manager):
    reach(ic, responder, manager)

    assert run(END + GRACE - MINUTE) == (0, 0)
    assert notices("unacknowledged") == []

    assert run(END + GRACE) == (0, 1)
    assert run(END + GRACE) == (0, 0)
    assert tick(END + 2 * GRACE) == "prepare reminders 0, acknowledgement reminders 0"

    # No policy uses the schedule: the outgoing and the Managers, never the incoming.
    assert notices("unacknowledged") == [("ic", "email"), ("ic", "webhook"),
                                         ("manager", "email")]
    row = Handoff.objects.get(pk=handed_off.pk)
    assert row.ack_reminded_at == END + GRACE
    assert row.state == HandoffState.HANDED_OFF  # a reminder changes nothing else
    reminder = Notice.objects.filter(key=f"handoff:{row.pk}:unacknowledged").first()
    assert reminder.subject == "Handoff not acknowledged: Primary On-Call"
    assert "Responder has not acknowledged" in reminder.text


def test_the_reminder_goes_to_the_next_level_of_the_schedules_policy(
        handed_off, schedule, ic, responder, manager, django_user_model):
    lead, vp = make_user(django_user_model, "lead"), make_user(django_user_model, "vp")
    secondary = ScheduleFactory(name="Secondary On-Call", members=[lead], by=manager)
    policy(schedule, secondary, [vp])
    reach(ic, responder, manager, lead, vp)

    # (The secondary's own shift ended at END too: its draft is made as well.)
    assert run(END + GRACE) == (1, 1)
    assert run(END + GRACE + MINUTE) == (0, 0)

    assert notices("unacknowledged") == [("ic", "email"), ("ic", "webhook"), ("lead", "email")]


def test_named_people_at_the_next_level_but_never_the_incoming(
        handed_off, schedule, ic, responder, manager, django_user_model):
    director = make_user(django_user_model, "director")
    gone = make_user(django_user_model, "gone", is_active=False)
    policy(schedule, [responder, director, gone])
    reach(ic, responder, manager, director, gone)

    assert run(END + GRACE) == (0, 1)

    assert notices("unacknowledged") == [("director", "email"), ("ic", "email"),
                                         ("ic", "webhook")]


def test_the_managers_when_the_schedule_is_the_policys_last_level(
        handed_off, schedule, ic, responder, manager, django_user_model):
    other_manager = make_user(django_user_model, "boss", Role.MANAGER)
    retired = make_user(django_user_model, "retired", Role.MANAGER, is_active=False)
    policy([other_manager], schedule)
    reach(ic, responder, manager, other_manager, retired)

    assert run(END + GRACE) == (0, 1)

    assert notices("unacknowledged") == [("boss", "email"), ("ic", "email"), ("ic", "webhook"),
                                         ("manager", "email")]


def test_the_outgoing_is_reminded_even_when_a_manager_handed_off_for_them(
        schedule, ic, responder, manager):
    reach(ic, responder, manager)
    handoff = services.current_handoff(schedule, END - LEAD)
    services.hand_off(handoff, summary="Handed off by the manager.", unresolved="",
                      expected_version=1, by=manager, now=END - GRACE)

    assert run(END + GRACE) == (0, 1)

    assert ("ic", "email") in notices("unacknowledged")
    assert ("manager", "email") in notices("unacknowledged")


def test_a_late_hand_off_is_given_its_own_grace(schedule, ic, responder, manager):
    reach(ic, responder, manager)
    handoff = services.current_handoff(schedule, END - LEAD)
    services.hand_off(handoff, summary="Late.", unresolved="", expected_version=1, by=ic,
                      now=END + 60 * MINUTE)

    assert run(END + 60 * MINUTE + GRACE - MINUTE) == (0, 0)
    assert run(END + 60 * MINUTE + GRACE) == (0, 1)


def test_an_acknowledged_handoff_gets_no_reminder(handed_off, ic, responder, manager):
    reach(ic, responder, manager)
    services.acknowledge(handed_off, by=responder, now=END + 5 * MINUTE)

    assert run(END + GRACE) == (0, 0)
    assert run(END + 10 * GRACE) == (0, 0)

    assert notices("unacknowledged") == []
    assert Handoff.objects.get(pk=handed_off.pk).ack_reminded_at is None


def test_a_draft_never_gets_an_acknowledgement_reminder(schedule, ic, responder, manager):
    reach(ic, responder, manager)
    assert run(END - LEAD) == (1, 0)

    assert run(END + 10 * GRACE) == (0, 0)

    assert notices("unacknowledged") == []
