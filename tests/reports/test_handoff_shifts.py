"""A schedule's shifts and what each one saw (reports/shifts.py, reports/activity.py).

The schedule is the handbook's Primary On-Call: weekly, Monday 09:00 America/New_York,
from Monday 5 January 2026, ic then responder. Handoff 8 (Monday 2 March, 09:00 EST =
14:00 UTC) starts ic's week; New York springs forward on Sunday 8 March, so the week
ends Monday 9 March 09:00 EDT = 13:00 UTC, 167 hours later, when responder takes over.
"""

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.serializers.json import DjangoJSONEncoder

from incidents.models import Incident, Severity, Status
from oncall import services as oncall_services
from oncall.models import (
    DeliveryStatus,
    Notification,
    Page,
    PageStatus,
    ScheduleMember,
)
from reports import activity, shifts
from reports.models import ActionStatus, Handoff, ShiftCheck, ShiftChecklistTemplate
from reports.services import handoffs as services
from reports.services import pir as pir_services
from tests.conftest import make_user
from tests.incidents.factories import declare
from tests.oncall.factories import ScheduleFactory, business_hours
from tests.reports.factories import resolved_incident

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # Monday 09:00 EST
END = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # Monday 09:00 EDT
NEXT_END = datetime(2026, 3, 16, 13, 0, tzinfo=UTC)
MIDWEEK = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
AFTER = END + timedelta(days=1)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def schedule(ic, responder, manager):
    return ScheduleFactory(name="Primary On-Call", members=[ic, responder], by=manager)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def local(instant):
    return instant.astimezone(NEW_YORK)


def handoff_of(schedule, at):
    return services.ensure_handoff(shifts.shift_at(schedule, at))


def incident_at(at, by, **kwargs):
    """An incident declared at `at` (its declared_at is the moment of declaring)."""
    with time_machine.travel(at, tick=False):
        return declare(by, page_oncall=False, **kwargs)


def resolve_at(incident, at):
    Incident.objects.filter(pk=incident.pk).update(status=Status.RESOLVED, resolved_at=at)


def refs(section):
    assert section["count"] == len(section["rows"])
    return {row["ref"] for row in section["rows"]}


# --- shift_at -----------------------------------------------------------------------------

def test_a_shift_runs_from_monday_0900_to_monday_0900_local_across_the_dst_change(
        schedule, ic, responder):
    span = shifts.shift_at(schedule, MIDWEEK)

    assert (span.start, span.end) == (START, END)
    assert span.end - span.start == timedelta(hours=167)
    assert (local(span.start).strftime("%a %H:%M %Z"), local(span.end).strftime("%a %H:%M %Z")) \
        == ("Mon 09:00 EST", "Mon 09:00 EDT")
    assert (span.outgoing_id, span.incoming_id) == (ic.pk, responder.pk)
    assert span.schedule == schedule


def test_the_handoff_instant_belongs_to_the_next_shift(schedule, ic, responder):
    last = shifts.shift_at(schedule, END - timedelta(microseconds=1))
    following = shifts.shift_at(schedule, END)

    assert (last.start, last.end) == (START, END)
    assert (following.start, following.end) == (END, NEXT_END)
    assert following.end - following.start == timedelta(hours=168)
    assert (following.outgoing_id, following.incoming_id) == (responder.pk, ic.pk)
    assert shifts.shift_at(schedule, last.end) == following  # the next shift starts at its end
    assert shifts.shift_at(schedule, START) == last


