"""incidents/services.py, called directly.

The clock is frozen at NOW for every test (`clock` fixture) so refs, channel names
and timestamps are exact. Every refusal asserts that the database did not change:
`refused(...)` snapshots the incident (and its timeline, revisions, checklist,
responders) from the database before the call and compares after, one minute later
so that even a stray `updated_at` bump would show.
"""

import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from incidents import checklists, services
from incidents.models import (
    TRANSITIONS,
    ChecklistItem,
    ChecklistPhase,
    Incident,
    IncidentSequence,
    Severity,
    Status,
    TimelineEntry,
    TimelineKind,
    TimelineRevision,
)
from incidents.services import ConflictError, IncidentError
from oncall.roles import Role
from tests.conftest import make_user
from tests.incidents.factories import ServiceFactory, declare, note

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)



@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def incident(ic):
    return declare(ic, title="Checkout API returning errors", severity=Severity.SEV2)


# --- helpers -------------------------------------------------------------------------


def snapshot(incident):
    """Everything a service could change about one incident, read from the database."""
    return {
        "incident": Incident.objects.filter(pk=incident.pk).values().get(),
        "responders": sorted(
            Incident.responders.through.objects.filter(incident_id=incident.pk)
            .values_list("user_id", flat=True)
        ),
        "services": sorted(
            Incident.services.through.objects.filter(incident_id=incident.pk)
            .values_list("service_id", flat=True)
        ),
        "timeline": list(TimelineEntry.objects.filter(incident_id=incident.pk)
                         .order_by("pk").values()),
        "revisions": list(TimelineRevision.objects.filter(entry__incident_id=incident.pk)
                          .order_by("pk").values()),
        "checklist": list(ChecklistItem.objects.filter(incident_id=incident.pk)
                          .order_by("pk").values()),
    }


def world():
    """Row counts and sequence counters: what a refused declaration must not touch."""
    return {
        "incidents": Incident.objects.count(),
        "timeline": TimelineEntry.objects.count(),
        "checklist": ChecklistItem.objects.count(),
        "sequences": list(IncidentSequence.objects.order_by("year").values_list("year", "last")),
    }


@contextmanager
def refused(incident, exc=IncidentError, match=None):
    """Expect `exc` from the block, and the incident left exactly as it was."""
    before = snapshot(incident)
    with time_machine.travel(timezone.now() + MINUTE, tick=False), \
            pytest.raises(exc, match=match) as info:
        yield info
    assert snapshot(incident) == before


@contextmanager
def nothing_declared(exc, match=None):
    before = world()
    with pytest.raises(exc, match=match):
        yield
    assert world() == before


def reload(obj):
    return type(obj).objects.get(pk=obj.pk)


def settle_closure(incident, by):
    for item in incident.checklist.filter(phase=ChecklistPhase.CLOSURE):
        services.set_checklist_item(item, done=True, by=by)


# Statuses reached from "declared" through the services, for table-driven tests.
PATH_TO = {
    Status.DECLARED: [],
    Status.INVESTIGATING: [Status.INVESTIGATING],
    Status.IDENTIFIED: [Status.IDENTIFIED],
    Status.FIXING: [Status.IDENTIFIED, Status.FIXING],
    Status.MONITORING: [Status.IDENTIFIED, Status.FIXING, Status.MONITORING],
    Status.RESOLVED: [Status.RESOLVED],
}


def bring_to(incident, status, by):
    if status == Status.RESOLVED:
        settle_closure(incident, by)
    for step in PATH_TO[status]:
        incident = services.change_status(incident, to=step, by=by, note="Fixed it.")
    assert reload(incident).status == status
    return reload(incident)


def system_entry(incident):
    return incident.timeline.get(kind=TimelineKind.DECLARED)


# --- declare ---------------------------------------------------------------------------


def test_declared_incident_gets_ref_with_year_and_four_digit_number(ic):
    incident = declare(ic)

    assert re.fullmatch(r"INC-\d{4}-\d{4}", incident.ref)
    assert incident.ref == "INC-2025-0001"


def test_incident_numbers_are_sequential(ic, responder):
    refs = [declare(ic).ref, declare(responder).ref, declare(ic).ref]

    assert refs == ["INC-2025-0001", "INC-2025-0002", "INC-2025-0003"]


def test_incident_numbers_restart_each_year(ic, clock):
    declare(ic)
    declare(ic)
    clock.move_to(datetime(2026, 1, 1, 0, 5, tzinfo=UTC))

    assert declare(ic).ref == "INC-2026-0001"


def test_channel_name_is_date_and_slug_of_title(ic):
    incident = declare(ic, title="  Database connection pool exhausted! ")

    assert incident.channel_name == "#inc-20250314-database-connection-pool-exhausted"
    assert incident.title == "Database connection pool exhausted!"


def test_long_title_gives_channel_name_within_slack_limit(ic):
    title = "Payments " + "very " * 35 + "slow"  # 188 of the 200 characters a title may have
    incident = declare(ic, title=title)

    assert len(incident.channel_name) <= 80
    assert re.fullmatch(r"#inc-20250314-[a-z0-9-]+", incident.channel_name)
    assert not incident.channel_name.endswith("-")
    assert incident.channel_name.startswith("#inc-20250314-payments-very-very")


