"""Issue 17 item 3 in a real browser: the public status page shows only what was
published. An IC's unpublished SEV-1 changes nothing there; the status update the IC
publishes sets its components' state (chosen on the compose form); once resolved the
incident is listed as Resolved under its public title and the banner agrees."""

import importlib
import re

import pytest
from django.apps import apps
from playwright.sync_api import expect

from incidents import services
from incidents.models import Severity
from tests.incidents.factories import ServiceFactory, declare

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


def public_page(browser, live_server):
    """The status page as a member of the public sees it: a fresh browser, no login,
    no cached copy (the page may be cached for 30 seconds)."""
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.goto("/status/")
    return page


def component(page, name):
    return page.locator(".component", has=page.locator(".name", has_text=name))


def test_only_what_the_ic_publishes_reaches_the_public_status_page(page, browser,
                                                                     live_server, ic):
    importlib.import_module("incidents.migrations.0006_comms_seed").seed(apps, None)
    checkout = ServiceFactory(name="Checkout API")
    ServiceFactory(name="Internal Tools")
    incident = declare(ic, title="Checkout pods crash-looping", severity=Severity.SEV1,
                       services=[checkout])
    declare(ic, title="Internal wiki down", severity=Severity.SEV2,
            services=[ServiceFactory(name="Wiki")])

    # 1. Nothing published yet: the public sees nothing wrong, and nothing internal.
    public = public_page(browser, live_server)
    expect(public.locator(".overall")).to_have_text("All systems operational")
    expect(public.locator(".components")).not_to_contain_text("outage")
    expect(public.locator(".incidents").first).to_contain_text("No active incidents")
    expect(public.locator("body")).not_to_contain_text("crash-looping")
    public.context.close()

    # 2. The IC publishes "Investigating", choosing what the component shows.
    log_in(page, "ic")
    page.goto(incident.get_absolute_url())
    comms = page.locator("#incident-comms")
    comms.get_by_role("link", name="Investigating").click()
    states = page.locator("#id_comms_component_state")
    expect(states).to_have_value("major_outage")  # SEV-1's default
    states.select_option(label="Degraded performance")
    page.fill("#id_comms_body", "Some card payments fail; we are investigating.")
    comms.get_by_role("button", name="Send").click()
    expect(comms).to_contain_text("Status page update sent.")

    public = public_page(browser, live_server)
    expect(public.locator(".overall")).to_have_text("Degraded performance")
    expect(component(public, "Checkout API")).to_contain_text("Degraded performance")
    expect(component(public, "Internal Tools")).to_contain_text("Operational")
    expect(component(public, "Wiki")).to_contain_text("Operational")
    active = public.locator(".incidents").first
    expect(active).to_contain_text("Investigating issues with Checkout API")
    expect(active).to_contain_text("Some card payments fail")
    public.context.close()

    # 3. A "monitoring" update, then the incident is resolved without a resolved update.
    comms.get_by_role("link", name="Monitoring").click()
    page.fill("#id_comms_body", "A fix is out; we are watching.")
    comms.get_by_role("button", name="Send").click()
    expect(comms).to_contain_text("Status page update sent.")
    for item in incident.checklist.filter(phase="closure"):
        services.set_checklist_item(item, done=True, by=ic)
    services.resolve_incident(incident, resolution="Rolled back.", by=ic)

    public = public_page(browser, live_server)
    expect(public.locator(".overall")).to_have_text("All systems operational")
    expect(component(public, "Checkout API")).to_contain_text("Operational")
    expect(public.locator(".incidents").first).to_contain_text("No active incidents")
    past = public.locator(".past .incident")
    expect(past.locator("h3")).to_have_text(re.compile(
        r"^\s*Investigating issues with Checkout API\s+Resolved\s*$"))
    expect(past).to_contain_text("A fix is out")
    public.context.close()