def test_an_override_at_the_handoff_moment_changes_who_hands_off_and_who_receives(
        schedule, ic, responder, manager, django_user_model):
    early, late = make_user(django_user_model, "early"), make_user(django_user_model, "late")
    # Midweek cover changes nothing at the handoff.
    oncall_services.create_override(schedule, user=late, start=MIDWEEK,
                                    end=MIDWEEK + timedelta(hours=3), by=manager)
    span = shifts.shift_at(schedule, MIDWEEK)
    assert (span.outgoing_id, span.incoming_id) == (ic.pk, responder.pk)

    oncall_services.create_override(schedule, user=early, start=END - timedelta(hours=2),
                                    end=END, by=manager)
    span = shifts.shift_at(schedule, MIDWEEK)
    assert (span.outgoing_id, span.incoming_id) == (early.pk, responder.pk)

    oncall_services.create_override(schedule, user=late, start=END,
                                    end=END + timedelta(hours=4), by=manager)
    span = shifts.shift_at(schedule, MIDWEEK)
    assert (span.start, span.end) == (START, END)  # overrides never move the handoff
    assert (span.outgoing_id, span.incoming_id) == (early.pk, late.pk)


def test_a_draft_follows_the_schedule_when_an_override_changes_the_handoff(
        schedule, ic, responder, manager, django_user_model):
    handoff = handoff_of(schedule, MIDWEEK)
    assert (handoff.outgoing, handoff.incoming) == (ic, responder)
    cover = make_user(django_user_model, "cover")
    oncall_services.create_override(schedule, user=cover, start=END - MINUTE,
                                    end=END + MINUTE, by=manager)

    again = handoff_of(schedule, MIDWEEK)

    assert again.pk == handoff.pk
    assert (again.outgoing, again.incoming) == (cover, cover)


def test_business_hours_coverage_still_hands_off_between_rotation_members(
        ic, responder, manager):
    # Monday 09:00: nobody is covered the instant before (the weekend), so the outgoing
    # is the rotation's member of the week.
    business = ScheduleFactory(members=[ic, responder], by=manager, **business_hours())
    span = shifts.shift_at(business, MIDWEEK)
    assert (span.start, span.end) == (START, END)
    assert business.on_call_at(END - MINUTE) is None
    assert (span.outgoing_id, span.incoming_id) == (ic.pk, responder.pk)

    # Handing off at 08:00, before the window: nobody is covered on either side.
    early = ScheduleFactory(members=[ic, responder], by=manager,
                            handoff_time=datetime(2026, 1, 1, 8).time(), **business_hours())
    span = shifts.shift_at(early, MIDWEEK)
    assert span.end == utc(2026, 3, 9, 12)
    assert early.on_call_at(span.end) is None
    assert (span.outgoing_id, span.incoming_id) == (ic.pk, responder.pk)


def test_no_members_or_before_the_rotation_starts_means_no_shift(schedule):
    assert shifts.shift_at(schedule, utc(2026, 1, 5, 13, 59)) is None  # 08:59 EST, day 0
    assert shifts.shift_at(schedule, utc(2026, 1, 5, 14)).start == utc(2026, 1, 5, 14)

    ScheduleMember.objects.filter(schedule=schedule).delete()

    assert shifts.shift_at(schedule, MIDWEEK) is None
    assert services.current_handoff(schedule, MIDWEEK) is None
    assert shifts.upcoming(schedule, END) == ([], {})


def test_upcoming_lists_the_next_two_weeks_of_the_rotation(schedule, ic, responder):
    found, people = shifts.upcoming(schedule, END)

    assert [(s.start, s.end, people[s.member]) for s in found] == [
        (END, NEXT_END, responder), (NEXT_END, utc(2026, 3, 23, 13), ic)]
    assert not any(s.is_override for s in found)


def test_ensure_handoff_makes_one_record_per_shift_with_the_checklist(schedule, ic):
    handoff = handoff_of(schedule, MIDWEEK)
    same = handoff_of(schedule, END - MINUTE)

    assert same.pk == handoff.pk
    assert Handoff.objects.count() == 1
    assert (handoff.shift_start, handoff.shift_end, handoff.schedule_name,
            handoff.schedule_timezone) == (START, END, "Primary On-Call", "America/New_York")
    assert handoff.is_draft and handoff.version == 1
    template = ShiftChecklistTemplate.objects.filter(active=True)
    assert template.count() == 13  # §2.3, seeded by reports/migrations/0003
    assert list(handoff.checks.values_list("phase", "text")) == list(
        template.values_list("phase", "text"))
    # Editing the template later never rewrites a shift already made.
    ShiftChecklistTemplate.objects.update(text="Changed")
    assert not ShiftCheck.objects.filter(text="Changed").exists()
    assert handoff_of(schedule, END).checks.filter(text="Changed").count() == 13


