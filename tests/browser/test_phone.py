"""Issue 18 item 2: every page an IC or on-call engineer uses fits a 390x844 phone.

No horizontal scroll, the menu folded behind one button, tables stacked into rows no
wider than the screen, every button and checkbox target at least 44x44 CSS px; and a
page is acknowledged in place from the dashboard and from the page list.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents import services
from incidents.models import Severity
from oncall import paging
from oncall.models import Page, PageStatus
from reports import shifts
from tests.incidents.factories import note

from .test_handoff import ensure_checklist_template, two_person_daily_schedule
from .test_ic_flow import log_in
from .test_ic_loop import declare_paged, page_of, two_level_policy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PHONE = {"width": 390, "height": 844}
TARGET = 44

# Measured in the page: what overflows, which rows are wider than the screen, which
# touch targets are too small. A checkbox's target is its label when it has one.
MEASURE = """() => {
  const visible = el => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden"; };
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " "
    + JSON.stringify((el.innerText || el.value || el.name || "").trim().slice(0, 40));
  const small = [];
  document.querySelectorAll('button, .button, input[type=submit], input[type=checkbox]')
    .forEach(el => {
      const target = el.type === "checkbox" ? (el.closest("label") || el) : el;
      if (!visible(el)) return;
      const r = target.getBoundingClientRect();
      if (r.width < TARGET_PX - 0.5 || r.height < TARGET_PX - 0.5)
        small.push(name(target) + " " + Math.round(r.width) + "x" + Math.round(r.height));
    });
  const wide = [];
  document.querySelectorAll("tr, td, section, main, header, form, pre, dl")
    .forEach(el => { if (visible(el) && el.getBoundingClientRect().right > innerWidth + 0.5)
      wide.push(name(el) + " right=" + Math.round(el.getBoundingClientRect().right)); });
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth,
          small: small, wide: wide.slice(0, 10),
          tables: document.querySelectorAll("main table").length};
}""".replace("TARGET_PX", str(TARGET))


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def assert_fits_phone(page, what, *, logged_in=True):
    page.wait_for_load_state("load")
    m = page.evaluate(MEASURE)
    assert m["innerWidth"] == PHONE["width"], what
    assert m["scrollWidth"] <= m["innerWidth"], f"{what}: {m['scrollWidth']} px wide {m['wide']}"
    assert not m["wide"], f"{what}: wider than the screen: {m['wide']}"
    assert not m["small"], f"{what}: touch targets under {TARGET}x{TARGET}: {m['small']}"
    if logged_in:
        # The menu is folded behind its one button.
        expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
        expect(page.get_by_role("button", name="Menu")).to_be_visible()
    return m


def assert_stacked(page, what):
    """Table rows stack: every visible header row is hidden and cells sit one above
    another, each with its column's label."""
    cells = page.locator("main table.table tbody tr:first-child td[data-label]:visible")
    assert cells.count() >= 2, f"{what}: no labelled table cells"
    boxes = [cells.nth(i).bounding_box() for i in range(cells.count())]
    for above, below in zip(boxes, boxes[1:], strict=False):
        assert below["y"] >= above["y"] + above["height"] - 1, f"{what}: cells side by side"
    expect(page.locator("main table.table thead").first).to_have_css("position", "absolute")


def paged(title, by):
    incident = services.declare_incident(title=title, severity=Severity.SEV2, by=by)
    paging.run_page(page_of(incident).pk)
    return incident


def incident_with_everything(ic, responder):
    """An open SEV-2: paged, roles given, a few timeline entries, its checklist."""
    two_level_policy(responder, ic)
    incident = declare_paged(ic, customer_impact="Checkout slow for EU customers")
    services.join_incident(incident, by=responder)
    services.assign_role(incident, role="technical_lead", user=responder, by=ic)
    note(incident, ic, body="Rolled back **deploy 42**; dashboards: https://grafana.example"
                            ".com/d/checkout-latency?orgId=1&from=now-6h&to=now&var-service="
                            "checkout-api-eu-west-1")
    note(incident, responder, body="Checkout pods restarted, p99 back to 300 ms.")
    return incident


def test_incident_commander_pages_fit_a_phone(phone, ic, responder):
    incident = incident_with_everything(ic, responder)

    phone.goto("/accounts/login/")
    assert_fits_phone(phone, "login", logged_in=False)
    log_in(phone, "ic")
    assert_fits_phone(phone, "dashboard")
    assert_stacked(phone, "dashboard")

    phone.goto("/incidents/")
    assert_fits_phone(phone, "incident list")
    assert_stacked(phone, "incident list")

    phone.goto(incident.get_absolute_url())
    expect(phone.locator("#incident-checklist input[type=checkbox]").first).to_be_visible()
    expect(phone.locator("#incident-timeline")).to_contain_text("deploy 42")
    assert_fits_phone(phone, "incident page")

    phone.goto("/incidents/declare/")
    expect(phone.get_by_text("Is there a security breach?")).to_be_visible()
    assert_fits_phone(phone, "declare wizard")
    phone.get_by_role("button", name="No", exact=True).click()
    expect(phone.get_by_text("Is the service completely unavailable?")).to_be_visible()
    assert_fits_phone(phone, "declare wizard, second question")