def test_title_without_slug_characters_gets_generic_channel_name(ic):
    incident = declare(ic, title="!!! ???")

    assert incident.channel_name == "#inc-20250314-incident"


def test_same_title_same_day_gets_a_distinct_channel(ic):
    first = declare(ic, title="Login outage")
    second = declare(ic, title="Login outage")
    third = declare(ic, title="Login outage")

    assert first.channel_name == "#inc-20250314-login-outage"
    assert second.channel_name == "#inc-20250314-login-outage-2"
    assert third.channel_name == "#inc-20250314-login-outage-3"


def test_same_long_title_same_day_gets_a_distinct_channel_within_limit(ic):
    title = "Search " + "degraded " * 20
    first, second = declare(ic, title=title), declare(ic, title=title)

    assert first.channel_name != second.channel_name
    assert len(second.channel_name) <= 80
    assert second.channel_name.endswith("-2")


def test_channel_name_stays_unique_when_the_suffixed_name_is_taken(ic):
    # The second title slugs to exactly the name a repeated "Login outage" would get next.
    declare(ic, title="Login outage")
    declare(ic, title="Login outage 2")
    third = declare(ic, title="Login outage")

    channels = list(Incident.objects.values_list("channel_name", flat=True))
    assert third.ref == "INC-2025-0003"
    assert len(set(channels)) == 3, channels


def test_same_title_next_day_reuses_the_plain_channel_name(ic, clock):
    declare(ic, title="Login outage")
    clock.shift(timedelta(days=1))

    assert declare(ic, title="Login outage").channel_name == "#inc-20250315-login-outage"


def test_declaring_copies_every_checklist_phase_onto_the_incident(ic):
    incident = declare(ic)

    items = list(incident.checklist.order_by("position"))
    expected = [(phase, text) for phase, texts in checklists.ITEMS.items() for text in texts]
    assert [(i.phase, i.text) for i in items] == expected
    assert {i.phase for i in items} == set(ChecklistPhase.values)
    assert [i.position for i in items] == list(range(1, len(expected) + 1))
    assert not any(i.is_done or i.waived_reason for i in items)


def test_checklists_belong_to_one_incident_each(ic):
    first, second = declare(ic), declare(ic)
    item = first.checklist.first()

    services.set_checklist_item(item, done=True, by=ic)

    assert first.checklist.filter(done_at__isnull=False).count() == 1
    assert not second.checklist.filter(done_at__isnull=False).exists()


def test_declaring_writes_one_declared_timeline_entry(ic):
    incident = declare(ic, title="Login outage", severity=Severity.SEV1)

    (entry,) = incident.timeline.exclude(kind=TimelineKind.PAGE)
    assert entry.kind == TimelineKind.DECLARED
    assert entry.author == ic
    assert entry.occurred_at == NOW
    assert "SEV-1" in entry.body
    assert "#inc-20250314-login-outage" in entry.body
    assert "<strong>SEV-1</strong>" in entry.body_html


def test_declarer_commands_unless_someone_else_is_named(ic, responder, manager):
    assert declare(responder).commander == responder
    assert declare(manager, commander=ic).commander == ic


def test_declaring_stores_fields_and_services(ic):
    database, api = ServiceFactory(), ServiceFactory()
    started = NOW - timedelta(minutes=20)
    detected = NOW - timedelta(minutes=10)

    incident = declare(ic, services=[database, api], started_at=started, detected_at=detected,
                       severity=Severity.SEV3)

    incident = reload(incident)
    assert set(incident.services.all()) == {database, api}
    assert (incident.started_at, incident.detected_at, incident.declared_at) == (
        started, detected, NOW)
    assert incident.severity == Severity.SEV3
    assert incident.status == Status.DECLARED
    assert incident.declared_by == ic
    assert incident.acknowledged_at is None


def test_severity_matching_the_tree_needs_no_reason(ic):
    incident = declare(ic, severity=Severity.SEV2, classified_severity=Severity.SEV2,
                       classification={"security_breach": "no", "service_unavailable": "no",
                                       "majority_affected": "yes"})

    incident = reload(incident)
    assert incident.classified_severity == Severity.SEV2
    assert incident.classification["majority_affected"] == "yes"
    assert incident.severity_override_reason == ""


@pytest.mark.parametrize("reason", ["", "   "])
def test_override_of_the_tree_without_reason_is_refused_and_creates_nothing(ic, reason):
    with nothing_declared(IncidentError, match="decision tree gave SEV-3"):
        declare(ic, severity=Severity.SEV1, classified_severity=Severity.SEV3,
                override_reason=reason)


def test_override_of_the_tree_with_reason_is_stored_and_logged(ic):
    incident = declare(ic, severity=Severity.SEV1, classified_severity=Severity.SEV3,
                       override_reason="  CEO demo in an hour  ")

    incident = reload(incident)
    assert incident.severity == Severity.SEV1
    assert incident.classified_severity == Severity.SEV3
    assert incident.severity_override_reason == "CEO demo in an hour"
    body = incident.timeline.get(kind=TimelineKind.DECLARED).body
    assert "decision tree's SEV-3: CEO demo in an hour" in body


