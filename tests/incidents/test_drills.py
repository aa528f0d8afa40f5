"""Drills (issue 17 item 6): a test or game-day incident pages real people, so every
notification, Slack post, e-mail subject and list row of one says "[TEST]"."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from incidents import services
from incidents.comms import cadence, delivery
from incidents.models import CommsKind, Exercise, Severity
from oncall import paging
from oncall.channels import SlackChannel, WebhookChannel
from oncall.models import ContactMethod, EscalationLevel, EscalationPolicy, Notice, Page
from tests.incidents.factories import declare
from tests.oncall.conftest import receiver  # noqa: F401 - a real local HTTP peer

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy(ic):
    ContactMethod.objects.create(user=ic, kind="email", target="ic@example.com")
    policy = EscalationPolicy.objects.create(name="Production Incidents", is_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5).users.set([ic])
    return policy


def drill(ic, **kwargs):
    return services.declare_incident(title="Checkout game day", severity=Severity.SEV2, by=ic,
                                     exercise=Exercise.GAME_DAY, **kwargs)


def page_of(incident):
    return Page.objects.get(source=f"incident:{incident.pk}")


def delivered_messages(page):
    paging.run_page(page.pk)
    for notification in page.notifications.all():
        paging.deliver(notification.pk)
    return [paging._message(n) for n in page.notifications.all()]


def test_a_drills_page_email_says_test_in_its_subject_and_body(policy, ic):
    incident = drill(ic)
    page = page_of(incident)

    [message] = delivered_messages(page)

    assert page.is_test
    assert message.is_test
    [email] = mail.outbox
    assert email.subject == f"[TEST] [SEV-2] {incident.ref} Checkout game day"
    assert email.body.startswith("TEST: this is about a drill")
    assert "TEST (a drill): SEV-2" in email.body
    assert "<strong>TEST</strong>" in email.alternatives[0][0]


def test_a_real_incidents_page_says_nothing_of_a_test(policy, ic):
    incident = services.declare_incident(title="Checkout down", severity=Severity.SEV2, by=ic)

    [message] = delivered_messages(page_of(incident))

    assert not message.is_test
    assert mail.outbox[0].subject == f"[SEV-2] {incident.ref} Checkout down"
    assert "TEST" not in mail.outbox[0].body


def test_a_drills_page_says_test_on_slack_and_in_the_webhook(policy, ic, receiver):  # noqa: F811
    [message] = delivered_messages(page_of(drill(ic)))

    SlackChannel().send(receiver.url("/slack"), message)
    WebhookChannel().send(receiver.url("/hook"), message, secret="s3cret")

    slack, hook = (json.loads(r["body"]) for r in receiver.requests)
    assert slack["text"].startswith("[TEST] [SEV-2]")
    assert "[TEST] [SEV-2]" in slack["blocks"][0]["text"]["text"]
    assert "_TEST: this is about a drill" in slack["blocks"][0]["text"]["text"]
    assert hook["subject"].startswith("[TEST] [SEV-2]") and hook["is_test"] is True


def test_a_drills_slack_update_says_test(ic, receiver):  # noqa: F811
    incident = declare(ic, exercise=Exercise.TEST)
    services.set_slack_webhook(incident, url=receiver.url("/hook/T000/X"), by=ic)
    update = services.send_update(incident, channel=CommsKind.SLACK, subject="Status update",
                                  body="Still investigating.", by=ic)

    delivery.deliver_update(update.pk)

    payload = json.loads(receiver.requests[0]["body"])
    assert payload["text"].startswith("[TEST] Status update")
    assert "_TEST: this is about a drill" in payload["blocks"][0]["text"]["text"]


def test_a_drills_overdue_update_reminder_says_test(ic, time_machine):
    ContactMethod.objects.create(user=ic, kind="email", target="ic@example.com")
    incident = declare(ic, severity=Severity.SEV2, exercise=Exercise.TEST)
    time_machine.move_to(timezone.now() + timedelta(minutes=31))

    cadence.remind_overdue()

    notice = Notice.objects.get(key__startswith="comms:")
    assert notice.subject == f"[TEST] [SEV-2] {incident.ref}: update overdue"


def test_dashboard_list_and_pages_rows_carry_a_test_badge(policy, ic, client):
    real = services.declare_incident(title="Real outage", severity=Severity.SEV2, by=ic)
    game_day = drill(ic)
    client.force_login(ic)

    dashboard = client.get("/").content.decode()
    listing = client.get("/incidents/").content.decode()
    pages = client.get("/oncall/pages/").content.decode()
    export = b"".join(client.get("/incidents/?format=csv").streaming_content).decode()

    for text in (dashboard, listing):
        rows = [row for row in text.split("<tr") if real.ref in row or game_day.ref in row]
        assert rows and all(("TEST · Game day" in row) == (game_day.ref in row) for row in rows)
    assert pages.count('class="badge exercise"') == 1
    assert f"[TEST] {game_day.title}" in export and f"[TEST] {real.title}" not in export