# --- gather: time boundaries in the schedule's zone --------------------------------------------

def test_incidents_are_counted_in_the_shift_of_their_local_declaration_time(schedule, ic):
    before_start = incident_at(START - MINUTE, ic, title="Declared 08:59 EST")
    at_start = incident_at(START, ic, title="Declared 09:00 EST")
    before_end = incident_at(END - MINUTE, ic, title="Declared 08:59 EDT")
    at_end = incident_at(END, ic, title="Declared 09:00 EDT")
    previous, this, following = (handoff_of(schedule, at) for at in
                                 (START - MINUTE, MIDWEEK, END))

    week = activity.gather(this, AFTER + timedelta(days=7))
    assert local(before_end.declared_at).strftime("%H:%M %Z") == "08:59 EDT"
    assert refs(week["opened"]) == {at_start.ref, before_end.ref}
    assert refs(week["active"]) == {before_start.ref, at_start.ref, before_end.ref}
    assert week["until"] == END

    assert refs(activity.gather(previous, AFTER)["opened"]) == {before_start.ref}
    next_week = activity.gather(following, AFTER + timedelta(days=7))
    assert refs(next_week["opened"]) == {at_end.ref}
    assert at_end.ref in refs(next_week["active"])


def test_still_active_means_declared_before_the_cut_and_not_resolved_by_it(
        schedule, ic, responder):
    old_open = incident_at(START - timedelta(days=2), ic, title="Old, still open")
    old_closed = incident_at(START - timedelta(days=2), ic, title="Old, closed before")
    resolve_at(old_closed, START - MINUTE)
    old_fixed = incident_at(START - timedelta(days=1), responder, title="Old, fixed this week")
    resolve_at(old_fixed, START + timedelta(days=1))
    quick = incident_at(START + timedelta(days=2), ic, title="Opened and fixed")
    resolve_at(quick, START + timedelta(days=2, hours=1))
    lingering = incident_at(START + timedelta(days=3), ic, title="Fixed after the shift",
                            severity=Severity.SEV1)
    resolve_at(lingering, END + timedelta(hours=2))
    at_cut = incident_at(START + timedelta(days=4), ic, title="Fixed at the handoff")
    resolve_at(at_cut, END)

    found = activity.gather(handoff_of(schedule, MIDWEEK), AFTER)

    assert refs(found["opened"]) == {quick.ref, lingering.ref, at_cut.ref}
    assert refs(found["resolved"]) == {old_fixed.ref, quick.ref}
    assert refs(found["active"]) == {old_open.ref, lingering.ref, at_cut.ref}
    active = found["active"]["rows"]
    assert active[0]["ref"] == lingering.ref  # worst first
    row = active[0]
    assert (row["severity"], row["severity_value"], row["commander"], row["theirs"]) == (
        "SEV-1", Severity.SEV1, "Ic", True)
    assert row["declared_at"] == START + timedelta(days=3) and row["resolved_at"] == \
        END + timedelta(hours=2)
    fixed = next(r for r in found["resolved"]["rows"] if r["ref"] == old_fixed.ref)
    assert (fixed["commander"], fixed["theirs"]) == ("Responder", False)