def test_viewer_cannot_declare_and_nothing_is_created(viewer):
    with nothing_declared(PermissionDenied):
        declare(viewer)


def test_refused_declaration_does_not_use_up_a_number(ic, viewer):
    with nothing_declared(PermissionDenied):
        declare(viewer)
    with nothing_declared(IncidentError):
        declare(ic, started_at=NOW + MINUTE)

    assert declare(ic).ref == "INC-2025-0001"


@pytest.mark.parametrize(
    ("started", "detected"),
    [(NOW + MINUTE, None), (None, NOW + MINUTE), (NOW - MINUTE, NOW - 2 * MINUTE)],
    ids=["start-in-future", "detection-in-future", "detected-before-start"],
)
def test_impossible_times_are_refused_and_create_nothing(ic, started, detected):
    with nothing_declared(IncidentError):
        declare(ic, started_at=started, detected_at=detected)


# --- status transitions ------------------------------------------------------------------

ALLOWED = [(a, b) for a in Status for b in TRANSITIONS[a]]
FORBIDDEN = [(a, b) for a in Status for b in Status if b not in TRANSITIONS[a]]


def _ids(pairs):
    return [f"{a.value}->{b.value}" for a, b in pairs]


def test_transition_table_covers_every_status():
    assert set(TRANSITIONS) == set(Status)
    assert len(ALLOWED) + len(FORBIDDEN) == len(Status) ** 2


@pytest.mark.parametrize(("before", "after"), ALLOWED, ids=_ids(ALLOWED))
def test_listed_transition_is_allowed(incident, ic, before, after):
    incident = bring_to(incident, before, ic)
    if after == Status.RESOLVED:
        settle_closure(incident, ic)
    entries_before = incident.timeline.count()

    services.change_status(incident, to=after, by=ic, note="Rolled back the deploy.")

    incident = reload(incident)
    assert incident.status == after
    assert incident.timeline.count() == entries_before + 1
    last = incident.timeline.order_by("-pk").first()
    assert last.kind == (TimelineKind.RESOLVED if after == Status.RESOLVED
                         else TimelineKind.STATUS)
    assert "Rolled back the deploy." in last.body


@pytest.mark.parametrize(("before", "after"), FORBIDDEN, ids=_ids(FORBIDDEN))
def test_unlisted_transition_is_refused_and_changes_nothing(incident, ic, before, after):
    incident = bring_to(incident, before, ic)
    settle_closure(incident, ic)

    with refused(incident):
        services.change_status(incident, to=after, by=ic, note="Rolled back the deploy.")


def test_first_move_sets_acknowledged_at_and_later_moves_keep_it(incident, ic, clock):
    services.change_status(incident, to=Status.INVESTIGATING, by=ic)
    clock.shift(10 * MINUTE)
    services.change_status(incident, to=Status.IDENTIFIED, by=ic)

    incident = reload(incident)
    assert incident.acknowledged_at == NOW
    assert incident.identified_at == NOW + 10 * MINUTE
    assert incident.mitigated_at is None


def test_monitoring_sets_mitigated_at_and_keeps_identified_at(incident, ic, clock):
    services.change_status(incident, to=Status.IDENTIFIED, by=ic)
    clock.shift(5 * MINUTE)
    services.change_status(incident, to=Status.FIXING, by=ic)
    clock.shift(5 * MINUTE)
    services.change_status(incident, to=Status.MONITORING, by=ic)
    clock.shift(5 * MINUTE)
    services.change_status(incident, to=Status.FIXING, by=ic)
    clock.shift(5 * MINUTE)
    services.change_status(incident, to=Status.MONITORING, by=ic)

    incident = reload(incident)
    assert incident.acknowledged_at == NOW
    assert incident.identified_at == NOW
    assert incident.mitigated_at == NOW + 10 * MINUTE


def test_skipping_to_monitoring_sets_identified_at_too(incident, ic):
    services.change_status(incident, to=Status.INVESTIGATING, by=ic)
    services.change_status(incident, to=Status.MONITORING, by=ic)

    incident = reload(incident)
    assert incident.identified_at == NOW
    assert incident.mitigated_at == NOW


def test_status_change_is_written_to_the_timeline(incident, ic):
    services.change_status(incident, to=Status.INVESTIGATING, by=ic, note=" Looking at logs ")

    entry = incident.timeline.get(kind=TimelineKind.STATUS)
    assert entry.body.startswith("Status moved: Declared → **Investigating** by Ic.")
    assert entry.body.endswith("\n\nLooking at logs")
    assert entry.author == ic


# --- resolve and reopen -------------------------------------------------------------------


@pytest.mark.parametrize("resolution", ["", "   "])
def test_resolving_without_resolution_text_is_refused(incident, ic, resolution):
    settle_closure(incident, ic)

    with refused(incident, match="how the incident was resolved"):
        services.resolve_incident(incident, resolution=resolution, by=ic)


