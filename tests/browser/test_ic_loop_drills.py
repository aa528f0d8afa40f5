"""Issue 17 item 6 in a real browser: a game-day incident pages a real person, and
everything they and the IC see says it is a drill: the page e-mail's subject and body,
the one-click acknowledgement page, the dashboard, incident list and pages rows."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from playwright.sync_api import expect

from incidents import services
from incidents.models import Exercise, Severity
from oncall import paging
from oncall.models import ContactMethod, EscalationLevel, EscalationPolicy, Page

from .test_ic_flow import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_game_day_page_and_every_row_say_test(page, ic, responder):
    ContactMethod.objects.create(user=responder, kind="email", target="responder@example.com")
    policy = EscalationPolicy.objects.create(name="Production Incidents", is_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5) \
        .users.set([responder])
    drill = services.declare_incident(title="Checkout failover game day", by=ic,
                                      severity=Severity.SEV2, exercise=Exercise.GAME_DAY)
    real = services.declare_incident(title="Search is slow", severity=Severity.SEV3, by=ic)
    drill_page = Page.objects.get(source=f"incident:{drill.pk}")
    paging.run_page(drill_page.pk)
    for notification in drill_page.notifications.all():
        paging.deliver(notification.pk)

    [email] = [m for m in mail.outbox if drill.ref in m.subject]
    assert email.subject.startswith(f"[TEST] [SEV-2] {drill.ref}")
    assert "not a real outage" in email.body

    log_in(page, "responder")
    ack_path = urlsplit(re.search(r"https?://\S+/oncall/ack/\S+/", email.body).group(0)).path
    page.goto(ack_path)
    expect(page.locator("h1 .badge.exercise")).to_have_text("TEST")

    page.goto("/")
    expect(page.locator("tr", has_text=drill.ref).locator(".badge.exercise").first) \
        .to_contain_text("TEST")
    expect(page.locator("tr", has_text=real.ref).locator(".badge.exercise")).to_have_count(0)
    page.goto("/incidents/")
    expect(page.locator("tr", has_text=drill.ref).locator(".badge.exercise")) \
        .to_have_text("TEST · Game day")
    page.goto("/oncall/pages/")
    expect(page.locator("tr", has_text=drill.ref).locator(".badge.exercise")).to_have_text("TEST")
