"""Issue 18, item 1: the incident page and the dashboard update live, within 3 s of a
change by anyone, without a reload and without disturbing what someone is typing.

Two browser contexts are two people: a responder (A) watching with a half-typed
timeline entry, and the Incident Commander (B) acting in the other browser, or the
paging engine's sends, run here as the engine runs them.
"""

import importlib
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from incidents import services
from incidents.models import ChecklistPhase, Severity
from oncall import paging
from oncall.models import Page
from oncall.roles import Role
from tests.conftest import make_user

from .test_ic_flow import log_in
from .test_ic_loop import two_level_policy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

LIVE = 3_000  # ms: the bar
DRAFT = "Half-typed: the checkout pods restart every"


@pytest.fixture
def other(browser, live_server):
    """A second browser context: another person, another session."""
    context = browser.new_context(base_url=live_server.url,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def send_due_notifications(incident):
    """What the paging engine (its own process) does: run the step, send what is due."""
    page = Page.objects.get(source=f"incident:{incident.pk}")
    paging.run_page(page.pk)
    for notification_id, _, _ in paging.due_notifications(timezone.now()):
        paging.deliver(notification_id)


def assert_draft_kept(page):
    body = page.locator("#id_body")
    expect(body).to_have_value(DRAFT)
    expect(body).to_be_focused()


def test_another_persons_changes_appear_live_while_a_draft_survives(
        page, other, ic, responder, django_user_model):
    two_level_policy(ic, responder)
    make_user(django_user_model, "oncall2", Role.RESPONDER, last_name="Second")
    incident = services.declare_incident(title="Checkout latency 12x normal",
                                         severity=Severity.SEV2, by=ic)
    services.join_incident(incident, by=responder)
    item = incident.checklist.filter(phase=ChecklistPhase.TRIAGE,
                                     done_at__isnull=True).order_by("pk").first()

    # A: the responder, typing a timeline entry, the cursor left in it.
    log_in(page, "responder")
    page.goto(incident.get_absolute_url())
    page.evaluate("window.__noNavigation = true")
    paging_card = page.locator("#incident-paging")
    expect(paging_card).to_contain_text("Nobody notified yet")
    page.locator("#id_body").fill(DRAFT)

    # B: the Incident Commander, on the same incident in another browser.
    log_in(other, "ic")
    other.goto(incident.get_absolute_url())

    # The paging engine sends: A's paging card says so (it used to stay "Nobody
    # notified yet").
    send_due_notifications(incident)
    expect(paging_card.locator(".delivery-sent")).to_be_visible(timeout=LIVE)
    assert_draft_kept(page)

    other.locator("#incident-paging").get_by_role("button", name="Acknowledge").click()
    expect(paging_card).to_contain_text("acknowledged by Ic", timeout=LIVE)
    assert_draft_kept(page)

    # Acknowledged through its page: the header now offers plain "Investigating".
    other.locator("#incident-header").get_by_role("button", name="Investigating").click()
    expect(page.locator("#incident-header .badges")).to_contain_text("Investigating",
                                                                     timeout=LIVE)
    assert_draft_kept(page)

    other.select_option("#id_severity_to", str(Severity.SEV1.value))
    other.get_by_role("button", name="Change severity").click()
    expect(page.locator("#incident-header .badges")).to_contain_text("SEV-1", timeout=LIVE)
    assert_draft_kept(page)

    roles = other.locator("#incident-roles")
    roles.get_by_label("Communications Lead").select_option(label="Oncall2 Second")
    roles.locator("form", has=other.get_by_label("Communications Lead")) \
        .get_by_role("button", name="Assign").click()
    expect(page.locator("#incident-roles")).to_contain_text("Oncall2 Second", timeout=LIVE)
    assert_draft_kept(page)

    other.locator("#incident-checklist label", has_text=item.text).locator("input").check()
    expect(page.locator("#incident-checklist li.done", has_text=item.text)) \
        .to_be_visible(timeout=LIVE)
    assert_draft_kept(page)

    other.fill("#id_body", "Rolled back the 14:02 deploy")
    other.get_by_role("button", name="Add entry").click()
    expect(page.locator("#incident-timeline")).to_contain_text("Rolled back the 14:02 deploy",
                                                               timeout=LIVE)
    assert_draft_kept(page)

    # A goes on typing where the cursor was, and adds the entry: nothing was lost.
    page.keyboard.type(" 40 s.")
    expect(page.locator("#id_body")).to_have_value(DRAFT + " 40 s.")
    page.get_by_role("button", name="Add entry").click()
    expect(page.locator("#incident-timeline")).to_contain_text(DRAFT + " 40 s.")
    assert page.evaluate("window.__noNavigation") is True


def test_an_entry_open_for_editing_stays_as_it_is_while_others_write(page, other, ic):
    incident = services.declare_incident(title="Search slow", severity=Severity.SEV3, by=ic)
    mine = services.add_timeline_entry(incident, body="Search p99 at 4 s", by=ic)
    log_in(page, "ic")
    page.goto(incident.get_absolute_url())
    page.evaluate("window.__noNavigation = true")
    entry = page.locator(f"#entry-{mine.pk}")
    entry.get_by_role("link", name="Edit").click()
    editor = entry.locator("textarea")
    editor.fill("Search p99 at 4.5 s, rising")

    log_in(other, "ic")  # the same person in another tab counts as someone else here
    other.goto(incident.get_absolute_url())
    other.fill("#id_body", "Scaled the search cluster to 12 nodes")
    other.get_by_role("button", name="Add entry").click()

    expect(page.locator("#incident-timeline")).to_contain_text("Scaled the search cluster",
                                                               timeout=LIVE)
    expect(editor).to_have_value("Search p99 at 4.5 s, rising")
    expect(editor).to_be_focused()
    assert page.evaluate("window.__noNavigation") is True


def test_the_dashboard_follows_declarations_and_changes(page, ic, viewer):
    log_in(page, "viewer")
    page.evaluate("window.__noNavigation = true")
    incident = services.declare_incident(title="Payments API returning 502",
                                         severity=Severity.SEV2, by=ic)
    row = page.locator("#dashboard-live").get_by_text("Payments API returning 502").first
    expect(row).to_be_visible(timeout=LIVE)

    services.change_severity(incident, to=Severity.SEV1, by=ic)
    expect(page.locator("#dashboard-live .summary")).to_contain_text(
        re.compile(r"SEV-1 1\b"), timeout=LIVE)
    assert page.evaluate("window.__noNavigation") is True


def test_drafts_in_a_section_that_changes_survive_its_swap(
        page, other, ic, django_user_model):
    """The commander's half-typed severity reason (header) and waiver reason
    (checklists) stay, focus included, while another commander changes both sections."""
    make_user(django_user_model, "ic2", Role.INCIDENT_COMMANDER)
    incident = services.declare_incident(title="Login errors", severity=Severity.SEV2, by=ic)
    item = incident.checklist.filter(phase=ChecklistPhase.TRIAGE,
                                     done_at__isnull=True).order_by("pk").first()
    log_in(page, "ic")
    page.goto(incident.get_absolute_url())
    page.evaluate("window.__noNavigation = true")
    reason = page.get_by_label("Reason for the severity change")
    reason.fill("Only EU customers are affected")
    waiver = page.locator("#incident-checklist input[name=reason]").first
    waiver.fill("done by hand in the console")
    waiver.press("Home")  # the cursor at the start: it must stay there

    log_in(other, "ic2")
    other.goto(incident.get_absolute_url())
    other.get_by_role("button", name="Acknowledge & investigate").click()
    expect(page.locator("#incident-header .badges")).to_contain_text("Investigating",
                                                                     timeout=LIVE)
    expect(reason).to_have_value("Only EU customers are affected")
    expect(waiver).to_be_focused()

    other.locator("#incident-checklist label", has_text=item.text).locator("input").check()
    expect(page.locator("#incident-checklist li.done", has_text=item.text)) \
        .to_be_visible(timeout=LIVE)
    expect(waiver).to_have_value("done by hand in the console")
    expect(waiver).to_be_focused()
    page.keyboard.type("Login fixed; ")
    expect(waiver).to_have_value("Login fixed; done by hand in the console")
    expect(reason).to_have_value("Only EU customers are affected")
    assert page.evaluate("window.__noNavigation") is True


def test_an_update_being_composed_stays_open_while_others_write(page, other, ic):
    """The compose form is opened on demand (not part of the section as rendered for
    everyone): the section waits, untouched, while the rest of the page goes on."""
    importlib.import_module("incidents.migrations.0006_comms_seed").seed(apps, None)
    incident = services.declare_incident(title="Checkout errors", severity=Severity.SEV2,
                                         by=ic)
    log_in(page, "ic")
    page.goto(incident.get_absolute_url())
    page.evaluate("window.__noNavigation = true")
    page.locator("#incident-comms").get_by_role("link",
                                                name="Post update: Investigating").click()
    compose = page.locator("#comms-compose")
    expect(compose).to_be_visible()

    log_in(other, "ic")
    other.goto(incident.get_absolute_url())
    other.fill("#id_body", "Payments provider confirms an outage")
    other.get_by_role("button", name="Add entry").click()

    expect(page.locator("#incident-timeline")).to_contain_text("Payments provider confirms",
                                                               timeout=LIVE)
    # A further poll answers the same change again (the comms section waited, so the
    # version stayed): still nothing closes the form.
    with page.expect_response(lambda r: "/live/" in r.url and r.status == 200):
        pass
    expect(compose).to_be_visible()
    assert page.evaluate("window.__noNavigation") is True


def test_a_refused_entry_keeps_its_text_when_someone_else_writes(page, ic, responder):
    incident = services.declare_incident(title="Search is slow", severity=Severity.SEV3,
                                         by=ic)
    services.join_incident(incident, by=responder)
    log_in(page, "responder")
    page.goto(incident.get_absolute_url())
    # Refused (a time days ahead): the form comes back holding what was typed.
    page.locator("#id_body").fill(DRAFT)
    page.locator("#id_occurred_at").fill(
        (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Add entry").click()
    expect(page.locator("#timeline-form .errors, #timeline-form [role=alert]").first) \
        .to_be_visible()
    page.locator("#id_occurred_at").fill("")  # being corrected, focus elsewhere
    page.locator("#incident-timeline").click()

    services.add_timeline_entry(incident, body="IC: paging the search team", by=ic)

    expect(page.locator("#incident-timeline")).to_contain_text("paging the search team",
                                                               timeout=LIVE)
    expect(page.locator("#id_body")).to_have_value(DRAFT)