def test_resolving_with_an_open_closure_item_is_refused(incident, ic):
    settle_closure(incident, ic)
    item = incident.checklist.get(phase=ChecklistPhase.CLOSURE, text="Archive incident channel")
    services.set_checklist_item(item, done=False, by=ic)

    with refused(incident, match="Archive incident channel"):
        services.resolve_incident(incident, resolution="Rolled back.", by=ic)


def test_resolving_accepts_closure_items_ticked_or_waived(incident, ic, clock):
    closure = list(incident.checklist.filter(phase=ChecklistPhase.CLOSURE))
    for item in closure[:-1]:
        services.set_checklist_item(item, done=True, by=ic)
    services.waive_checklist_item(closure[-1], reason="No channel was created.", by=ic)
    clock.shift(30 * MINUTE)

    services.resolve_incident(incident, resolution="  Rolled back release 42. ", by=ic)

    incident = reload(incident)
    assert incident.status == Status.RESOLVED
    assert incident.resolution == "Rolled back release 42."
    assert incident.resolved_at == NOW + 30 * MINUTE
    assert incident.acknowledged_at == NOW + 30 * MINUTE
    assert incident.mitigated_at == NOW + 30 * MINUTE
    entry = incident.timeline.get(kind=TimelineKind.RESOLVED)
    assert "Rolled back release 42." in entry.body


def test_open_items_outside_closure_do_not_block_resolving(incident, ic):
    settle_closure(incident, ic)

    services.resolve_incident(incident, resolution="Rolled back.", by=ic)

    incident = reload(incident)
    assert incident.status == Status.RESOLVED
    assert incident.checklist.filter(phase=ChecklistPhase.TRIAGE, done_at__isnull=True).exists()


def test_resolving_keeps_earlier_acknowledgement(incident, ic, clock):
    services.change_status(incident, to=Status.INVESTIGATING, by=ic)
    settle_closure(incident, ic)
    clock.shift(20 * MINUTE)

    services.resolve_incident(incident, resolution="Rolled back.", by=ic)

    incident = reload(incident)
    assert incident.acknowledged_at == NOW
    assert incident.resolved_at == NOW + 20 * MINUTE


def test_resolving_twice_is_refused(incident, ic):
    incident = bring_to(incident, Status.RESOLVED, ic)

    with refused(incident, match="cannot be resolved"):
        services.resolve_incident(incident, resolution="Again.", by=ic)


def test_reopening_clears_resolved_at(incident, ic, clock):
    incident = bring_to(incident, Status.RESOLVED, ic)
    assert incident.resolved_at == NOW
    clock.shift(MINUTE)

    services.change_status(incident, to=Status.INVESTIGATING, by=ic, note="It came back.")

    incident = reload(incident)
    assert incident.status == Status.INVESTIGATING
    assert incident.resolved_at is None
    assert incident.resolution == ""
    assert incident.is_open
    resolved_entry = incident.timeline.get(kind=TimelineKind.RESOLVED)
    assert "Fixed it." in resolved_entry.body
    entry = incident.timeline.filter(kind=TimelineKind.STATUS).order_by("-pk").first()
    assert entry.body.startswith("Status reopened: Resolved → **Investigating**")


# --- severity -------------------------------------------------------------------------------


def test_escalation_is_worded_as_escalation_and_needs_no_reason(incident, ic):
    services.change_severity(incident, to=Severity.SEV1, by=ic)

    assert reload(incident).severity == Severity.SEV1
    entry = incident.timeline.get(kind=TimelineKind.SEVERITY)
    assert entry.body == "Severity escalated: SEV-2 → **SEV-1** by Ic."


def test_de_escalation_with_reason_is_worded_as_de_escalation(incident, ic):
    services.change_severity(incident, to=Severity.SEV4, by=ic, reason=" Internal only ")

    assert reload(incident).severity == Severity.SEV4
    entry = incident.timeline.get(kind=TimelineKind.SEVERITY)
    assert entry.body == "Severity de-escalated: SEV-2 → **SEV-4** by Ic.\n\nInternal only"


@pytest.mark.parametrize("reason", ["", "  "])
def test_de_escalation_without_reason_is_refused(incident, ic, reason):
    with refused(incident, match="why the severity is being lowered"):
        services.change_severity(incident, to=Severity.SEV3, by=ic, reason=reason)


def test_changing_to_the_same_severity_is_refused(incident, ic):
    with refused(incident, match="already SEV-2"):
        services.change_severity(incident, to=Severity.SEV2, by=ic, reason="Just because")


def test_resolved_incident_severity_cannot_change(incident, ic):
    incident = bring_to(incident, Status.RESOLVED, ic)

    with refused(incident, match="reopen it first"):
        services.change_severity(incident, to=Severity.SEV1, by=ic)


# --- roles --------------------------------------------------------------------------------


def test_assigning_a_role_sets_it_and_logs_it(incident, ic, responder):
    services.assign_role(incident, role="technical_lead", user=responder, by=ic)

    assert reload(incident).technical_lead == responder
    entry = incident.timeline.get(kind=TimelineKind.ROLE)
    assert entry.body == "**Responder** is now Technical Lead (assigned by Ic)."


