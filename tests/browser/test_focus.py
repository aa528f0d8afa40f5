"""Keyboard focus after every kind of HTMX swap, and ids unique on every page (issue 18).

Focus used to drop to <body> after each wizard answer and checklist tick, and while
an entry was being edited `id_body` existed twice, so the Add form's "Entry" label
focused the edit textarea.
"""

import re

import pytest
from playwright.sync_api import expect

from incidents import services
from incidents.models import ChecklistPhase, Severity
from oncall.models import EscalationLevel, EscalationPolicy, Page
from tests.incidents.factories import declare, note
from tests.reports.factories import resolved_pir

from .test_handoff import ensure_checklist_template, two_person_daily_schedule
from .test_ic_flow import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# What has focus: enough to tell controls apart in an assertion message.
ACTIVE = """() => {
  const el = document.activeElement;
  const entry = el && el.closest('li[id^=entry-]');
  const item = el && el.closest('li[id^=checklist-item-]');
  return el ? {tag: el.tagName, id: el.id, text: (el.textContent || '').trim().slice(0, 40),
               entry: entry ? entry.id : null, item: item ? item.id : null} : null;
}"""

DUPLICATE_IDS = """() => {
  const seen = {};
  document.querySelectorAll('[id]').forEach(el => { seen[el.id] = (seen[el.id] || 0) + 1; });
  return Object.keys(seen).filter(id => seen[id] > 1);
}"""

# A label pointing at an id that is not there (or at the wrong kind of element).
DANGLING_LABELS = """() => [...document.querySelectorAll('label[for]')]
  .filter(l => !document.getElementById(l.htmlFor)).map(l => l.htmlFor)"""


def active(page):
    return page.evaluate(ACTIVE)


def settled(page):
    """Wait until the lazily loaded panels (comms, runbooks, resolve options) are in."""
    page.wait_for_load_state("networkidle")
    expect(page.locator("[hx-trigger=load]")).to_have_count(0)


def assert_ids_unique(page, where):
    settled(page)
    assert page.evaluate(DUPLICATE_IDS) == [], f"duplicate ids on {where}"
    assert page.evaluate(DANGLING_LABELS) == [], f"labels for missing ids on {where}"


def wait_for_focus(page, predicate, what):
    """Focus moves in htmx's settle step, a moment after the new content is visible."""
    for _ in range(50):
        now = active(page)
        if predicate(now):
            return now
        page.wait_for_timeout(100)
    raise AssertionError(f"focus should be on {what}, is on {active(page)}")


def test_wizard_answers_move_focus_to_the_next_question(page, ic):
    log_in(page, "ic")
    page.goto("/incidents/declare/")
    wait_for_focus(page, lambda a: a["text"] == "Yes", "the first question's Yes button")

    page.get_by_role("button", name="No", exact=True).click()
    expect(page.get_by_text("Is the service completely unavailable?")).to_be_visible()
    wait_for_focus(page, lambda a: a["text"] == "Yes", "the second question's Yes button")

    page.keyboard.press("n")
    expect(page.get_by_text("Is more than 50% of functionality affected?")).to_be_visible()
    wait_for_focus(page, lambda a: a["text"] == "Yes", "the third question's Yes button")

    page.keyboard.press("Enter")  # answers Yes: SEV-2, the details form
    expect(page.locator("#wizard .classified")).to_contain_text("SEV-2")
    wait_for_focus(page, lambda a: a["id"] == "id_title", "the title field")

    # A server-side error (another severity without a reason): the invalid field.
    page.fill("#id_title", "Checkout latency")
    page.select_option("#id_severity", str(Severity.SEV1.value))
    page.get_by_role("button", name="Declare incident").click()
    expect(page.locator("#id_override_reason")).to_have_attribute("aria-invalid", "true")
    wait_for_focus(page, lambda a: a["id"] == "id_override_reason", "the invalid field")


