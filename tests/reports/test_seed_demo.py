"""manage.py seed_demo: demo logins, incidents across the lifecycle, ids that keep counting."""

import re
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from incidents import checklists, services
from incidents.models import (
    ChecklistItem,
    Incident,
    IncidentSequence,
    Severity,
    Status,
    TimelineEntry,
)
from mindweave_ir.markup import render_markdown
from oncall import paging
from oncall.models import EscalationPolicy, Page, PageStatus, Schedule
from oncall.roles import Role
from reports.demo.bulk import ENTRIES_PER_INCIDENT
from reports.demo.oncall import ONCALL_FILE
from reports.demo.scenarios import SCENARIOS
from reports.models import PIRState, PostIncidentReview
from reports.services import handoffs
from reports.services.pir import unfinished_sections

pytestmark = pytest.mark.django_db

DEMO_PASSWORD = "mindweave-demo"  # DESIGN.md's contract, so spelled out here
DEMO_USERS = {
    "ic": Role.INCIDENT_COMMANDER,
    "responder": Role.RESPONDER,
    "manager": Role.MANAGER,
    "viewer": Role.VIEWER,
}
SCENARIO_TITLES = [s.title for s in SCENARIOS]
REF = re.compile(r"^INC-(\d{4})-(\d{4,})$")


def seed(**options):
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def snapshot():
    return {
        "users": sorted(get_user_model().objects.values_list("username", flat=True)),
        "incidents": sorted(Incident.objects.values_list("ref", flat=True)),
        "timeline": TimelineEntry.objects.count(),
        "checklist": ChecklistItem.objects.count(),
        "sequence": list(IncidentSequence.objects.values_list("year", "last")),
    }