def test_clearing_a_lead_role_unassigns_it(incident, ic, responder):
    services.assign_role(incident, role="communications_lead", user=responder, by=ic)

    services.assign_role(incident, role="communications_lead", user=None, by=ic)

    assert reload(incident).communications_lead is None
    last = incident.timeline.filter(kind=TimelineKind.ROLE).order_by("-pk").first()
    assert last.body == "Communications Lead unassigned by Ic."


def test_commander_cannot_be_cleared(incident, ic):
    with refused(incident, match="always has an Incident Commander"):
        services.assign_role(incident, role="commander", user=None, by=ic)


def test_unknown_role_is_refused(incident, ic, responder):
    with refused(incident, match="Unknown role"):
        services.assign_role(incident, role="scribe", user=responder, by=ic)


def test_assigning_a_role_to_its_holder_is_refused(incident, ic):
    with refused(incident, match="already Incident Commander"):
        services.assign_role(incident, role="commander", user=ic, by=ic)


def test_a_viewer_cannot_be_given_an_incident_role(incident, ic, viewer):
    with refused(incident, match="Viewer and cannot hold"):
        services.assign_role(incident, role="commander", user=viewer, by=ic)


def test_handing_over_command_to_a_responder_lets_them_command(incident, ic, responder):
    services.assign_role(incident, role="commander", user=responder, by=ic)

    services.change_status(incident, to=Status.INVESTIGATING, by=responder)

    assert reload(incident).status == Status.INVESTIGATING


# --- join ---------------------------------------------------------------------------------


def test_responder_joins_and_can_then_write_the_timeline(incident, responder):
    services.join_incident(incident, by=responder)

    assert list(incident.responders.all()) == [responder]
    assert incident.timeline.filter(kind=TimelineKind.ROLE,
                                    body="Responder joined the response.").exists()
    entry = note(incident, responder, body="Checked the dashboards.")
    assert entry.author == responder


def test_joining_twice_is_refused(incident, responder):
    services.join_incident(incident, by=responder)

    with refused(incident, match="already working"):
        services.join_incident(incident, by=responder)


def test_role_holder_joining_is_refused(incident, ic):
    with refused(incident, match="already working"):
        services.join_incident(incident, by=ic)


# --- permissions per role -------------------------------------------------------------------

ACTORS = ("viewer", "outsider", "joined", "ic", "manager", "own_commander")
# Who may do what (permissions.py): commanding needs the IC or Manager role or being
# this incident's commander; editing also lets in Responders who work on it.
COMMAND = {"ic", "manager", "own_commander"}
EDIT = COMMAND | {"joined"}


@pytest.fixture
def cast(django_user_model, viewer, responder, ic, manager):
    """An incident commanded by a plain Responder, with a second Responder who joined."""
    commander = make_user(django_user_model, "rosa", Role.RESPONDER)
    joined = make_user(django_user_model, "jules", Role.RESPONDER)
    incident = declare(commander, severity=Severity.SEV2)
    services.join_incident(incident, by=joined)
    settle_closure(incident, commander)
    entry = note(incident, commander, body="First look at the logs.")
    actors = {"viewer": viewer, "outsider": responder, "joined": joined, "ic": ic,
              "manager": manager, "own_commander": commander}
    return reload(incident), entry, actors


def _triage_item(incident):
    return incident.checklist.filter(phase=ChecklistPhase.TRIAGE).first()


ACTIONS = {
    "change_status": (COMMAND, lambda inc, entry, by, other: services.change_status(
        inc, to=Status.INVESTIGATING, by=by)),
    "resolve_incident": (COMMAND, lambda inc, entry, by, other: services.resolve_incident(
        inc, resolution="Rolled back.", by=by)),
    "change_severity": (COMMAND, lambda inc, entry, by, other: services.change_severity(
        inc, to=Severity.SEV1, by=by)),
    "assign_role": (COMMAND, lambda inc, entry, by, other: services.assign_role(
        inc, role="technical_lead", user=other, by=by)),
    "waive_checklist_item": (COMMAND, lambda inc, entry, by, other:
                             services.waive_checklist_item(
                                 _triage_item(inc), reason="Not needed.", by=by)),
    "add_timeline_entry": (EDIT, lambda inc, entry, by, other: services.add_timeline_entry(
        inc, body="Found it.", by=by)),
    "edit_timeline_entry": (EDIT, lambda inc, entry, by, other: services.edit_timeline_entry(
        entry, body="Second look.", expected_version=1, by=by)),
    "delete_timeline_entry": (EDIT, lambda inc, entry, by, other:
                              services.delete_timeline_entry(entry, expected_version=1, by=by)),
    "set_checklist_item": (EDIT, lambda inc, entry, by, other: services.set_checklist_item(
        _triage_item(inc), done=True, by=by)),
}
CASES = [(action, actor) for action in ACTIONS for actor in ACTORS]


