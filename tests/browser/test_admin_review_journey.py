"""A manager works a post-incident review in the Django admin, in a real browser
(issue 17): the workflow buttons save what was typed first (item 4); every time the
admin shows is in the manager's zone and names it, as the app does (item 8)."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from incidents.models import Incident, TimelineEntry
from oncall.models import Profile
from reports.models import PIRState, PostIncidentReview
from tests.reports.factories import resolved_pir

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def log_in(page, username):
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name=re.compile("Active incidents"))).to_be_visible()


def test_send_for_review_keeps_what_the_manager_just_typed(page, manager, ic):
    pir = resolved_pir(ic)
    assert pir.what_happened and not pir.why_it_happened
    log_in(page, "manager")
    page.goto(f"/admin/reports/postincidentreview/{pir.pk}/change/")
    expect(page.locator("#pir-workflow h2")).to_contain_text("Draft")

    page.fill("#id_why_it_happened", "A config flag shipped on by default.")
    page.select_option("#id_root_cause_category", label="Configuration")
    page.get_by_role("button", name="Send for review").click()

    expect(page.locator(".messagelist")).to_contain_text(
        f"The review of {pir.incident.ref} was saved and sent for review.")
    expect(page.locator("#pir-workflow h2")).to_contain_text("In review")
    expect(page.locator("#id_why_it_happened")).to_have_value(
        "A config flag shipped on by default.")
    pir = PostIncidentReview.objects.get(pk=pir.pk)
    assert pir.state == PIRState.IN_REVIEW
    assert (pir.why_it_happened, pir.root_cause_category) == (
        "A config flag shipped on by default.", "configuration")


def test_a_berlin_manager_sees_one_time_for_one_fact_in_admin_and_app(page, manager, ic):
    Profile.objects.update_or_create(user=manager, defaults={"timezone": "Europe/Berlin"})
    pir = resolved_pir(ic)
    PostIncidentReview.objects.filter(pk=pir.pk).update(
        due_at=datetime(2026, 12, 11, 1, 50, tzinfo=UTC))
    detected = datetime(2026, 12, 10, 1, 47, tzinfo=UTC)
    Incident.objects.filter(pk=pir.incident_id).update(detected_at=detected, declared_at=detected)
    TimelineEntry.objects.filter(incident=pir.incident_id).update(occurred_at=detected)
    log_in(page, "manager")

    page.goto(f"/admin/reports/postincidentreview/{pir.pk}/change/")
    expect(page.locator(".field-due_shown .readonly")).to_have_text("2026-12-11 02:50 CET")
    milestones = page.locator(".field-milestones")
    expect(milestones).not_to_contain_text("(UTC)")
    expect(milestones.locator("tr", has_text="Declared")).to_contain_text(
        "2026-12-10 02:47 CET")
    expect(page.locator("#id_key_entries label").first).to_contain_text(
        "2026-12-10 02:47 CET")
    expect(page.locator(".field-created_shown .readonly")).to_contain_text("CET")

    page.goto(f"/reports/pir/{pir.incident.ref}/")
    expect(page.locator("dd", has_text="2026-12-11")).to_contain_text("2026-12-11 02:50 CET")
