"""Issue 18 item 4: every main page passes axe-core with no serious or critical
violation, in a desktop and a phone viewport, logged in as each role.

axe-core (tests/browser/vendor/, test-only) is injected by Playwright. The app's CSP
forbids inline script, so only this test's browser context bypasses it.
"""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from incidents import ingest, services
from incidents.models import CommsKind, CommsTemplate, IntegrationKind, Runbook
from oncall import paging
from reports.models import PostIncidentReview
from reports.services import handoffs
from tests.incidents.factories import ServiceFactory, declare, note
from tests.oncall.factories import ScheduleFactory
from tests.reports.factories import ready_for_review, resolved_pir

from .conftest import FAILURES
from .test_handoff import ensure_checklist_template
from .test_ic_comms_flow import seed_templates_and_runbooks
from .test_ic_loop import page_of, two_level_policy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
BLOCKING = {"serious", "critical"}
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
ROLES = ["ic", "responder", "manager", "viewer"]


def axe_violations(page):
    """axe's serious and critical violations on the page as it stands, one line each."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"])
        for v in result["violations"] if v["impact"] in BLOCKING
    ]


def build_world(users):
    """One of everything the main pages show: an open incident with its page and
    notifications, roles, notes, a checklist, a runbook and a status update; a resolved
    one with its review and an action item; a schedule with this shift's handoff; an
    alert; a problem report."""
    ic, responder, manager = users["ic"], users["responder"], users["manager"]
    seed_templates_and_runbooks()
    ensure_checklist_template()
    two_level_policy(ic, responder)
    service = ServiceFactory(name="Checkout API")
    incident = declare(ic, title="Checkout errors", services=[service])
    paging.run_page(page_of(incident).pk)
    services.attach_runbook(incident, runbook_id=Runbook.objects.get(title="High Error Rate").pk,
                            by=ic)
    for role in ("technical_lead", "communications_lead"):  # the responder sends updates
        services.assign_role(incident, role=role, user=responder, by=ic)
    note(incident, ic, body="Restarted the **checkout** pods.")
    note(incident, responder, body="Error rate back to 2%.")
    services.send_update(
        incident, channel=CommsKind.STATUS_PAGE, by=ic,
        subject="Investigating issues with Checkout API",
        body="We are looking into failed payments.", state="investigating",
        template=CommsTemplate.objects.get(kind=CommsKind.STATUS_PAGE, name="Investigating"))
    pir = ready_for_review(resolved_pir(ic, title="Search timing out"), ic, responder)
    schedule = ScheduleFactory(members=[ic, responder], by=manager,
                               starts_on=timezone.localdate() - timedelta(days=14))
    handoff = handoffs.current_handoff(schedule)
    services.submit_report(what="Exports are empty", who_affected="Finance team",
                           since=timezone.now() - timedelta(hours=1), by=responder)
    _, token = ingest.create_integration(name="Datadog", kind=IntegrationKind.EVENTS)
    body = {"routing_key": token, "event_action": "trigger", "dedup_key": "disk-db-1",
            "payload": {"summary": "Disk 95% full on db-1", "source": "db-1",
                        "severity": "warning"}}
    response = Client().post("/api/v1/events/v2/enqueue", json.dumps(body),
                             content_type="application/json")
    assert response.status_code == 202, response.content
    return {"incident": incident, "pir": PostIncidentReview.objects.get(pk=pir.pk),
            "schedule": schedule, "handoff": handoff, "page": page_of(incident)}


def main_pages(role, world):
    """(name, path) of the main pages `role` can reach."""
    incident, pir = world["incident"], world["pir"]
    pages = [
        ("dashboard", "/"),
        ("incident list", "/incidents/"),
        ("incident page", incident.get_absolute_url()),
        ("PIR", f"/reports/pir/{pir.incident.ref}/"),
        ("alerts", "/incidents/alerts/"),
        ("schedules", "/oncall/schedules/"),
        ("schedule calendar", f"/oncall/schedules/{world['schedule'].pk}/"),
        ("pages", "/oncall/pages/"),
        ("page detail", f"/oncall/pages/{world['page'].pk}/"),
        ("my shifts", "/oncall/me/shifts/"),
        ("profile", "/oncall/me/"),
        ("handoffs", "/reports/handoffs/"),
        ("handoff", f"/reports/handoffs/{world['handoff'].pk}/"),
        ("metrics", "/reports/metrics/"),
        ("status page", "/status/"),
    ]
    if role != "viewer":
        pages += [("triage", "/incidents/triage/"), ("declare", "/incidents/declare/")]
    if role == "manager":
        pages += [("admin", "/admin/"),
                  ("PIR change form", f"/admin/reports/postincidentreview/{pir.pk}/change/")]
    return pages


def settled(page):
    """Wait until the panels HTMX loads after the page (comms, runbooks) are in."""
    page.wait_for_function(
        "!document.querySelector('[hx-trigger=\"load\"], .htmx-request, .htmx-settling')")


def later_states(page, name):
    """(name, action) pairs: what a user opens on this page before axe looks again."""
    if name == "incident page":
        def compose():
            page.locator("#incident-comms").get_by_role(
                "link", name=re.compile("Post update")).first.click()
            expect(page.locator("#id_comms_body")).to_be_visible()

        def edit_entry():
            page.locator("#incident-timeline").get_by_role("link", name="Edit").first.click()
            expect(page.locator("#incident-timeline textarea").first).to_be_visible()

        return [("incident page, composing an update", compose),
                ("incident page, editing a timeline entry", edit_entry)]
    if name == "declare":
        def step_two():
            page.get_by_role("button", name="No").click()
            expect(page.locator("#wizard legend")).to_contain_text("Step 2")

        def details():
            page.get_by_role("button", name="Yes").click()
            expect(page.get_by_role("button", name="Declare incident")).to_be_visible()

        return [("declare, step 2", step_two), ("declare, details", details)]
    return []


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("role", ROLES)
def test_main_pages_have_no_serious_or_critical_axe_violation(
        browser, live_server, ic, responder, manager, viewer, role, viewport):
    world = build_world({"ic": ic, "responder": responder, "manager": manager})
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORTS[viewport],
                                  bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    found = {}
    try:
        page.goto("/accounts/login/")
        found["login"] = axe_violations(page)
        page.fill("#id_username", role)
        page.fill("#id_password", "pw-for-tests-only")
        page.click("button[type=submit]")
        expect(page.get_by_role("heading", name=re.compile("Active incidents"))).to_be_visible()
        for name, path in main_pages(role, world):
            response = page.goto(path)
            assert response.status == 200, f"{name} ({path}) answered {response.status}"
            settled(page)
            found[name] = axe_violations(page)
            if role == "viewer":
                continue
            for state, open_it in later_states(page, name):
                open_it()
                settled(page)
                found[state] = axe_violations(page)
    except Exception:
        FAILURES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(FAILURES / f"axe-{role}-{viewport}.png"), full_page=True)
        raise
    finally:
        context.close()
    problems = {name: lines for name, lines in found.items() if lines}
    assert not problems, "axe-core found serious/critical violations:\n" + "\n".join(
        f"  {name}: {line}" for name, lines in problems.items() for line in lines)