@pytest.mark.parametrize(("action", "actor"), CASES, ids=[f"{a}-{b}" for a, b in CASES])
def test_service_permission_by_role(cast, action, actor):
    incident, entry, actors = cast
    allowed_actors, run = ACTIONS[action]
    by, other = actors[actor], actors["manager"]

    if actor in allowed_actors:
        before = snapshot(incident)
        run(incident, entry, by, other)
        assert snapshot(incident) != before
    else:
        with refused(incident, PermissionDenied):
            run(incident, entry, by, other)


@pytest.mark.parametrize(
    ("actor", "outcome"),
    [("viewer", PermissionDenied), ("outsider", None), ("joined", IncidentError),
     ("ic", None), ("manager", None), ("own_commander", IncidentError)],
)
def test_join_permission_by_role(cast, actor, outcome):
    incident, _, actors = cast
    by = actors[actor]

    if outcome is None:
        services.join_incident(incident, by=by)
        assert incident.responders.filter(pk=by.pk).exists()
    else:
        with refused(incident, outcome):
            services.join_incident(incident, by=by)


@pytest.mark.parametrize(("actor", "allowed"), [("viewer", False), ("outsider", True),
                                                ("ic", True), ("manager", True)])
def test_declare_permission_by_role(cast, actor, allowed):
    by = cast[2][actor]

    if allowed:
        assert declare(by).declared_by == by
    else:
        with nothing_declared(PermissionDenied):
            declare(by)


def test_technical_lead_responder_may_edit_but_not_command(incident, ic, responder):
    incident = services.assign_role(incident, role="technical_lead", user=responder, by=ic)

    note(incident, responder, body="Found the bad query.")
    with refused(incident, PermissionDenied):
        services.change_status(incident, to=Status.INVESTIGATING, by=responder)


# --- timeline -------------------------------------------------------------------------------


def test_added_entry_is_stored_with_author_kind_and_rendered_html(incident, ic):
    earlier = NOW - 15 * MINUTE

    entry = services.add_timeline_entry(incident, body="  Found **the** bad query ", by=ic,
                                        kind=TimelineKind.FINDING, occurred_at=earlier)

    entry = reload(entry)
    assert entry.body == "Found **the** bad query"
    assert entry.body_html == "<p>Found <strong>the</strong> bad query</p>"
    assert (entry.kind, entry.author, entry.version) == (TimelineKind.FINDING, ic, 1)
    assert (entry.occurred_at, entry.created_at) == (earlier, NOW)


@pytest.mark.parametrize(
    ("body", "kind", "occurred_at", "match"),
    [("  ", TimelineKind.NOTE, None, "needs some text"),
     ("Declared again", TimelineKind.DECLARED, None, "written by the system"),
     ("Later", TimelineKind.NOTE, NOW + 10 * MINUTE, "cannot be in the future")],
    ids=["empty", "system-kind", "future"],
)
def test_invalid_new_entry_is_refused(incident, ic, body, kind, occurred_at, match):
    with refused(incident, match=match):
        services.add_timeline_entry(incident, body=body, by=ic, kind=kind,
                                    occurred_at=occurred_at)


def test_edit_keeps_the_previous_text_as_a_revision(incident, ic, responder, clock):
    services.join_incident(incident, by=responder)
    entry = note(incident, ic, body="Restarted the pods.")
    clock.shift(5 * MINUTE)

    edited = services.edit_timeline_entry(entry, body="Restarted the *checkout* pods.",
                                          expected_version=1, by=responder)

    edited = reload(edited)
    assert edited.body == "Restarted the *checkout* pods."
    assert edited.body_html == "<p>Restarted the <em>checkout</em> pods.</p>"
    assert edited.version == 2
    assert (edited.edited_by, edited.edited_at) == (responder, NOW + 5 * MINUTE)
    assert edited.author == ic
    (revision,) = edited.revisions.all()
    assert (revision.version, revision.body, revision.kind) == (
        1, "Restarted the pods.", TimelineKind.NOTE)
    assert (revision.occurred_at, revision.replaced_by, revision.replaced_at) == (
        NOW, responder, NOW + 5 * MINUTE)


def test_each_edit_increments_the_version_and_keeps_every_revision(incident, ic):
    entry = note(incident, ic, body="v1")

    services.edit_timeline_entry(entry, body="v2", expected_version=1, by=ic)
    services.edit_timeline_entry(entry, body="v3", expected_version=2, by=ic,
                                 kind=TimelineKind.ACTION, occurred_at=NOW - MINUTE)

    entry = reload(entry)
    assert (entry.body, entry.version, entry.kind, entry.occurred_at) == (
        "v3", 3, TimelineKind.ACTION, NOW - MINUTE)
    assert [(r.version, r.body) for r in entry.revisions.all()] == [(2, "v2"), (1, "v1")]


def test_stale_edit_is_refused_and_keeps_text(incident, ic, manager):
    entry = note(incident, ic, body="Restarted the pods.")
    services.edit_timeline_entry(entry, body="Restarted the checkout pods.",
                                 expected_version=1, by=manager)

    with refused(incident, ConflictError, match="Manager changed this entry") as info:
        services.edit_timeline_entry(entry, body="Restarted pods (mine).",
                                     expected_version=1, by=ic)

    assert info.value.current.body == "Restarted the checkout pods."
    assert info.value.current.version == 2


