"""The Slack app end to end on a real Celery worker (celery.contrib.testing.worker):
what a declare, a button, `/incident note` and a resolve set going reaches the fake
Slack after commit, in order; a 429 is retried after its Retry-After."""

import time

import pytest

from incidents import services
from incidents.models import Severity, SlackChannel, TimelineKind
from incidents.slack.messages import ACK_ACTION
from oncall import paging
from oncall.models import (
    ContactMethod,
    DeliveryStatus,
    EscalationLevel,
    EscalationPolicy,
    Page,
    PageStatus,
)
from tests.incidents.helpers import settle_closure
from tests.incidents.slack_fake import button, interact, link, slash
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def worker():
    from celery.contrib.testing.worker import start_worker

    from mindweave_ir.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield


def channel_of(incident):
    return SlackChannel.objects.filter(incident=incident).first()


def all_sent(incident):
    channel = channel_of(incident)
    return channel is not None and not channel.calls.exclude(status=DeliveryStatus.SENT).exists()


def test_declare_button_note_resolve_on_a_real_worker(client, ic, responder, slack, worker):
    link(ic, "U0IC")
    link(responder, "U0RESP")
    ContactMethod.objects.create(user=responder, kind="email", target="responder@ex.com")
    policy = EscalationPolicy.objects.create(name="Production", is_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5) \
        .users.set([responder])

    incident = services.declare_incident(title="Checkout is down", severity=Severity.SEV2, by=ic)

    assert wait_for(lambda: all_sent(incident)), slack.methods()
    assert slack.methods() == ["conversations.create", "conversations.setTopic",
                               "conversations.invite", "chat.postMessage", "pins.add"]
    assert slack.made("conversations.invite")[0].args["users"] == "U0IC"
    channel_id = channel_of(incident).channel_id

    # The paged responder presses Acknowledge under the pinned declaration.
    page = Page.objects.get(source=f"incident:{incident.pk}")
    paging.run_page(page.pk)  # the paging engine's first step: the responder is notified
    response = interact(client, button(ACK_ACTION, incident.ref, user="U0RESP",
                                       channel=channel_id))
    assert response.status_code == 200
    page.refresh_from_db()
    assert page.status == PageStatus.ACKNOWLEDGED and page.next_step_at is None
    assert wait_for(lambda: any(c.args.get("users") == "U0RESP"
                                for c in slack.made("conversations.invite")))

    # A note from the channel lands on the timeline.
    slash(client, "note Error rate back under 1%", user="U0RESP", channel=channel_id)
    assert incident.timeline.filter(kind=TimelineKind.NOTE, author=responder,
                                    body="Error rate back under 1%").exists()

    # Resolve from the channel: the resolution is posted and the channel archived.
    settle_closure(incident, ic)
    slash(client, "resolve Rolled back the deploy.", channel=channel_id)
    assert wait_for(lambda: slack.made("conversations.archive")), slack.methods()
    assert wait_for(lambda: incident.timeline.filter(
        kind=TimelineKind.COMMS, body__endswith="archived.").exists())
    assert slack.made("conversations.archive")[0].args == {"channel": channel_id}
    assert any("Rolled back the deploy." in c.args.get("text", "")
               for c in slack.made("chat.postMessage"))


def test_a_429_is_retried_by_the_worker_after_retry_after(ic, slack, worker):
    link(ic, "U0IC")
    slack.fail_next("conversations.create", status=429, error="ratelimited", retry_after=1)

    incident = services.declare_incident(title="Search is slow", severity=Severity.SEV3, by=ic)

    assert wait_for(lambda: all_sent(incident), seconds=20), slack.methods()
    first, second = slack.made("conversations.create")
    assert second.at - first.at >= 1.0  # waited for Retry-After, not sooner
    assert slack.methods()[2:] == ["conversations.setTopic", "conversations.invite",
                                   "chat.postMessage", "pins.add"]
    assert time.monotonic() - first.at < 15