def test_on_call_engineer_pages_fit_a_phone(phone, ic, responder):
    ensure_checklist_template()
    schedule = two_person_daily_schedule(ic, responder)
    outgoing, other = ((ic, responder) if shifts.shift_at(schedule, timezone.now())
                       .outgoing_id == ic.pk else (responder, ic))
    two_level_policy(outgoing, other)
    incident = declare_paged(other)
    pg = page_of(incident)

    log_in(phone, outgoing.username)
    assert_fits_phone(phone, "dashboard")

    phone.goto("/oncall/pages/")
    assert_fits_phone(phone, "page list")
    assert_stacked(phone, "page list")

    phone.goto(pg.get_absolute_url())
    assert_fits_phone(phone, "page detail")
    assert_stacked(phone, "page detail")
    phone.locator("#page-status").get_by_role("button", name="Acknowledge").click()
    expect(phone.locator("#page-status")).to_contain_text("Acknowledged: escalation stopped.")
    assert_fits_phone(phone, "page detail, acknowledged")

    phone.goto("/oncall/me/shifts/")
    assert_fits_phone(phone, "my shifts")
    assert_stacked(phone, "my shifts")

    phone.goto("/reports/handoffs/")
    assert_fits_phone(phone, "handoffs")
    assert_stacked(phone, "handoffs")
    phone.get_by_role("link", name="Open your shift's checklist and handoff").click()
    expect(phone).to_have_url(re.compile(r"/reports/handoffs/\d+/$"))
    box = phone.get_by_label("Review recent deployments and changes")
    expect(box).to_be_visible()
    assert_fits_phone(phone, "handoff")
    box.check()
    expect(phone.locator("#handoff-checklist .count")).to_have_text("1/13")
    assert_fits_phone(phone, "handoff, one item ticked")

    # The one-click link from a notification, opened signed out on the phone.
    second = paged("Search timeouts", other)
    phone.context.clear_cookies()
    phone.goto(urlsplit(paging.ack_url(page_of(second), outgoing)).path)
    assert_fits_phone(phone, "one-click acknowledge", logged_in=False)
    phone.get_by_role("button", name="Acknowledge").click()
    expect(phone.locator(".one-click-ack")).to_contain_text("Escalation stopped")
    assert_fits_phone(phone, "one-click acknowledge, done", logged_in=False)


def test_menu_folds_behind_one_button_that_opens_it(phone, ic):
    log_in(phone, "ic")
    button = phone.get_by_role("button", name="Menu")
    nav = phone.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")
    assert phone.get_attribute(".nav-toggle", "aria-controls") == "site-menu"
    box = button.bounding_box()
    assert box["width"] >= TARGET and box["height"] >= TARGET

    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    link = nav.get_by_role("link", name="Pages", exact=True)
    assert link.bounding_box()["height"] >= TARGET
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Escape closes it and leaves focus on the button.
    link.focus()
    phone.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(button).to_be_focused()
    expect(button).to_have_attribute("aria-expanded", "false")

    button.click()
    link.click()
    expect(phone).to_have_url(re.compile(r"/oncall/pages/$"))
    expect(phone.get_by_role("heading", name="Pages", exact=True)).to_be_visible()


def test_without_javascript_the_menu_shows_on_a_phone(browser, live_server, ic):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE,
                                  java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, "ic")
        nav = page.get_by_role("navigation", name="Main")
        expect(nav).to_be_visible()
        expect(page.locator(".nav-toggle")).to_be_hidden()
        box = nav.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        nav.get_by_role("link", name="Pages", exact=True).click()
        expect(page).to_have_url(re.compile(r"/oncall/pages/$"))
    finally:
        context.close()


def test_menu_shows_as_before_on_a_wide_screen(page, ic):
    log_in(page, "ic")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.locator("main table.table thead").first).to_be_visible()


def test_acknowledge_in_place_from_the_dashboard(phone, ic, responder):
    two_level_policy(responder, ic)
    pg = page_of(declare_paged(ic))
    log_in(phone, "responder")
    url = phone.url
    item = phone.locator(f"#my-page-{pg.pk}")
    phone.evaluate("window.__noNavigation = true")

    item.get_by_role("button", name="Acknowledge").click()

    expect(item).to_contain_text("Acknowledged by Responder: escalation stopped.")
    expect(item.get_by_role("button", name="Acknowledge")).to_have_count(0)
    assert phone.url == url
    assert phone.evaluate("window.__noNavigation") is True
    assert Page.objects.get(pk=pg.pk).acknowledged_by == responder
    assert_fits_phone(phone, "dashboard, acknowledged")


def test_acknowledge_in_place_from_the_page_list(phone, ic, responder):
    two_level_policy(responder, ic)
    taken = page_of(paged("Search timeouts", ic))
    pg = page_of(declare_paged(ic))
    log_in(phone, "responder")
    phone.goto("/oncall/pages/")
    phone.evaluate("window.__noNavigation = true")
    row = phone.locator(f"#page-{pg.pk}")

    row.get_by_role("button", name="Acknowledge").click()

    expect(row).to_contain_text("Acknowledged: escalation stopped.")
    expect(row).to_contain_text("by Responder")
    expect(row.get_by_role("button", name="Acknowledge")).to_have_count(0)
    assert Page.objects.get(pk=pg.pk).status == PageStatus.ACKNOWLEDGED

    # Someone else got to the other page first: said in place, no error page.
    paging.acknowledge_page(taken, by=ic)
    other = phone.locator(f"#page-{taken.pk}")
    other.get_by_role("button", name="Acknowledge").click()
    expect(other).to_contain_text("This page is already acknowledged by Ic.")
    expect(phone.locator("#connection-error")).to_be_hidden()
    assert phone.url.endswith("/oncall/pages/")
    assert phone.evaluate("window.__noNavigation") is True
    assert_fits_phone(phone, "page list, acknowledged")