def test_editing_a_deleted_entry_is_a_conflict(incident, ic):
    entry = note(incident, ic)
    services.delete_timeline_entry(entry, expected_version=1, by=ic)

    with refused(incident, ConflictError, match="deleted"):
        services.edit_timeline_entry(entry, body="Too late.", expected_version=2, by=ic)


def test_edit_cannot_turn_an_entry_into_a_system_kind(incident, ic):
    entry = note(incident, ic)

    with refused(incident, match="written by the system"):
        services.edit_timeline_entry(entry, body="x", expected_version=1, by=ic,
                                     kind=TimelineKind.RESOLVED)


def test_deleting_is_soft_and_records_who_and_when(incident, ic, manager, clock):
    entry = note(incident, ic)
    clock.shift(MINUTE)

    services.delete_timeline_entry(entry, expected_version=1, by=manager)

    entry = reload(entry)
    assert entry.body == "Restarted the checkout pods."
    assert (entry.deleted_by, entry.deleted_at) == (manager, NOW + MINUTE)
    assert entry.version == 2
    revision = entry.revisions.get()
    assert (revision.version, revision.body, revision.replaced_by) == (
        1, "Restarted the checkout pods.", manager)


def test_deleting_twice_is_refused(incident, ic):
    entry = note(incident, ic)
    services.delete_timeline_entry(entry, expected_version=1, by=ic)

    with refused(incident, match="already deleted"):
        services.delete_timeline_entry(entry, expected_version=2, by=ic)


def test_stale_delete_is_refused_and_keeps_the_entry(incident, ic):
    entry = note(incident, ic)
    services.edit_timeline_entry(entry, body="Edited.", expected_version=1, by=ic)

    with refused(incident, ConflictError, match="read it again"):
        services.delete_timeline_entry(entry, expected_version=1, by=ic)


def test_system_entry_cannot_be_edited(incident, ic):
    entry = system_entry(incident)

    with refused(incident, match="cannot be edited"):
        services.edit_timeline_entry(entry, body="Rewritten history.", expected_version=1,
                                     by=ic, kind=TimelineKind.NOTE)


def test_system_entry_cannot_be_deleted(incident, manager):
    entry = system_entry(incident)

    with refused(incident, match="cannot be deleted"):
        services.delete_timeline_entry(entry, expected_version=1, by=manager)


SCRIPT = "Look <script>alert('xss')</script> here"
JS_LINK = "See [the dashboard](javascript:alert(document.cookie))"
RAW_JS_LINK = '<a href="javascript:alert(1)">the dashboard</a>'
DANGEROUS = [SCRIPT, JS_LINK, RAW_JS_LINK]
DANGEROUS_IDS = ["script", "markdown-javascript-link", "html-javascript-link"]


def _assert_sanitised(entry, typed):
    entry = reload(entry)
    assert entry.body == typed
    html = entry.body_html.lower()
    assert "<script" not in html
    assert "alert(" not in html
    assert "javascript:" not in html


@pytest.mark.parametrize("typed", DANGEROUS, ids=DANGEROUS_IDS)
def test_dangerous_markup_is_stored_as_typed_but_not_rendered(incident, ic, typed):
    entry = note(incident, ic, body=typed)

    _assert_sanitised(entry, typed)


@pytest.mark.parametrize("typed", DANGEROUS, ids=DANGEROUS_IDS)
def test_dangerous_markup_is_not_rendered_after_an_edit(incident, ic, typed):
    entry = note(incident, ic, body="Harmless")

    services.edit_timeline_entry(entry, body=typed, expected_version=1, by=ic)

    _assert_sanitised(entry, typed)


def test_ordinary_links_survive_sanitising(incident, ic):
    entry = note(incident, ic, body="See [graph](https://grafana.example/d/1)")

    assert 'href="https://grafana.example/d/1"' in reload(entry).body_html


# --- checklist ------------------------------------------------------------------------------


def test_ticking_records_who_and_when(incident, responder, ic, clock):
    services.join_incident(incident, by=responder)
    item = _triage_item(incident)
    clock.shift(3 * MINUTE)

    services.set_checklist_item(item, done=True, by=responder)

    item = reload(item)
    assert (item.done_by, item.done_at) == (responder, NOW + 3 * MINUTE)
    assert item.is_done and item.is_settled


def test_ticking_again_keeps_the_first_tick(incident, ic, manager, clock):
    item = _triage_item(incident)
    services.set_checklist_item(item, done=True, by=ic)
    clock.shift(MINUTE)

    services.set_checklist_item(item, done=True, by=manager)

    item = reload(item)
    assert (item.done_by, item.done_at) == (ic, NOW)


def test_unticking_clears_who_and_when(incident, ic):
    item = _triage_item(incident)
    services.set_checklist_item(item, done=True, by=ic)

    services.set_checklist_item(item, done=False, by=ic)

    item = reload(item)
    assert (item.done_by, item.done_at) == (None, None)
    assert not item.is_settled


