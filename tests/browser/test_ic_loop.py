"""Issue 17: the IC's loop, walked end to end in a real browser (items 1, 2, 7 and 9).

Each test here failed on the code before the fix it names.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from incidents import checklists, services
from incidents.models import CommsKind, CommsUpdate, Incident, Severity, Status, Subscriber
from oncall import paging
from oncall.models import (
    ContactMethod,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    Page,
    PageStatus,
)
from reports import activity
from reports.metrics.queries import annotate_verdicts
from tests.incidents.factories import ServiceFactory

from .test_ic_comms_flow import seed_templates_and_runbooks
from .test_ic_flow import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def two_level_policy(first, second):
    """The default policy: level 1 `first` (5 minutes), level 2 `second` (10 minutes)."""
    for user in (first, second):
        ContactMethod.objects.create(user=user, kind="email",
                                     target=f"{user.username}@example.com")
    policy = EscalationPolicy.objects.create(name="Production Incidents", is_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5) \
        .users.set([first])
    EscalationLevel.objects.create(policy=policy, position=2, timeout_minutes=10) \
        .users.set([second])
    return policy


def page_of(incident):
    return Page.objects.get(source=f"incident:{incident.pk}")


def declare_paged(by, **kwargs):
    """A SEV-2 whose page has notified level 1 (the engine's first step, run here)."""
    incident = services.declare_incident(title="Checkout latency 12x normal",
                                         severity=Severity.SEV2, by=by, **kwargs)
    paging.run_page(page_of(incident).pk)
    return incident


# --- item 1: acknowledging the incident stops paging --------------------------------------

def test_acknowledging_the_incident_acknowledges_its_page_and_stops_escalation(
        page, ic, responder):
    two_level_policy(ic, responder)
    incident = declare_paged(ic)
    log_in(page, "ic")
    page.goto(incident.get_absolute_url())
    paging_card = page.locator("#incident-paging")
    expect(paging_card).to_contain_text("Triggered")
    page.evaluate("window.__noNavigation = true")

    page.get_by_role("button", name="Acknowledge & investigate").click()

    expect(page.locator("#incident-header .badges")).to_contain_text("Investigating")
    expect(paging_card).to_contain_text("Acknowledged")
    expect(paging_card).to_contain_text("acknowledged by Ic")
    expect(paging_card.get_by_role("button", name="Acknowledge")).to_have_count(0)
    assert page.evaluate("window.__noNavigation") is True
    incident.refresh_from_db()
    pg = page_of(incident)
    assert pg.status == PageStatus.ACKNOWLEDGED
    assert pg.acknowledged_at == incident.acknowledged_at

    # Past level 1's timeout the engine's step finds nothing due: level 2 never hears.
    with time_machine.travel(timezone.now() + timedelta(minutes=16), tick=False):
        paging.run_due_pages()
        for notification_id, _, _ in paging.due_notifications(timezone.now()):
            paging.deliver(notification_id)  # what the paging engine's send threads do
    assert not Notification.objects.filter(user=responder).exists()

    # The handoff and the metrics count to the same acknowledgement: the handoff from
    # the page (raised at declaration), the metrics from detection (that same moment).
    handoff_seconds = activity.page_row(pg)["ack_seconds"]
    tta = annotate_verdicts(Incident.objects.filter(pk=incident.pk), timezone.now()).get().tta
    assert incident.detected_at + tta == pg.acknowledged_at
    assert handoff_seconds == int((pg.acknowledged_at - pg.created_at).total_seconds())
    assert abs(tta.total_seconds() - handoff_seconds) <= (
        (pg.created_at - incident.detected_at).total_seconds() + 1)
    assert activity.page_row(pg)["within_target"] is True


def test_paged_responder_acknowledges_in_place_and_can_write_at_once(page, ic, responder):
    """Items 1 and 7: the paging card's Acknowledge acknowledges the incident and joins
    the responder, whose timeline form appears without a reload."""
    two_level_policy(responder, ic)
    incident = declare_paged(ic)
    log_in(page, "responder")
    page.goto(incident.get_absolute_url())
    expect(page.locator("#timeline-form")).to_contain_text("join the response")
    page.evaluate("window.__noNavigation = true")

    page.locator("#incident-paging").get_by_role("button", name="Acknowledge").click()

    expect(page.locator("#incident-paging")).to_contain_text("acknowledged by Responder")
    expect(page.locator("#incident-roles")).to_contain_text("Responder")
    page.fill("#id_body", "Looking at the checkout pods")
    page.get_by_role("button", name="Add entry").click()
    expect(page.locator("#incident-timeline")).to_contain_text("Looking at the checkout pods")
    expect(page.locator("#incident-checklist")).to_contain_text(
        "Ticked by the system because Responder acknowledged its page")
    assert page.evaluate("window.__noNavigation") is True
    incident.refresh_from_db()
    assert incident.acknowledged_at == page_of(incident).acknowledged_at
    assert incident.responders.filter(pk=responder.pk).exists()


# --- item 7: a paged responder can write to the timeline ----------------------------------

def test_one_click_acknowledgement_lets_the_responder_write_to_the_timeline(
        page, ic, responder):
    two_level_policy(responder, ic)
    incident = declare_paged(ic)
    link = paging.ack_url(page_of(incident), responder)
    log_in(page, "responder")
    page.goto(re.sub(r"^https?://[^/]+", "", link))
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("Escalation stopped")

    page.goto(incident.get_absolute_url())
    expect(page.locator("#incident-header")).not_to_contain_text("Acknowledged —")
    page.fill("#id_body", "On it from the one-click link")
    page.get_by_role("button", name="Add entry").click()
    expect(page.locator("#incident-timeline")).to_contain_text("On it from the one-click link")
    expect(page.locator("#incident-timeline")).to_contain_text(
        "Responder joined the response (acknowledged the page)")


def test_join_the_response_shows_the_timeline_form_in_place(page, ic, responder):
    incident = services.declare_incident(title="Search timeouts", severity=Severity.SEV3,
                                         by=ic)
    log_in(page, "responder")
    page.goto(incident.get_absolute_url())
    expect(page.locator("#id_body")).to_have_count(0)
    page.evaluate("window.__noNavigation = true")

    page.get_by_role("button", name="Join the response").click()

    expect(page.locator("#id_body")).to_be_visible()
    page.fill("#id_body", "Joined and reading the search logs")
    page.get_by_role("button", name="Add entry").click()
    expect(page.locator("#incident-timeline")).to_contain_text(
        "Joined and reading the search logs")
    # The checklists became editable too.
    expect(page.locator("#incident-checklist input[type=checkbox]").first).to_be_enabled()
    assert page.evaluate("window.__noNavigation") is True


# --- item 2: resolution messages are never silently dropped -------------------------------

def test_refused_resolve_keeps_every_choice_and_the_resolve_fulfils_its_items(page, ic):
    seed_templates_and_runbooks()
    service = ServiceFactory(name="Checkout API")
    Subscriber.objects.create(service=service, email="cto@customer.example", confirmed=True)
    incident = services.declare_incident(title="Checkout errors", severity=Severity.SEV2,
                                         by=ic, services=[service])
    log_in(page, "ic")
    page.goto(incident.get_absolute_url())
    page.evaluate("window.__noNavigation = true")

    page.locator("#incident-header summary", has_text="Resolve").click()
    expect(page.locator("#id_status_page_body")).to_contain_text("[[root cause: fill in]]")
    page.fill("#id_resolution", "Rolled back deploy 42.")
    page.check("#id_status_page_send")
    page.fill("#id_status_page_body", "Checkout API is working normally again.")
    page.check("#id_customer_email_send")
    page.fill("#id_customer_email_body", "Dear customer, payments work again.")
    page.get_by_role("button", name="Resolve incident").click()

    # Refused for the items nobody settled, not for those this resolve sends.
    errors = page.locator("#incident-header .errors")
    expect(errors).to_contain_text("Update incident ticket with resolution")
    expect(errors).not_to_contain_text("Update status page")
    expect(errors).not_to_contain_text("Send final customer communication")
    expect(page.locator("#id_status_page_send")).to_be_checked()
    expect(page.locator("#id_customer_email_send")).to_be_checked()
    expect(page.locator("#id_status_page_body")).to_have_value(
        "Checkout API is working normally again.")
    expect(page.locator("#id_customer_email_body")).to_have_value(
        "Dear customer, payments work again.")
    expect(page.locator("#id_resolution")).to_have_value("Rolled back deploy 42.")
    assert not CommsUpdate.objects.exists()

    checklist = page.locator("#incident-checklist")
    for text in ("Update incident ticket with resolution", "Schedule post-incident review"):
        checklist.get_by_role("checkbox", name=text).check()
        expect(checklist.get_by_role("checkbox", name=text)).to_be_checked()
    page.get_by_role("button", name="Resolve incident").click()

    expect(page.locator("#incident-header .badges")).to_contain_text("Resolved")
    assert page.evaluate("window.__noNavigation") is True
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert set(CommsUpdate.objects.values_list("channel", flat=True)) == {
        CommsKind.STATUS_PAGE, CommsKind.CUSTOMER_EMAIL}
    page.reload()
    for text, because in ((checklists.UPDATE_STATUS_PAGE,
                           "Ic published the resolved status-page update"),
                          (checklists.SEND_FINAL_COMMUNICATION,
                           "Ic sent the resolution customer email update with the resolve")):
        item = checklist.locator("li", has_text=text)
        expect(item.get_by_role("checkbox")).to_be_checked()
        expect(item).to_contain_text(f"Ticked by the system because {because}")


# --- item 9: the system ticks what it observed -------------------------------------------

def test_system_ticks_what_it_observed_and_the_ic_can_untick(page, ic, responder, manager):
    seed_templates_and_runbooks()
    incident = services.declare_incident(
        title="Checkout latency", severity=Severity.SEV2, by=ic,
        services=[ServiceFactory(name="Checkout API")],
        classification={"security_breach": "no", "service_unavailable": "no",
                        "majority_affected": "yes"},
        classified_severity=Severity.SEV2)
    log_in(page, "ic")
    page.goto(incident.get_absolute_url())
    checklist = page.locator("#incident-checklist")
    expect(checklist.locator("li", has_text=checklists.CLASSIFY_SEVERITY)).to_contain_text(
        "Ticked by the system because the decision tree classified it as SEV-2")
    expect(checklist.locator("li", has_text=checklists.CREATE_CHANNEL)).to_contain_text(
        f"Ticked by the system because the channel {incident.channel_name} was created")
    page.evaluate("window.__noNavigation = true")

    roles = page.locator("#incident-roles")
    roles.get_by_label("Technical Lead").select_option(label="Responder")
    roles.locator("form", has=page.get_by_label("Technical Lead")) \
        .get_by_role("button", name="Assign").click()
    expect(page.locator("#incident-timeline")).to_contain_text(
        "Responder is now Technical Lead")
    roles.get_by_label("Communications Lead").select_option(label="Manager")
    roles.locator("form", has=page.get_by_label("Communications Lead")) \
        .get_by_role("button", name="Assign").click()
    roles_item = checklist.locator("li", has_text="Assign roles")
    expect(roles_item).to_contain_text("Ticked by the system because all three roles")
    expect(roles_item.get_by_role("checkbox")).to_be_checked()

    comms = page.locator("#incident-comms")
    comms.get_by_role("link", name="Investigating").click()
    page.fill("#id_comms_body", "We are investigating slow checkouts.")
    comms.get_by_role("button", name="Send").click()
    expect(comms).to_contain_text("Status page update sent.")
    expect(checklist.locator("li", has_text=checklists.POST_INITIAL_UPDATE)).to_contain_text(
        "Ticked by the system because Ic sent the first status page update")

    # The IC disagrees with one: unticking it sticks.
    roles_item.get_by_role("checkbox").uncheck()
    expect(roles_item.get_by_role("checkbox")).not_to_be_checked()
    expect(roles_item).not_to_contain_text("Ticked by the system")
    assert page.evaluate("window.__noNavigation") is True
    assert not incident.checklist.get(text=checklists.ASSIGN_ROLES).is_done
