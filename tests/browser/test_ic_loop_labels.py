"""Issue 17 item 10 in a real browser: labels that said something else. The
communications links are "Post update: …" and look unlike the status buttons; no
"Mitigated" time without such a status; a hand-declared incident's key timeline says
"Declared"; a handoff row names who held a role; acknowledging a handoff 36 hours ahead
says when the shift starts."""

import importlib
import re
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from oncall.models import Schedule, ScheduleMember
from reports import shifts
from reports.services import handoffs
from tests.incidents.factories import declare
from tests.reports.factories import resolved_incident

from .test_ic_flow import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_comms_links_timeline_and_facts_say_what_they_are(page, ic):
    importlib.import_module("incidents.migrations.0006_comms_seed").seed(apps, None)
    incident = declare(ic, title="Checkout errors")
    reviewed = resolved_incident(ic)
    log_in(page, "ic")

    page.goto(incident.get_absolute_url())
    post = page.locator("#incident-comms").get_by_role("link", name="Post update: Investigating")
    expect(post).to_be_visible()
    status = page.locator("#incident-header").get_by_role("button",
                                                          name="Acknowledge & investigate")
    style = "e => getComputedStyle(e).borderStyle + ' ' + getComputedStyle(e).backgroundColor"
    assert post.first.evaluate(style) != status.evaluate(style)
    facts = page.locator("#incident-header dl.facts")
    expect(facts).to_contain_text("Fix in place")
    expect(facts).not_to_contain_text("Mitigated")

    page.goto(f"/reports/pir/{reviewed.ref}/")
    milestones = page.locator("table.milestones")
    expect(milestones).to_contain_text("Declared")
    expect(milestones).not_to_contain_text("Alert triggered")


def test_acknowledging_a_handoff_36_hours_ahead_says_when_the_shift_starts(page, ic, responder):
    change = timezone.now() + timedelta(hours=36)
    schedule = Schedule.objects.create(
        name="Primary On-Call", timezone="UTC", rotation_kind="weekly",
        handoff_day=change.weekday(), handoff_time=change.time().replace(
            minute=0, second=0, microsecond=0),
        starts_on=timezone.localdate() - timedelta(days=21))
    ScheduleMember.objects.create(schedule=schedule, user=ic, position=0)
    ScheduleMember.objects.create(schedule=schedule, user=responder, position=1)
    span = shifts.shift_at(schedule, timezone.now())
    outgoing, incoming = (ic, responder) if span.outgoing_id == ic.pk else (responder, ic)
    incident = declare(outgoing, title="Checkout errors")
    handoff = handoffs.current_handoff(schedule)
    assert handoff.shift_end - timezone.now() > timedelta(hours=34)
    handoffs.hand_off(handoff, summary="Quiet.", unresolved="", by=outgoing,
                      expected_version=handoff.version)
    log_in(page, incoming.username)

    page.goto(handoff.get_absolute_url())
    row = page.locator("tr", has_text=incident.ref).first
    expect(row).not_to_contain_text("their role")
    expect(row).to_contain_text(re.compile(f"{outgoing.first_name} held a role"))
    page.locator("#handoff-state").get_by_role("button", name="Acknowledge handoff").click()

    said = page.locator("#handoff-state [role=status]")
    expect(said).to_contain_text("Your shift starts")
    expect(said).to_contain_text(f"{outgoing.first_name} stays on call until then")
    expect(said).not_to_contain_text("The shift is yours")
