"""The Incident Commander's first minutes, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from incidents import services
from incidents.models import Incident, Severity, Status, TimelineEntry
from tests.incidents.factories import declare, note

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


def test_ic_declares_through_wizard_and_adds_timeline_entry_without_navigation(page, ic):
    log_in(page, "ic")
    page.get_by_role("link", name="Declare incident").first.click()

    # One question at a time: no, no, yes -> SEV-2 (§1.2).
    expect(page.get_by_text("Is there a security breach?")).to_be_visible()
    page.get_by_role("button", name="No", exact=True).click()
    expect(page.get_by_text("Is the service completely unavailable?")).to_be_visible()
    page.get_by_role("button", name="No", exact=True).click()
    expect(page.get_by_text("Is more than 50% of functionality affected?")).to_be_visible()
    page.keyboard.press("y")  # one-key answers
    expect(page.locator("#wizard .classified")).to_contain_text("SEV-2")
    expect(page.locator("#id_severity")).to_have_value(str(Severity.SEV2.value))

    page.fill("#id_title", "Checkout latency 12x normal")
    page.fill("#id_customer_impact", "Checkout slow for EU customers")
    page.get_by_role("button", name="Declare incident").click()

    expect(page).to_have_url(re.compile(r"/incidents/INC-\d{4}-\d{4}/$"))
    incident = Incident.objects.get()
    assert incident.severity == Severity.SEV2
    assert incident.classification == {
        "security_breach": "no", "service_unavailable": "no", "majority_affected": "yes",
    }
    expect(page.locator("#incident-header h1")).to_contain_text(incident.ref)

    # A marker on window survives only if the page is not reloaded.
    page.evaluate("window.__noNavigation = true")
    page.fill("#id_body", "Rolled back **deploy 42**")
    page.get_by_role("button", name="Add entry").click()

    new_entry = page.locator("#incident-timeline .entry", has_text="Rolled back deploy 42")
    expect(new_entry).to_be_visible()
    expect(new_entry.locator("strong")).to_have_text("deploy 42")
    expect(page.locator("#id_body")).to_have_value("")
    assert page.evaluate("window.__noNavigation") is True
    assert TimelineEntry.objects.filter(incident=incident, body__contains="deploy 42").exists()


def test_entry_written_by_someone_else_appears_without_reload(page, ic, responder):
    from incidents import services

    incident = services.declare_incident(title="Search timeouts", severity=Severity.SEV3, by=ic)
    services.join_incident(incident, by=responder)
    log_in(page, "ic")
    page.goto(incident.get_absolute_url())
    page.evaluate("window.__noNavigation = true")

    services.add_timeline_entry(incident, body="Index rebuild started on replica 2",
                                by=responder)

    # The page polls its live version every 2 s (static/js/live.js, issue 18).
    expect(page.locator("#incident-timeline")).to_contain_text(
        "Index rebuild started on replica 2", timeout=3_000)
    assert page.evaluate("window.__noNavigation") is True


def test_ic_assigns_a_role_edits_an_entry_raises_severity_and_resolves(page, ic, responder):
    """The rest of the IC's path (issue 9): everything in place, no page load."""
    incident = declare(ic, title="Search returns nothing", severity=Severity.SEV3)
    entry = note(incident, ic, body="Restarted the search pods.")
    for item in incident.checklist.filter(phase="closure"):
        services.set_checklist_item(item, done=True, by=ic)
    log_in(page, "ic")
    page.goto(incident.get_absolute_url())
    page.evaluate("window.__noNavigation = true")

    roles = page.locator("#incident-roles")
    roles.get_by_label("Technical Lead").select_option(label="Responder")
    roles.locator("form", has=page.get_by_label("Technical Lead")) \
        .get_by_role("button", name="Assign").click()
    expect(page.locator("#incident-timeline")).to_contain_text("Technical Lead")

    shown = page.locator(f"#entry-{entry.pk}")
    shown.get_by_role("link", name="Edit").click()
    shown.locator("textarea[name=body]").fill("Restarted the search pods; **index rebuilt**.")
    shown.get_by_role("button", name="Save").click()
    expect(shown.locator("strong")).to_have_text("index rebuilt")
    expect(shown).to_contain_text("edited")

    page.select_option("#id_severity_to", str(Severity.SEV2.value))
    page.get_by_role("button", name="Change severity").click()
    expect(page.locator("#incident-header .badges")).to_contain_text("SEV-2")

    page.locator("#incident-header summary", has_text="Resolve").click()
    page.fill("#id_resolution", "Rebuilt the search index.")
    page.get_by_role("button", name="Resolve incident").click()
    expect(page.locator("#incident-header .badges")).to_contain_text("Resolved")

    assert page.evaluate("window.__noNavigation") is True
    incident.refresh_from_db()
    entry.refresh_from_db()
    assert incident.technical_lead == responder
    assert incident.severity == Severity.SEV2
    assert incident.status == Status.RESOLVED
    assert entry.body == "Restarted the search pods; **index rebuilt**."
    assert entry.edited_by == ic