def test_incident_page_swaps_keep_focus_where_the_user_works(page, ic, responder):
    incident = declare(ic, title="Search returns nothing", severity=Severity.SEV3)
    entry = note(incident, ic, body="Restarted the search pods.")
    log_in(page, "ic")
    page.goto(incident.get_absolute_url())
    settled(page)

    # Checklist tick from the keyboard: focus stays on the ticked box.
    item = incident.checklist.filter(phase=ChecklistPhase.TRIAGE).first()
    box = page.locator(f"#checklist-item-{item.pk}-done")
    box.focus()
    page.keyboard.press("Space")
    expect(page.locator(f"#checklist-item-{item.pk}")).to_have_class(re.compile("done"))
    wait_for_focus(page, lambda a: a["id"] == f"checklist-item-{item.pk}-done",
                   "the ticked checkbox")

    # Waiving a closure item: focus on that item's checkbox.
    closure = incident.checklist.filter(phase=ChecklistPhase.CLOSURE).first()
    page.fill(f"#checklist-item-{closure.pk}-reason", "Not needed for a drill")
    page.locator(f"#checklist-item-{closure.pk}").get_by_role("button", name="Waive").click()
    expect(page.locator(f"#checklist-item-{closure.pk}")).to_have_class(re.compile("waived"))
    wait_for_focus(page, lambda a: a["item"] == f"checklist-item-{closure.pk}"
                   and a["tag"] == "INPUT", "the waived item's checkbox")

    # Timeline add: back in the new, empty Entry field.
    page.fill("#id_body", "Rebuilt the index")
    page.get_by_role("button", name="Add entry").click()
    expect(page.locator("#incident-timeline")).to_contain_text("Rebuilt the index")
    wait_for_focus(page, lambda a: a["id"] == "id_body", "the Add form's Entry field")
    expect(page.locator("#id_body")).to_have_value("")

    # Edit: the edit textarea; cancel: the entry's Edit button; save: the same.
    shown = page.locator(f"#entry-{entry.pk}")
    shown.get_by_role("link", name="Edit").click()
    wait_for_focus(page, lambda a: a["id"] == f"entry-{entry.pk}-body", "the edit textarea")
    shown.get_by_role("link", name="Cancel").click()
    wait_for_focus(page, lambda a: a["entry"] == f"entry-{entry.pk}" and a["text"] == "Edit",
                   "the entry's Edit button")
    page.keyboard.press("Enter")  # the Edit button, from the keyboard
    wait_for_focus(page, lambda a: a["id"] == f"entry-{entry.pk}-body", "the edit textarea")
    page.keyboard.type(" Index rebuilt.")
    shown.get_by_role("button", name="Save").click()
    expect(shown).to_contain_text("Index rebuilt.")
    wait_for_focus(page, lambda a: a["entry"] == f"entry-{entry.pk}" and a["text"] == "Edit",
                   "the saved entry's Edit button")

    # History: its Close button; closing it: the Edit button again.
    shown.get_by_role("link", name=re.compile("^edited")).click()
    wait_for_focus(page, lambda a: a["text"] == "Close history", "Close history")
    page.keyboard.press("Enter")
    wait_for_focus(page, lambda a: a["entry"] == f"entry-{entry.pk}" and a["text"] == "Edit",
                   "the entry's Edit button")

    # Role assignment: the Assign button just used.
    roles = page.locator("#incident-roles")
    roles.get_by_label("Technical Lead").select_option(label="Responder")
    roles.locator("form", has=page.get_by_label("Technical Lead")) \
        .get_by_role("button", name="Assign").click()
    expect(page.locator("#incident-timeline")).to_contain_text("Technical Lead")
    wait_for_focus(page, lambda a: a["id"] == "role-technical_lead-assign",
                   "the Technical Lead's Assign button")

    # A transition: the header's next "Move to" control, not <body>.
    page.get_by_role("button", name="Acknowledge & investigate").click()
    expect(page.locator("#incident-header .badges")).to_contain_text("Investigating")
    wait_for_focus(page, lambda a: a["tag"] == "BUTTON"
                   and a["text"] == page.locator("#incident-header .controls button").first
                   .text_content().strip(), "the first Move to button")


