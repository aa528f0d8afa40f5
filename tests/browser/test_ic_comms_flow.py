"""The IC's communications flow in a real browser: the lazily loaded sections,
compose from a template, send without navigation, the public page, resolve with the
resolution update (§6.1)."""

import importlib
import re

import pytest
from django.apps import apps
from playwright.sync_api import expect

from incidents import services
from incidents.models import CommsUpdate, Runbook, Status
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


def seed_templates_and_runbooks():
    """A transactional test's flush empties data-migration rows and serialized_rollback
    does not bring them back for live-server tests here: seed them again (idempotent).
    (test_handoff.py has the same exposure: it must run before any transactional test,
    which is why this file's name sorts after it.)"""
    importlib.import_module("incidents.migrations.0006_comms_seed").seed(apps, None)


def test_ic_posts_updates_sees_them_public_and_resolves_with_one(page, ic):
    seed_templates_and_runbooks()
    service = ServiceFactory(name="Checkout API")
    Runbook.objects.get(title="High Error Rate").services.add(service)
    incident = declare(ic, title="Checkout errors", services=[service])
    for item in incident.checklist.filter(phase="closure"):
        services.set_checklist_item(item, done=True, by=ic)
    log_in(page, "ic")
    page.goto(incident.get_absolute_url())
    expect(page.locator("#incident-header h1")).to_contain_text(incident.ref)
    expect(page.locator("#incident-runbooks")).to_contain_text("High Error Rate")
    page.evaluate("window.__noNavigation = true")

    comms = page.locator("#incident-comms")
    comms.get_by_role("link", name="Investigating").click()
    expect(page.locator("#id_comms_subject")).to_have_value(
        "Investigating issues with Checkout API")
    expect(page.locator("#id_comms_body")).to_contain_text("[[summary: fill in]]")
    page.fill("#id_comms_body", "We are investigating failed card payments.")
    comms.get_by_role("button", name="Send").click()
    expect(comms).to_contain_text("Status page update sent.")
    expect(page.locator("#incident-timeline")).to_contain_text(
        "Status page update published")
    assert page.evaluate("window.__noNavigation") is True

    page.locator("#incident-header summary", has_text="Resolve").click()
    expect(page.locator("#id_status_page_body")).to_contain_text("[[root cause: fill in]]")
    page.fill("#id_resolution", "Rolled back deploy 42.")
    page.check("#id_status_page_send")
    page.fill("#id_status_page_body", "The issue affecting Checkout API has been resolved.")
    page.get_by_role("button", name="Resolve incident").click()
    expect(page.locator("#incident-header .badges")).to_contain_text("Resolved")
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert list(CommsUpdate.objects.values_list("state", flat=True)) == [
        "resolved", "investigating"]

    page.goto("/status/")
    expect(page.locator("body")).to_contain_text("Resolved in the last 90 days")
    expect(page.locator(".past")).to_contain_text("has been resolved")
    expect(page.locator(".past")).to_contain_text("failed card payments")