def test_a_running_shift_is_cut_at_now(schedule, ic):
    now = MIDWEEK + timedelta(days=1)  # Thursday 5 March
    earlier = incident_at(MIDWEEK, ic, title="Before now")
    resolve_at(earlier, now + timedelta(hours=1))
    later = incident_at(now + timedelta(hours=2), ic, title="After now")

    found = activity.gather(handoff_of(schedule, MIDWEEK), now)

    assert (found["until"], found["gathered_at"]) == (now, now)
    assert refs(found["opened"]) == {earlier.ref}
    assert refs(found["active"]) == {earlier.ref}  # resolved after the cut
    assert refs(found["resolved"]) == set()
    # Once the shift is over, the cut is its end.
    whole = activity.gather(handoff_of(schedule, MIDWEEK), AFTER)
    assert whole["until"] == END
    assert refs(whole["opened"]) == {earlier.ref, later.ref}
    assert refs(whole["resolved"]) == {earlier.ref}


# --- gather: pages and action items --------------------------------------------------------------

def page_at(at, *users, ack_after=None, by=None, title="Checkout down"):
    page = Page.objects.create(
        title=title, severity="SEV-1", dedup_key=f"k-{Page.objects.count()}", created_at=at,
        status=PageStatus.ACKNOWLEDGED if ack_after is not None else PageStatus.TRIGGERED,
        acknowledged_at=at + ack_after if ack_after is not None else None, acknowledged_by=by)
    for level, user in enumerate(users, start=1):
        Notification.objects.create(page=page, cycle=0, level=level, user=user, kind="email",
                                    due_at=at, status=DeliveryStatus.SENT)
    return page


def test_pages_where_the_outgoing_was_notified_with_time_to_acknowledge(
        schedule, ic, responder):
    fast = page_at(START + timedelta(hours=1), ic, ack_after=timedelta(minutes=5), by=ic,
                   title="Fast")
    slow = page_at(START + timedelta(hours=2), ic, responder,
                   ack_after=timedelta(minutes=5, seconds=1), by=responder, title="Slow")
    ignored = page_at(START + timedelta(hours=3), ic, title="Ignored")
    Notification.objects.create(page=ignored, cycle=1, level=1, user=ic, kind="email",
                                due_at=START)  # paged twice: listed once
    page_at(START + timedelta(hours=4), responder, title="Not theirs")
    page_at(START - MINUTE, ic, title="Previous shift")
    page_at(END, ic, title="Next shift")

    found = activity.gather(handoff_of(schedule, MIDWEEK), AFTER)

    assert [p["title"] for p in found["pages"]] == ["Fast", "Slow", "Ignored"]
    rows = {p["title"]: p for p in found["pages"]}
    assert (rows["Fast"]["ack_seconds"], rows["Fast"]["within_target"],
            rows["Fast"]["acknowledged_by"]) == (300, True, "Ic")
    assert (rows["Slow"]["ack_seconds"], rows["Slow"]["within_target"],
            rows["Slow"]["acknowledged_by"]) == (301, False, "Responder")
    assert (rows["Ignored"]["ack_seconds"], rows["Ignored"]["within_target"]) == (None, False)
    assert rows["Fast"]["url"] == fast.get_absolute_url()
    assert rows["Slow"]["created_at"] == slow.created_at
    assert (found["pages_acknowledged"], found["pages_within_target"]) == (2, 1)


