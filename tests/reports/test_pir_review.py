"""The post-incident review (handbook §3.5): opening it when an incident resolves, its page,
editing its sections (a stale edit is refused and the writer's text kept), who may edit;
through reports.services.pir directly and through the page (HTMX fragments included)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from incidents import services as incident_services
from incidents.models import Severity, Status
from oncall.models import Profile
from oncall.roles import Role
from reports.models import (
    ActionItem,
    FactorCategory,
    PIRChange,
    PIRState,
    PostIncidentReview,
    RootCauseCategory,
)
from reports.services import pir as services
from tests.conftest import make_user
from tests.pages import assert_fragment, html
from tests.reports.factories import resolved_incident
from tests.reports.pir import HX, approve, as_user, field_block, fresh, url

pytestmark = pytest.mark.django_db

FRIDAY = datetime(2026, 3, 6, 15, 30, tzinfo=UTC)


@pytest.fixture
def pir(ic):
    return resolved_incident(ic).pir


# --- Opening the review -------------------------------------------------------------------

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


# --- The page -----------------------------------------------------------------------------

def test_the_review_page_shows_every_section_with_edit_buttons_for_the_ic(pir, ic):
    response = as_user(ic).get(url(pir))

    assert response.status_code == 200
    text = html(response)
    for dom_id in ("pir-header", "pir-summary", "pir-key-entries", "pir-root-cause", "pir-whys",
                   "pir-factors", "pir-impact", "pir-action-items", "pir-lessons",
                   "pir-prevention", "pir-changes"):
        assert f'id="{dom_id}"' in text
    assert f'href="{url(pir, "sections/root_cause/")}?edit=1"' in text
    assert f'href="/reports/pir/{pir.incident.ref}.pdf"' in text
    assert f'href="/reports/incidents/{pir.incident.ref}/report.md"' in text
    assert "Submit for review" in text
    assert "Approve" not in text  # the IC is no Manager
    assert "Review opened; due" in text  # the audit trail


def test_an_incident_without_a_review_answers_404_with_the_reason(ic):
    incident = incident_services.declare_incident(title="Still burning", severity=Severity.SEV3,
                                                  by=ic)

    response = as_user(ic).get(f"/reports/pir/{incident.ref}/")

    assert response.status_code == 404
    assert "opens when the incident is resolved" in html(response)
    assert as_user(ic).get("/reports/pir/INC-1999-0001/").status_code == 404


def test_markdown_is_rendered_and_sanitised_in_read_mode(pir, ic):
    services.update_section(pir, section="lessons", expected_version=pir.version, by=ic,
                            data={"went_well": "**Fast** rollback <script>alert(1)</script>"})

    text = html(as_user(ic).get(url(pir)))

    assert "<strong>Fast</strong> rollback" in text
    assert "<script>alert(1)</script>" not in text


def test_times_are_shown_in_the_viewers_zone(pir, viewer):
    Profile.objects.update_or_create(user=viewer, defaults={"timezone": "Asia/Tokyo"})

    text = html(as_user(viewer).get(url(pir)))

    assert "JST" in text


def test_an_overdue_review_is_highlighted(pir, ic):
    PostIncidentReview.objects.filter(pk=pir.pk).update(due_at=pir.due_at - timedelta(days=30))

    text = html(as_user(ic).get(url(pir)))

    assert "Overdue" in text and 'class="sla-breached"' in text


def test_page_queries_do_not_grow_with_action_items(pir, ic, responder,
                                                     django_assert_max_num_queries):
    for n in range(15):
        services.add_action_item(pir, action=f"Item {n}", owner=responder,
                                 due_date=date.today() + timedelta(days=n), by=ic)
    client = as_user(ic)
    client.get(url(pir))  # warm the session and the template cache

    with django_assert_max_num_queries(25):
        response = client.get(url(pir))
    assert html(response).count('id="action-item-') == 15


# --- Sections, through the services -------------------------------------------------------

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


def test_saving_whys_unchanged_writes_no_audit_and_keeps_the_version(pir, ic):
    pir = services.set_whys(pir, answers=["A", "B"], expected_version=pir.version, by=ic)
    version, changes = pir.version, pir.changes.count()

    pir = services.set_whys(pir, answers=["A", "B"], expected_version=version, by=ic)

    assert (fresh(pir).version, pir.changes.count()) == (version, changes)


def test_an_unknown_contributing_factor_is_a_clear_refusal(pir, ic):
    with pytest.raises(services.PIRError, match="Unknown contributing factor"):
        services.set_factors(pir, factors={"gremlins": (True, "")},
                             expected_version=pir.version, by=ic)


# --- Sections, on the page ----------------------------------------------------------------

def test_edit_gives_the_form_fragment_with_the_current_values(pir, ic):
    response = as_user(ic).get(url(pir, "sections/summary/"), {"edit": "1"}, **HX)

    assert response.status_code == 200
    assert_fragment(response, "pir-summary")
    text = html(response)
    assert "Some customers could not pay.</textarea>" in text
    assert f'name="version" value="{pir.version}"' in text


def test_without_javascript_edit_opens_the_form_in_the_whole_page(pir, ic):
    response = as_user(ic).get(url(pir, "sections/whys/"), {"edit": "1"})

    text = html(response)
    assert text.lstrip().lower().startswith("<!doctype html>")
    assert 'name="why_5"' in text


def test_saving_a_section_answers_with_its_read_fragment_and_the_audit_trail(pir, ic):
    response = as_user(ic).post(url(pir, "sections/root_cause/"), {
        "version": pir.version, "what_happened": "Release *42* broke payments.",
        "why_it_happened": "No canary.", "root_cause_category": "deployment",
    }, **HX)

    assert response.status_code == 200
    assert_fragment(response, "pir-root-cause")
    text = html(response)
    assert "Release <em>42</em> broke payments." in text
    assert 'id="pir-changes" class="card pir-changes" hx-swap-oob="true"' in text
    assert "Changed what happened, why it happened, root cause category." in text
    saved = fresh(pir)
    assert (saved.what_happened, saved.root_cause_category) == \
        ("Release *42* broke payments.", "deployment")


def test_a_plain_post_saves_and_redirects_back(pir, ic):
    response = as_user(ic).post(url(pir, "sections/lessons/"), {
        "version": pir.version, "went_well": "Quick rollback.", "could_improve": "Canaries.",
    })

    assert response.status_code == 302
    assert response["Location"] == url(pir) + "#pir-lessons"
    assert fresh(pir).went_well == "Quick rollback."


def test_whys_factors_key_entries_and_prevention_save_through_their_forms(pir, ic):
    entry = incident_services.add_timeline_entry(pir.incident, body="Rolled back.", by=ic)
    client = as_user(ic)

    client.post(url(pir, "sections/whys/"), {"version": fresh(pir).version,
                                             "why_1": "Payments failed", "why_5": "No canary"})
    client.post(url(pir, "sections/factors/"), {"version": fresh(pir).version,
                                                "code_change": "on",
                                                "code_change_note": "Release 42"})
    client.post(url(pir, "sections/key_entries/"), {"version": fresh(pir).version,
                                                    "entries": [entry.pk]})
    client.post(url(pir, "sections/prevention/"), {
        "version": fresh(pir).version,
        "measures": "[x] Canary for payments\r\n\r\n[ ] Alert on 5xx\r\nRunbook for rollbacks"})

    saved = fresh(pir)
    assert [w.answer for w in saved.whys.all()] == ["Payments failed", "", "", "", "No canary"]
    assert [(f.category, f.note) for f in saved.factors.filter(contributed=True)] == \
        [("code_change", "Release 42")]
    assert list(saved.key_entries.all()) == [entry]
    assert [(m.text, m.done) for m in saved.prevention.all()] == [
        ("Canary for payments", True), ("Alert on 5xx", False), ("Runbook for rollbacks", False)]
    page = html(client.get(url(pir, "sections/prevention/"), {"edit": "1"}, **HX))
    assert "[x] Canary for payments\n[ ] Alert on 5xx" in page


def test_invalid_input_is_400_with_errors_beside_the_fields_and_the_text_kept(pir, ic):
    version = pir.version

    response = as_user(ic).post(url(pir, "sections/impact/"), {
        "version": version, "customers_affected": "1200", "revenue_impact": "-5",
        "sla_downtime_minutes": "lots",
    }, **HX)

    assert response.status_code == 400
    assert_fragment(response, "pir-impact")
    text = html(response)
    revenue = field_block(text, "revenue_impact")
    assert "has-error" in revenue and "greater than or equal to 0" in revenue
    assert "has-error" in field_block(text, "sla_downtime_minutes")
    assert 'value="1200"' in field_block(text, "customers_affected")
    assert fresh(pir).version == version
    assert fresh(pir).customers_affected is None


def test_a_stale_save_is_409_keeping_the_text_and_showing_the_saved_one(pir, ic, manager):
    read_version = pir.version
    as_user(manager).post(url(pir, "sections/summary/"),
                          {"version": read_version, "impact": "Manager: 1,200 customers."}, **HX)

    response = as_user(ic).post(url(pir, "sections/summary/"),
                                {"version": read_version, "impact": "IC: most of Europe."}, **HX)

    assert response.status_code == 409
    assert_fragment(response, "pir-summary")
    text = html(response)
    assert "changed this review while you were editing" in text
    assert "IC: most of Europe.</textarea>" in text
    assert "Manager: 1,200 customers." in text  # what is saved now
    assert f'name="version" value="{read_version + 1}"' in text  # saving again is deliberate
    assert fresh(pir).impact == "Manager: 1,200 customers."

    again = as_user(ic).post(url(pir, "sections/summary/"),
                             {"version": read_version + 1, "impact": "IC: most of Europe."}, **HX)
    assert again.status_code == 200
    assert fresh(pir).impact == "IC: most of Europe."


def test_an_unknown_section_is_404(pir, ic):
    assert as_user(ic).get(url(pir, "sections/title/"), {"edit": "1"}).status_code == 404


# --- Who may edit -------------------------------------------------------------------------

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


def test_a_viewer_with_a_stale_version_is_told_no_not_about_the_edit(pir, ic, viewer):
    services.update_section(pir, section="lessons", data={"went_well": "Fast rollback."},
                            expected_version=pir.version, by=ic)

    with pytest.raises(PermissionDenied):
        services.set_whys(pir, answers=["x"], expected_version=1, by=viewer)


def test_a_viewer_reads_the_review_but_cannot_edit_it(pir, viewer):
    client = as_user(viewer)

    page = html(client.get(url(pir)))
    assert "Some customers could not pay." in page
    assert "?edit=1" not in page and "Add an action item" not in page
    assert "Submit for review" not in page

    opened = client.get(url(pir, "sections/summary/"), {"edit": "1"}, **HX)
    assert opened.status_code == 403
    assert_fragment(opened, "pir-summary")
    assert "Incident Commanders and Managers edit its review" in html(opened)

    saved = client.post(url(pir, "sections/summary/"),
                        {"version": pir.version, "impact": "Viewer text."}, **HX)
    assert saved.status_code == 403
    assert "Incident Commanders and Managers edit its review" in html(saved)
    assert "Viewer text.</textarea>" in html(saved)
    assert fresh(pir).impact == "Some customers could not pay."

    added = client.post(url(pir, "action-items/"), {
        "action": "x", "owner": viewer.pk, "due_date": date.today().isoformat(),
        "priority": "P1", "kind": "corrective"}, **HX)
    assert added.status_code == 403
    assert not ActionItem.objects.exists()


def test_an_approved_review_shows_no_edit_buttons_and_refuses_edits(pir, ic, manager, responder):
    approve(pir, ic, manager, responder)
    client = as_user(manager)

    page = html(client.get(url(pir)))
    assert "?edit=1" not in page
    assert "Add an action item" not in page
    assert ">Edit</a>" not in page and ">Delete</button>" not in page
    assert "Reopen as draft" in page

    opened = client.get(url(pir, "sections/summary/"), {"edit": "1"}, **HX)
    assert opened.status_code == 400
    assert "approved and read-only" in html(opened)
    saved = client.post(url(pir, "sections/summary/"),
                        {"version": fresh(pir).version, "impact": "Late change."}, **HX)
    assert saved.status_code == 400
    assert "approved and read-only" in html(saved)
    assert fresh(pir).impact == "Some customers could not pay."


# --- Reminders in the audit trail ---------------------------------------------------------

def test_a_manual_reminder_is_recorded_without_bumping_the_version(pir, ic, manager):
    version = fresh(pir).version

    services.record_reminder(pir, by=manager, to=ic)

    assert fresh(pir).version == version
    change = pir.changes.first()
    assert (change.by, change.what) == (manager, "Reminder sent to Ic.")
    with pytest.raises(PermissionDenied):
        services.record_reminder(pir, by=ic, to=ic)


def test_the_key_timeline_says_declared_for_a_hand_declared_incident(ic):
    """Issue 17 item 10: "Alert triggered" only when an alert opened the incident."""
    by_hand = resolved_incident(ic).pir
    alert_opened, _ = incident_services.open_incident_for_alert(
        title="Disk full", severity=Severity.SEV3, description="", detection_source="monitoring")

    first_by_hand = by_hand.milestones()[0]
    assert first_by_hand == ("Declared", by_hand.incident.declared_at)
    assert "Alert triggered" not in dict(by_hand.milestones())
    assert PostIncidentReview(incident=alert_opened).milestones()[0] == (
        "Alert triggered", alert_opened.detected_at)
    page = html(as_user(ic).get(url(by_hand)))
    assert "<td>Declared</td>" in page and "Alert triggered" not in page
