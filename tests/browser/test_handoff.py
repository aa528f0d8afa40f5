"""A weekly handoff in a real browser: the outgoing on-call ticks the checklist and
hands off; the incoming on-call acknowledges from the dashboard."""

import importlib
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from oncall.models import Schedule, ScheduleMember
from reports import shifts
from reports.models import Handoff, HandoffState, ShiftChecklistTemplate

from .test_ic_flow import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def ensure_checklist_template():
    """The §2.3 items the data migration seeds; an earlier flushing test may have
    removed them (live-server tests do not get them restored)."""
    if ShiftChecklistTemplate.objects.exists():
        return
    seeded = importlib.import_module("reports.migrations.0003_shift_checklist_items")
    ShiftChecklistTemplate.objects.bulk_create(
        ShiftChecklistTemplate(phase=phase, text=text, position=position)
        for phase, texts in seeded.ITEMS.items()
        for position, text in enumerate(texts, start=1))


def two_person_daily_schedule(first, second):
    """"Primary On-Call", daily between `first` and `second`, handing off half a day from
    now: a test never runs across a handoff instant (nor inside the draft's lead time
    before one), whatever the hour."""
    handoff_at = timezone.localtime(timezone.now() + timedelta(hours=12),
                                    ZoneInfo("America/New_York"))
    schedule = Schedule.objects.create(name="Primary On-Call", timezone="America/New_York",
                                       starts_on=timezone.localdate() - timedelta(days=7),
                                       rotation_kind="daily",
                                       handoff_time=handoff_at.time().replace(
                                           minute=0, second=0, microsecond=0))
    ScheduleMember.objects.create(schedule=schedule, user=first, position=0)
    ScheduleMember.objects.create(schedule=schedule, user=second, position=1)
    return schedule


def test_outgoing_hands_off_and_incoming_acknowledges_from_dashboard(page, ic, responder):
    ensure_checklist_template()
    schedule = two_person_daily_schedule(ic, responder)
    # A daily rotation of two: whoever is on now hands off to the other.
    span = shifts.shift_at(schedule, timezone.now())
    outgoing, incoming = ("ic", "responder") if span.outgoing_id == ic.pk else (
        "responder", "ic")

    log_in(page, outgoing)
    page.get_by_role("link", name="Handoffs", exact=True).click()
    page.get_by_role("link", name="Open your shift's checklist and handoff").click()
    expect(page).to_have_url(re.compile(r"/reports/handoffs/\d+/$"))
    page.evaluate("window.__noNavigation = true")
    page.get_by_label("Review recent deployments and changes").check()
    expect(page.locator("#handoff-checklist .count")).to_have_text("1/13")
    assert page.evaluate("window.__noNavigation") is True

    # Handing off without a summary is refused in place; nothing typed is lost.
    page.fill("#id_unresolved", "Disk on db-3 at 85%")
    page.get_by_role("button", name=re.compile("Hand off to")).click()
    expect(page.locator("#handoff-form .errors")).to_contain_text("Write a shift summary")
    expect(page.locator("#id_unresolved")).to_have_value("Disk on db-3 at 85%")
    assert Handoff.objects.get().state == HandoffState.DRAFT

    page.fill("#id_summary", "Quiet shift; one SEV-3 resolved.")
    page.get_by_role("button", name=re.compile("Hand off to")).click()
    expect(page.locator(".messages")).to_contain_text("Handed off")
    assert Handoff.objects.get().state == HandoffState.HANDED_OFF

    page.context.clear_cookies()
    log_in(page, incoming)
    panel = page.locator("#handoff-panel")
    expect(panel).to_contain_text("handed Primary On-Call over to you")
    panel.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".messages")).to_contain_text("You acknowledged")
    handoff = Handoff.objects.get()
    assert handoff.state == HandoffState.ACKNOWLEDGED
    assert handoff.acknowledged_by.username == incoming

    page.get_by_role("link", name="Handoffs", exact=True).click()
    expect(page.locator("#handoff-log")).to_contain_text("Quiet shift; one SEV-3 resolved.")