def test_demo_users_log_in_with_the_demo_password_and_hold_their_roles(client):
    output = seed(incidents=0)

    for username, role in DEMO_USERS.items():
        user = get_user_model().objects.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [role]
        assert user.is_staff == (role == Role.MANAGER)
        assert user.profile.timezone
        response = client.post("/accounts/login/",
                               {"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 302, username
        client.logout()
        assert username in output
    assert get_user_model().objects.get(username="ic").profile.timezone == "America/New_York"
    assert DEMO_PASSWORD in output


def test_default_run_covers_every_status_and_every_severity():
    seed()

    assert Incident.objects.count() >= 40
    assert set(Incident.objects.values_list("status", flat=True)) == set(Status.values)
    assert set(Incident.objects.values_list("severity", flat=True)) == set(Severity.values)


def test_refs_are_unique_and_the_next_declare_continues_the_sequence():
    seed(incidents=30)

    refs = list(Incident.objects.values_list("ref", flat=True))
    assert len(refs) == len(set(refs)) >= 30
    highest = {}
    for ref in refs:
        year, number = map(int, REF.match(ref).groups())
        highest[year] = max(highest.get(year, 0), number)
    assert dict(IncidentSequence.objects.values_list("year", "last")) == highest

    year = timezone.now().year
    incident = services.declare_incident(
        title="Declared after seeding", severity=Severity.SEV3,
        by=get_user_model().objects.get(username="ic"),
    )
    assert incident.ref == f"INC-{year}-{highest.get(year, 0) + 1:04d}"


def test_running_twice_duplicates_nothing():
    seed(incidents=30)
    first = snapshot()

    output = seed(incidents=30)

    assert snapshot() == first
    assert "0 new" in output


def test_a_larger_run_adds_only_the_difference_around_existing_incidents():
    seed(incidents=0)
    mine = services.declare_incident(
        title="Declared by hand before seeding", severity=Severity.SEV2,
        by=get_user_model().objects.get(username="responder"),
    )

    seed(incidents=5)
    seed(incidents=30)

    assert Incident.objects.count() == 30
    assert Incident.objects.get(pk=mine.pk).ref == mine.ref
    # Five scenarios on the first run, the other seven on the second, then bulk rows.
    assert Incident.objects.filter(title__in=SCENARIO_TITLES).count() == len(SCENARIOS)
    refs = list(Incident.objects.values_list("ref", flat=True))
    assert len(set(refs)) == 30


def test_bulk_incidents_have_fifty_timeline_entries_and_consistent_data():
    seed(incidents=30)
    now = timezone.now()

    bulk = Incident.objects.exclude(title__in=SCENARIO_TITLES).annotate(
        entries=Count("timeline", distinct=True), items=Count("checklist", distinct=True))
    assert bulk.count() == 30 - len(SCENARIOS)
    for incident in bulk:
        assert incident.entries == ENTRIES_PER_INCIDENT
        assert incident.items == len(list(checklists.all_items()))
        assert incident.services.exists()
    for incident in Incident.objects.all():
        times = [incident.started_at, incident.detected_at, incident.declared_at,
                 incident.acknowledged_at, incident.identified_at, incident.mitigated_at,
                 incident.resolved_at]
        present = [t for t in times if t is not None]
        assert present == sorted(present), incident.ref
        assert present[-1] <= now
        assert incident.severity in Severity.values
        if incident.status == Status.RESOLVED:
            assert incident.resolved_at and incident.resolution and incident.mitigated_at
            assert not incident.checklist.filter(
                phase=checklists.CLOSURE, done_at__isnull=True, waived_reason="").exists()
        else:
            assert incident.resolved_at is None and incident.resolution == ""
        end = incident.resolved_at or now
        for entry in incident.timeline.all():
            assert incident.started_at <= entry.occurred_at <= end, incident.ref
            assert entry.occurred_at <= entry.created_at <= now
        for item in incident.checklist.exclude(done_at=None):
            assert incident.declared_at <= item.done_at <= end, incident.ref


def test_bulk_timeline_html_is_what_render_markdown_gives():
    seed(incidents=14)

    entries = TimelineEntry.objects.exclude(incident__title__in=SCENARIO_TITLES)
    assert entries.count() == 2 * ENTRIES_PER_INCIDENT
    for entry in entries:
        assert entry.body_html == render_markdown(entry.body), entry.body


def test_handbook_on_call_setup_puts_ic_then_responder_on_call_now():
    seed(incidents=0)
    primary = Schedule.objects.get(name="Primary On-Call")
    secondary = Schedule.objects.get(name="Secondary On-Call")
    policy = EscalationPolicy.objects.get(name="Production Incidents")

    users = get_user_model().objects
    assert primary.on_call_at(timezone.now()) == users.get(username="ic").pk
    assert secondary.on_call_at(timezone.now()) == users.get(username="responder").pk
    assert [(lv.position, lv.timeout_minutes) for lv in policy.levels.all()] == [
        (1, 5), (2, 10), (3, 15), (4, 30)]
    assert list(policy.levels.get(position=4).users.values_list("username", flat=True)) == \
        ["vp"]
    assert policy.is_default
    assert policy.major_incident_schedule.name == "Engineering Manager On-Call"
    seed(incidents=0)
    assert Schedule.objects.count() == 3 and EscalationPolicy.objects.count() == 1


def test_the_demo_on_call_set_up_is_the_repository_yaml_file():
    seed(incidents=0)
    assert primary_team() == ["ic", "responder", "amara", "bjorn"]
    out = StringIO()
    call_command("oncall_apply", str(ONCALL_FILE), "--dry-run", stdout=out)
    assert out.getvalue().strip() == "No changes."


def primary_team():
    schedule = Schedule.objects.select_related("team").get(name="Primary On-Call")
    assert schedule.team.name == "platform-team"
    return [m.user.username for m in schedule.team.members.order_by("position")]


def test_seeded_history_pages_nobody_now_but_a_new_sev1_pages_ic():
    seed(incidents=12)
    # History: the pages ic got during this shift, all acknowledged; nothing is paging.
    assert not Page.objects.filter(status=PageStatus.TRIGGERED).exists()
    assert set(Page.objects.values_list("acknowledged_by__username", flat=True)) <= {"ic"}

    incident = services.declare_incident(title="Checkout down", severity=Severity.SEV1,
                                         by=get_user_model().objects.get(username="ic"))
    page = Page.objects.get(source=f"incident:{incident.pk}")
    paging.run_page(page.pk)

    assert set(page.notifications.values_list("user__username", flat=True)) == {
        "ic", "manager"}


def test_seeded_reviews_are_dated_as_the_history_they_belong_to():
    seed(incidents=12)
    reviews = PostIncidentReview.objects.select_related("incident")

    assert reviews.exists()
    for pir in reviews:
        incident = pir.incident
        assert pir.created_at == incident.resolved_at
        assert pir.due_at > incident.resolved_at
        minutes = (incident.resolved_at - incident.started_at).total_seconds() // 60
        assert pir.sla_downtime_minutes == minutes
        assert f"due {pir.due_at:%Y-%m-%d}" in pir.changes.get().what


def test_seeded_approved_reviews_hold_no_placeholder_or_empty_section():
    seed(incidents=40)
    approved = PostIncidentReview.objects.filter(state=PIRState.APPROVED)

    assert approved.exists()
    for pir in approved:
        assert unfinished_sections(pir) == [], pir.incident.ref


def test_demo_ic_hands_primary_to_responder_with_the_shifts_incidents_and_pages():
    with time_machine.travel("2026-11-27 15:00Z", tick=False):  # a Friday: mid-shift
        seed(incidents=12)
        handoff = handoffs.current_handoff(Schedule.objects.get(name="Primary On-Call"))
        activity = handoffs.live_activity(handoff)

    assert (handoff.outgoing.username, handoff.incoming.username) == ("ic", "responder")
    ongoing = [sc.title for sc in SCENARIOS if sc.minutes_ago]
    assert {row["title"] for row in activity["opened"]["rows"]} == set(ongoing)
    paged = [sc for sc in SCENARIOS if sc.minutes_ago and sc.severity <= 3]
    assert len(activity["pages"]) == len(paged) > 0
    assert all(p["acknowledged_by"] == "Iris Calder" for p in activity["pages"])
    assert activity["pages_within_target"] == len(paged) - 1  # one acknowledged late (9 min)