def test_open_action_items_the_outgoing_owns(schedule, ic, responder):
    with time_machine.travel(utc(2026, 2, 10, 12), tick=False):
        pir = resolved_incident(ic).pir
        due = date(2026, 3, 6)
        mine = pir_services.add_action_item(pir, action="Add a canary", owner=ic,
                                            due_date=due, by=ic)
        later = pir_services.add_action_item(pir, action="Write the runbook", owner=ic,
                                             due_date=date(2026, 4, 1), by=ic, priority="P2")
        done = pir_services.add_action_item(pir, action="Roll back", owner=ic,
                                            due_date=due, by=ic)
        wont = pir_services.add_action_item(pir, action="Rewrite it all", owner=ic,
                                            due_date=due, by=ic)
        pir_services.add_action_item(pir, action="Theirs", owner=responder, due_date=due,
                                     by=ic)
    type(done).objects.filter(pk=done.pk).update(status=ActionStatus.DONE)
    type(wont).objects.filter(pk=wont.pk).update(status=ActionStatus.WONT_DO)
    type(later).objects.filter(pk=later.pk).update(status=ActionStatus.IN_PROGRESS)

    found = activity.gather(handoff_of(schedule, MIDWEEK), utc(2026, 3, 7, 12))

    items = found["action_items"]
    assert [i["action"] for i in items] == [mine.action, later.action]
    assert items[0] == {"action": "Add a canary", "priority": "P1", "due_date": due,
                        "status": "Open", "overdue": True, "incident": pir.incident.ref,
                        "url": pir.get_absolute_url()}
    assert (items[1]["status"], items[1]["overdue"]) == ("In progress", False)


def test_nobody_outgoing_means_no_pages_or_items(schedule, ic):
    page_at(START + timedelta(hours=1), ic)
    handoff = handoff_of(schedule, MIDWEEK)
    Handoff.objects.filter(pk=handoff.pk).update(outgoing=None)
    handoff.refresh_from_db()

    found = activity.gather(handoff, AFTER)

    assert found["pages"] == [] and found["action_items"] == []


# --- revive ------------------------------------------------------------------------------------

def test_revive_of_the_json_round_trip_equals_what_gather_returned(schedule, ic, responder):
    opened = incident_at(START + timedelta(days=1), ic)
    resolve_at(opened, START + timedelta(days=1, hours=2))
    incident_at(START + timedelta(days=2), ic)
    page_at(START + timedelta(hours=5), ic, ack_after=timedelta(seconds=90), by=ic)
    with time_machine.travel(utc(2026, 2, 10, 12), tick=False):
        pir = resolved_incident(ic).pir
        pir_services.add_action_item(pir, action="Canary", owner=ic, due_date=date(2026, 3, 20),
                                     by=ic)
    handoff = handoff_of(schedule, MIDWEEK)
    check = handoff.checks.first()
    services.set_check(handoff, check.pk, done=True, by=ic, now=START + timedelta(hours=1))

    gathered = activity.gather(handoff, AFTER)
    revived = activity.revive(json.loads(json.dumps(gathered, cls=DjangoJSONEncoder)))

    assert revived == gathered
    assert isinstance(revived["until"], datetime) and revived["until"] == END
    assert revived["opened"]["rows"][0]["declared_at"] == START + timedelta(days=1)
    assert revived["resolved"]["rows"][0]["resolved_at"] == START + timedelta(days=1, hours=2)
    assert revived["pages"][0]["acknowledged_at"] == START + timedelta(hours=5, seconds=90)
    assert revived["action_items"][0]["due_date"] == date(2026, 3, 20)
    assert revived["checklist"][0]["done_at"] == START + timedelta(hours=1)
    assert revived["checklist"][0]["done_by"] == "Ic"

    # The same through the database: what hand_off freezes reads back the same.
    services.hand_off(handoff, summary="Quiet week.", unresolved="", expected_version=1,
                      by=ic, now=AFTER)
    frozen = Handoff.objects.get(pk=handoff.pk).activity
    assert isinstance(frozen["until"], str)
    assert activity.revive(frozen) == gathered
    assert services.live_activity(Handoff.objects.get(pk=handoff.pk)) == gathered


def test_revive_leaves_text_that_is_not_a_date_alone():
    data = {"title": "2026-03-09", "created_at": "not a date", "until": None,
            "rows": [{"due_date": "soon", "declared_at": "2026-03-09T13:00:00Z"}]}

    revived = activity.revive(data)

    assert revived == {"title": "2026-03-09", "created_at": "not a date", "until": None,
                       "rows": [{"due_date": "soon", "declared_at": END}]}