def test_ids_are_unique_on_every_page_also_while_editing(page, ic, responder):
    ensure_checklist_template()
    policy = EscalationPolicy.objects.create(name="Production Incidents", is_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5).users.set([ic])
    incident = declare(ic, title="Search returns nothing", severity=Severity.SEV2)
    edited = note(incident, ic, body="First look at the search pods.")
    services.edit_timeline_entry(edited, body="First look at the search pods: OOM.",
                                 expected_version=edited.version, by=ic)
    editing = note(incident, ic, body="Restarted the search pods.")
    pir = resolved_pir(ic)
    schedule = two_person_daily_schedule(ic, responder)
    log_in(page, "ic")

    page.goto(incident.get_absolute_url())
    settled(page)
    page.locator(f"#entry-{editing.pk}").get_by_role("link", name="Edit").click()
    expect(page.locator(f"#entry-{editing.pk} textarea")).to_be_visible()
    page.locator(f"#entry-{edited.pk}").get_by_role("link", name=re.compile("^edited")).click()
    expect(page.get_by_role("link", name="Close history")).to_be_visible()
    page.locator("#incident-header summary", has_text="Resolve").click()
    assert_ids_unique(page, "the incident page, an entry edited and one's history open")
    # The Add form's label names the Add form's field, not the edit form's.
    page.locator("#timeline-form label", has_text="Entry").click()
    wait_for_focus(page, lambda a: a["id"] == "id_body" and a["entry"] is None,
                   "the Add form's Entry field")
    expect(page.locator("#timeline-form").get_by_label("Entry")).to_have_count(1)

    page.goto("/")
    assert_ids_unique(page, "the dashboard")
    page.goto("/incidents/")
    assert_ids_unique(page, "the incident list")
    page.goto("/incidents/declare/")
    assert_ids_unique(page, "the declare wizard's first step")
    page.get_by_role("button", name="No", exact=True).click()
    expect(page.get_by_text("Is the service completely unavailable?")).to_be_visible()
    assert_ids_unique(page, "the declare wizard's second step")
    page.get_by_role("button", name="No", exact=True).click()
    expect(page.get_by_text("Is more than 50% of functionality affected?")).to_be_visible()
    page.get_by_role("button", name="Yes", exact=True).click()
    expect(page.locator("#id_title")).to_be_visible()
    assert_ids_unique(page, "the declare wizard's details step")

    page.goto(Page.objects.get(source=f"incident:{incident.pk}").get_absolute_url())
    assert_ids_unique(page, "a page's detail")
    page.goto("/oncall/schedules/")
    assert_ids_unique(page, "the schedules")
    page.goto(f"/oncall/schedules/{schedule.pk}/")
    assert_ids_unique(page, "a schedule")
    page.goto("/reports/handoffs/")
    assert_ids_unique(page, "the handoffs")
    page.get_by_role("link", name="Open your shift's checklist and handoff").click()
    expect(page).to_have_url(re.compile(r"/reports/handoffs/\d+/$"))
    assert_ids_unique(page, "a handoff")
    page.goto(pir.get_absolute_url())
    assert_ids_unique(page, "a post-incident review")
    page.goto("/reports/metrics/")
    assert_ids_unique(page, "the metrics")
    page.goto("/oncall/me/")
    assert_ids_unique(page, "the profile")
    for path, where in [("/incidents/alerts/", "the alerts"),
                        ("/incidents/silences/", "the silences"),
                        ("/incidents/triage/", "the triage"),
                        ("/incidents/report/", "the report form"),
                        ("/oncall/pages/", "the pages")]:
        page.goto(path)
        assert_ids_unique(page, where)


def test_a_live_refresh_keeps_focus_in_the_entry_it_was_in(page, ic):
    """The timeline refetches itself while the user reads it; focus on an entry's Edit
    button (no id of its own) comes back to that entry, not to <body>; focus elsewhere
    is not moved."""
    incident = declare(ic, title="Search returns nothing", severity=Severity.SEV3)
    note(incident, ic, body="First look.")
    entry = note(incident, ic, body="Restarted the search pods.")
    log_in(page, "ic")
    page.goto(incident.get_absolute_url())
    settled(page)

    page.locator(f"#entry-{entry.pk}").get_by_role("link", name="Edit").focus()
    with page.expect_response(re.compile(r"/timeline/$")):
        page.evaluate("htmx.trigger(document.body, 'timeline-changed')")
    wait_for_focus(page, lambda a: a["entry"] == f"entry-{entry.pk}" and a["text"] == "Edit",
                   "the same entry's Edit button")

    page.locator("#id_body").focus()
    page.keyboard.type("Half-typed")
    with page.expect_response(re.compile(r"/timeline/$")):
        page.evaluate("htmx.trigger(document.body, 'timeline-changed')")
    page.wait_for_timeout(300)  # past htmx's settle step
    assert active(page)["id"] == "id_body"
    expect(page.locator("#id_body")).to_have_value("Half-typed")