@pytest.mark.parametrize("reason", ["", "   "])
def test_waiving_without_reason_is_refused(incident, ic, reason):
    with refused(incident, match="why this item is being waived"):
        services.waive_checklist_item(_triage_item(incident), reason=reason, by=ic)


def test_waiving_stores_reason_and_writes_timeline_entry(incident, ic):
    item = _triage_item(incident)

    services.waive_checklist_item(item, reason=" Alert came from a customer call ", by=ic)

    item = reload(item)
    assert item.waived_reason == "Alert came from a customer call"
    assert item.is_settled and not item.is_done
    entry = incident.timeline.get(kind=TimelineKind.CHECKLIST)
    assert entry.author == ic
    assert f"*{item.text}*" in entry.body
    assert "Alert came from a customer call" in entry.body


# --- SLA breaches ---------------------------------------------------------------------------


@pytest.fixture
def sev1(ic):
    """SEV-1 detected at NOW: response due NOW+5m, resolution due NOW+60m (§7.2)."""
    return declare(ic, severity=Severity.SEV1)


def sla_entries(incident):
    return list(incident.timeline.filter(kind=TimelineKind.SLA).order_by("pk"))


def test_nothing_is_noted_before_a_target_is_due(sev1):
    with time_machine.travel(NOW + 4 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 0

    assert sla_entries(sev1) == []


def test_response_breach_is_noted_once_when_run_twice(sev1):
    with time_machine.travel(NOW + 6 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 1
        assert services.note_sla_breaches() == 0

    (entry,) = sla_entries(sev1)
    assert entry.body.startswith("**Response SLA breached**: SEV-1 target was 2025-03-14 09:35")
    assert entry.occurred_at == NOW + 5 * MINUTE
    assert entry.author is None
    sev1 = reload(sev1)
    assert sev1.response_breach_noted_at == NOW + 6 * MINUTE
    assert sev1.resolution_breach_noted_at is None


def test_resolution_breach_is_noted_once_when_run_twice(sev1):
    with time_machine.travel(NOW + 6 * MINUTE, tick=False):
        services.note_sla_breaches()
    with time_machine.travel(NOW + 61 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 1
        assert services.note_sla_breaches() == 0
    with time_machine.travel(NOW + 5 * 60 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 0

    bodies = [e.body for e in sla_entries(sev1)]
    assert len(bodies) == 2
    assert bodies[0].startswith("**Response SLA breached**")
    assert bodies[1].startswith("**Resolution SLA breached**: SEV-1 target was "
                                "2025-03-14 10:30")
    assert reload(sev1).resolution_breach_noted_at == NOW + 61 * MINUTE


def test_both_breaches_are_noted_in_one_late_run(sev1):
    with time_machine.travel(NOW + 2 * 60 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 2
        assert services.note_sla_breaches() == 0

    kinds = sorted(e.body.split(" SLA")[0] for e in sla_entries(sev1))
    assert kinds == ["**Resolution", "**Response"]


def test_acknowledged_incident_has_no_response_breach(sev1, ic):
    with time_machine.travel(NOW + 2 * MINUTE, tick=False):
        services.change_status(sev1, to=Status.INVESTIGATING, by=ic)
    with time_machine.travel(NOW + 10 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 0

    assert sla_entries(sev1) == []
    assert reload(sev1).response_breach_noted_at is None


def test_late_acknowledgement_is_noted_as_a_response_breach(sev1, ic):
    # Acknowledged at +5m30s, after the 5-minute target, before the next beat tick.
    with time_machine.travel(NOW + 5 * MINUTE + timedelta(seconds=30), tick=False):
        services.change_status(sev1, to=Status.INVESTIGATING, by=ic)
    assert reload(sev1).response_breached()

    with time_machine.travel(NOW + 6 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 1

    (entry,) = sla_entries(sev1)
    assert entry.body.startswith("**Response SLA breached**")


def test_targets_follow_the_incident_severity(ic):
    sev3 = declare(ic, severity=Severity.SEV3)

    with time_machine.travel(NOW + 59 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 0
    with time_machine.travel(NOW + 61 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 1

    (entry,) = sla_entries(sev3)
    assert "SEV-3 target was 2025-03-14 10:30" in entry.body


def test_resolved_incident_notes_nothing(sev1, ic):
    with time_machine.travel(NOW + 2 * MINUTE, tick=False):
        settle_closure(sev1, ic)
        services.resolve_incident(sev1, resolution="Rolled back.", by=ic)
    with time_machine.travel(NOW + 3 * 60 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 0

    assert sla_entries(sev1) == []
    sev1 = reload(sev1)
    assert (sev1.response_breach_noted_at, sev1.resolution_breach_noted_at) == (None, None)


def test_breaches_are_noted_per_incident(ic):
    first = declare(ic, severity=Severity.SEV1)
    second = declare(ic, severity=Severity.SEV1)

    with time_machine.travel(NOW + 6 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 2

    assert len(sla_entries(first)) == len(sla_entries(second)) == 1
