"""The post-incident review's workflow and permissions, through reports.services directly."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from incidents import services as incident_services
from incidents.models import Status
from oncall.roles import Role
from reports.models import (
    ActionItem,
    ActionStatus,
    FactorCategory,
    PIRChange,
    PIRState,
    PostIncidentReview,
    RootCauseCategory,
)
from reports.services import pir as services
from tests.conftest import make_user
from tests.reports.factories import resolved_incident

pytestmark = pytest.mark.django_db

FRIDAY = datetime(2026, 3, 6, 15, 30, tzinfo=UTC)




@pytest.fixture
def pir(ic):
    return resolved_incident(ic).pir


def fresh(pir):
    return PostIncidentReview.objects.get(pk=pir.pk)


def write_root_cause(pir, by):
    return services.update_section(
        pir, section="root_cause", expected_version=fresh(pir).version, by=by,
        data={"what_happened": "Release 42 broke card payments.",
              "why_it_happened": "No canary for the payment path."})


def add_item(pir, by, owner, **kwargs):
    return services.add_action_item(pir, action="Add a payments canary", owner=owner,
                                    due_date=date.today() + timedelta(days=7), by=by, **kwargs)


def in_review(pir, by):
    write_root_cause(pir, by)
    return services.submit_for_review(fresh(pir), by=by)


# --- Opening the review --------------------------------------------------------------------

def test_resolving_an_incident_opens_its_review_prefilled_from_the_incident(ic):
    started = FRIDAY - timedelta(minutes=95)
    with time_machine.travel(FRIDAY, tick=False):
        incident = resolved_incident(ic, started_at=started, detected_at=started)

    pir = incident.pir
    assert pir.state == PIRState.DRAFT
    assert pir.impact == "Some customers could not pay."
    assert pir.what_happened == "Rolled back release 42."
    assert pir.sla_downtime_minutes == 95
    assert pir.root_cause_category == RootCauseCategory.UNKNOWN
    assert [w.position for w in pir.whys.all()] == [1, 2, 3, 4, 5]
    assert {f.category for f in pir.factors.all()} == set(FactorCategory.values)
    assert [m.text for m in pir.prevention.all()] == list(services.PREVENTION_DEFAULTS)
    assert pir.changes.get().what.startswith("Review opened; due 2026-03-13")


def test_a_friday_resolution_is_due_the_next_friday(ic):
    with time_machine.travel(FRIDAY, tick=False):
        pir = resolved_incident(ic).pir

    assert pir.due_at == datetime(2026, 3, 13, 15, 30, tzinfo=UTC)
    assert pir.due_at.weekday() == 4


def test_a_wednesday_resolution_skips_the_weekend(ic):
    wednesday = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    with time_machine.travel(wednesday, tick=False):
        pir = resolved_incident(ic).pir

    assert pir.due_at == datetime(2026, 3, 11, 9, 0, tzinfo=UTC)


def test_resolving_again_after_a_reopen_keeps_the_one_review(ic):
    incident = resolved_incident(ic)
    first = incident.pir
    incident_services.change_status(incident, to=Status.INVESTIGATING, by=ic)
    incident_services.resolve_incident(incident, resolution="Really fixed now.", by=ic)

    assert PostIncidentReview.objects.filter(incident=incident).get().pk == first.pk


# --- Sections ------------------------------------------------------------------------------

def test_update_section_saves_audits_and_bumps_the_version(pir, responder, ic):
    before = pir.version

    services.update_section(pir, section="impact", expected_version=before, by=ic,
                            data={"customers_affected": 1200, "revenue_impact": Decimal("950.50"),
                                  "sla_downtime_minutes": 42})

    saved = fresh(pir)
    assert (saved.customers_affected, saved.revenue_impact, saved.sla_downtime_minutes) == \
        (1200, Decimal("950.50"), 42)
    assert saved.version == before + 1
    change = saved.changes.first()
    assert change.by == ic
    assert "customers affected" in change.what and "revenue impact" in change.what


def test_saving_a_section_unchanged_writes_nothing(pir, ic):
    before = fresh(pir)

    services.update_section(pir, section="summary", expected_version=before.version, by=ic,
                            data={"impact": before.impact})

    assert fresh(pir).version == before.version
    assert pir.changes.count() == 1


def test_a_stale_edit_is_refused_and_changes_nothing(pir, ic, manager):
    read_version = pir.version
    services.update_section(pir, section="summary", expected_version=read_version, by=manager,
                            data={"impact": "Manager's impact text."})
    changes = PIRChange.objects.count()

    with pytest.raises(services.StaleEdit) as refused:
        services.update_section(pir, section="summary", expected_version=read_version, by=ic,
                                data={"impact": "IC's older impact text."})

    saved = fresh(pir)
    assert saved.impact == "Manager's impact text."
    assert saved.version == read_version + 1
    assert refused.value.current.version == saved.version
    assert refused.value.current.impact == "Manager's impact text."
    assert "Manager" in str(refused.value)
    assert PIRChange.objects.count() == changes


def test_unknown_section_and_invalid_values_are_refused(pir, ic):
    with pytest.raises(services.PIRError):
        services.update_section(pir, section="title", expected_version=pir.version, by=ic,
                                data={"title": "x"})
    with pytest.raises(ValidationError):
        services.update_section(pir, section="root_cause", expected_version=pir.version, by=ic,
                                data={"root_cause_category": "gremlins"})

    assert fresh(pir).root_cause_category == RootCauseCategory.UNKNOWN


def test_whys_factors_key_entries_and_prevention_are_saved_in_order(pir, ic):
    incident = pir.incident
    kept = incident_services.add_timeline_entry(incident, body="Rolled back.", by=ic)
    gone = incident_services.add_timeline_entry(incident, body="Typo.", by=ic)
    incident_services.delete_timeline_entry(gone, expected_version=gone.version, by=ic)

    services.set_whys(pir, answers=["Checkout failed", " Bad release "],
                      expected_version=fresh(pir).version, by=ic)
    services.set_factors(pir, factors={"code_change": (True, "Release 42")},
                         expected_version=fresh(pir).version, by=ic)
    services.set_key_entries(pir, entry_ids=[kept.pk, gone.pk],
                             expected_version=fresh(pir).version, by=ic)
    services.set_prevention(pir, measures=[("Canary payments", True), ("  ", False),
                                           ("Alert on 5xx", False)],
                            expected_version=fresh(pir).version, by=ic)

    saved = fresh(pir)
    assert [w.answer for w in saved.whys.all()] == ["Checkout failed", "Bad release", "", "", ""]
    factor = saved.factors.get(category=FactorCategory.CODE_CHANGE)
    assert (factor.contributed, factor.note) == (True, "Release 42")
    assert list(saved.key_entries.all()) == [kept]
    assert [(m.text, m.done) for m in saved.prevention.all()] == [("Canary payments", True),
                                                                   ("Alert on 5xx", False)]
    assert saved.version == pir.version + 4


def test_six_whys_are_refused(pir, ic):
    with pytest.raises(services.PIRError):
        services.set_whys(pir, answers=["why"] * 6, expected_version=pir.version, by=ic)


def test_who_may_edit_the_review(pir, viewer, responder, ic, manager, django_user_model):
    joined = make_user(django_user_model, "joined", Role.RESPONDER)
    pir.incident.responders.add(joined)

    assert services.can_edit(ic, pir) and services.can_edit(manager, pir)
    assert services.can_edit(joined, pir)
    assert not services.can_edit(viewer, pir)
    assert not services.can_edit(responder, pir)  # not on this incident
    with pytest.raises(PermissionDenied):
        services.update_section(pir, section="summary", expected_version=pir.version,
                                by=viewer, data={"impact": "Viewer text."})
    assert fresh(pir).impact == "Some customers could not pay."


# --- Workflow ------------------------------------------------------------------------------

def test_submitting_needs_what_and_why(pir, ic):
    services.update_section(pir, section="root_cause", expected_version=pir.version, by=ic,
                            data={"what_happened": ""})

    with pytest.raises(services.PIRError, match="what happened and why it happened"):
        services.submit_for_review(pir, by=ic)

    write_root_cause(pir, ic)
    services.submit_for_review(pir, by=ic)
    saved = fresh(pir)
    assert saved.state == PIRState.IN_REVIEW
    assert saved.submitted_at is not None
    assert saved.changes.first().what == "Sent for review."


def test_only_a_manager_approves_and_only_a_review_in_review(pir, ic, manager, responder):
    add_item(pir, ic, responder)
    with pytest.raises(services.PIRError, match="in review"):
        services.approve(pir, by=manager)

    in_review(pir, ic)
    with pytest.raises(PermissionDenied):
        services.approve(pir, by=ic)
    assert fresh(pir).state == PIRState.IN_REVIEW

    services.approve(pir, by=manager)
    saved = fresh(pir)
    assert saved.state == PIRState.APPROVED
    assert (saved.approved_by, saved.changes.first().what) == (manager, "Approved.")


def test_approval_needs_an_action_item(pir, ic, manager):
    in_review(pir, ic)

    with pytest.raises(services.PIRError, match="action item"):
        services.approve(pir, by=manager)
    assert fresh(pir).state == PIRState.IN_REVIEW


def test_an_approved_review_is_read_only_but_its_items_can_be_closed(pir, ic, manager, responder):
    item = add_item(pir, ic, responder)
    in_review(pir, ic)
    services.approve(pir, by=manager)
    approved = fresh(pir)

    assert not services.can_edit(manager, approved)
    with pytest.raises(services.PIRError, match="read-only"):
        services.update_section(approved, section="summary", expected_version=approved.version,
                                by=manager, data={"impact": "Changed after approval."})
    with pytest.raises(services.PIRError, match="read-only"):
        add_item(approved, manager, responder)
    with pytest.raises(services.PIRError):
        services.update_action_item(item, by=manager, action="Rewritten")
    with pytest.raises(services.PIRError):
        services.delete_action_item(item, by=manager)
    with pytest.raises(services.PIRError):
        services.submit_for_review(approved, by=ic)

    services.update_action_item(item, by=responder, status=ActionStatus.DONE)  # the owner
    assert ActionItem.objects.get(pk=item.pk).status == ActionStatus.DONE
    assert fresh(pir).impact == "Some customers could not pay."


def test_reopening_needs_a_manager_and_a_reason(pir, ic, manager, responder):
    add_item(pir, ic, responder)
    in_review(pir, ic)
    services.approve(pir, by=manager)

    with pytest.raises(PermissionDenied):
        services.reopen(pir, reason="Missed a factor.", by=ic)
    with pytest.raises(services.PIRError, match="Say why"):
        services.reopen(pir, reason="   ", by=manager)
    assert fresh(pir).state == PIRState.APPROVED

    services.reopen(pir, reason="Missed a factor.", by=manager)
    saved = fresh(pir)
    assert (saved.state, saved.approved_by, saved.approved_at) == (PIRState.DRAFT, None, None)
    assert saved.changes.first().what == "Reopened: Missed a factor."
    assert services.can_edit(ic, saved)
    with pytest.raises(services.PIRError, match="already a draft"):
        services.reopen(saved, reason="Again.", by=manager)


# --- Action items --------------------------------------------------------------------------

def test_an_action_item_due_before_the_incident_is_refused(pir, ic, responder):
    before = pir.incident.started_at.date() - timedelta(days=1)
    version = fresh(pir).version

    with pytest.raises(ValidationError) as refused:
        services.add_action_item(pir, action="Too late", owner=responder, due_date=before, by=ic)

    assert "due_date" in refused.value.message_dict
    assert not ActionItem.objects.exists()
    assert fresh(pir).version == version


def test_an_action_item_needs_an_active_owner(pir, ic, responder):
    with pytest.raises(ValidationError) as refused:
        services.add_action_item(pir, action="Nobody's", owner=None,
                                 due_date=date.today(), by=ic)
    assert "owner" in refused.value.message_dict

    responder.is_active = False
    responder.save()
    with pytest.raises(ValidationError):
        add_item(pir, ic, responder)
    assert not ActionItem.objects.exists()


def test_action_items_are_added_changed_and_removed_with_an_audit(pir, ic, responder, manager):
    item = add_item(pir, ic, responder, priority="P0", link="https://tickets.example/42")
    services.update_action_item(item, by=ic, owner=manager, status=ActionStatus.IN_PROGRESS)
    item.refresh_from_db()
    assert (item.owner, item.status, item.priority) == (manager, ActionStatus.IN_PROGRESS, "P0")

    services.delete_action_item(item, by=ic)

    assert not ActionItem.objects.exists()
    trail = list(pir.changes.values_list("what", flat=True))
    assert trail[0].startswith("Removed action item")
    assert trail[1].startswith("Updated action item") and "owner, status" in trail[1]
    assert trail[2].startswith("Added action item P0")


def test_only_the_owner_or_the_incidents_people_change_an_items_status(pir, ic, responder,
                                                                        viewer):
    item = add_item(pir, ic, responder)

    with pytest.raises(PermissionDenied):
        services.update_action_item(item, by=viewer, status=ActionStatus.DONE)
    services.update_action_item(item, by=responder, status=ActionStatus.DONE)
    assert ActionItem.objects.get(pk=item.pk).status == ActionStatus.DONE


# --- Reminders in the audit trail ----------------------------------------------------------

def test_a_manual_reminder_is_recorded_without_bumping_the_version(pir, ic, manager):
    version = fresh(pir).version

    services.record_reminder(pir, by=manager, to=ic)

    assert fresh(pir).version == version
    change = pir.changes.first()
    assert (change.by, change.what) == (manager, "Reminder sent to Ic.")
    with pytest.raises(PermissionDenied):
        services.record_reminder(pir, by=ic, to=ic)


def test_an_item_whose_owner_left_can_still_be_closed(pir, ic, manager, responder):
    item = add_item(pir, ic, responder)
    in_review(pir, ic)
    services.approve(pir, by=manager)
    responder.is_active = False
    responder.save()

    services.update_action_item(item, by=manager, status=ActionStatus.DONE)

    assert ActionItem.objects.get(pk=item.pk).status == ActionStatus.DONE


def test_a_viewer_with_a_stale_version_is_told_no_not_about_the_edit(pir, ic, viewer):
    services.update_section(pir, section="lessons", data={"went_well": "Fast rollback."},
                            expected_version=pir.version, by=ic)

    with pytest.raises(PermissionDenied):
        services.set_whys(pir, answers=["x"], expected_version=1, by=viewer)


def test_saving_whys_unchanged_writes_no_audit_and_keeps_the_version(pir, ic):
    pir = services.set_whys(pir, answers=["A", "B"], expected_version=pir.version, by=ic)
    version, changes = pir.version, pir.changes.count()

    pir = services.set_whys(pir, answers=["A", "B"], expected_version=version, by=ic)

    assert (fresh(pir).version, pir.changes.count()) == (version, changes)


def test_an_unknown_contributing_factor_is_a_clear_refusal(pir, ic):
    with pytest.raises(services.PIRError, match="Unknown contributing factor"):
        services.set_factors(pir, factors={"gremlins": (True, "")},
                             expected_version=pir.version, by=ic)
