"""The Slack app's side of an incident (issue 20 item 1): declaring opens a channel
(created, topic set, people invited, declaration posted with its buttons and pinned),
changes are posted, resolving archives it; every call a delivery row made in order,
at most once, retried, a 429 after its Retry-After; failures on the incident page.
Slack is the local fake of tests/incidents/slack_fake.py."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import (
    CommsKind,
    Severity,
    SlackAction,
    SlackCall,
    SlackChannel,
    Status,
    TimelineKind,
)
from incidents.slack import sync
from oncall.models import DeliveryStatus, SlackWorkspace
from tests.incidents.helpers import settle_closure
from tests.incidents.slack_fake import BOT_TOKEN, link

pytestmark = pytest.mark.django_db


def declare(by, title="Checkout is down", severity=Severity.SEV2, **kwargs):
    return services.declare_incident(title=title, severity=severity, by=by, **kwargs)


def sync_all(incident):
    """What the sync task does after commit, here and now."""
    return sync.run(SlackChannel.objects.get(incident=incident).pk)


def test_nothing_configured_nothing_is_stored_or_sent(ic, slack_api):
    incident = declare(ic)
    services.change_status(incident, to=Status.INVESTIGATING, by=ic)

    assert not SlackChannel.objects.exists() and not SlackCall.objects.exists()
    assert slack_api.calls == []


def test_declaring_queues_the_channel_after_commit(ic, slack, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        incident = declare(ic)

    channel = SlackChannel.objects.get(incident=incident)
    assert channel.name == incident.channel_name.lstrip("#")
    assert [c.action for c in channel.calls.all()] == [
        SlackAction.CREATE, SlackAction.TOPIC, SlackAction.INVITE, SlackAction.POST,
        SlackAction.PIN]
    assert len(callbacks) >= 1
    assert slack.calls == []  # nothing went out before the commit


def test_the_channel_is_created_topic_set_people_invited_declaration_pinned(
        ic, responder, slack):
    link(ic, "U0IC")
    link(responder, "U0RESP")
    incident = declare(ic, description="Payments fail.")
    services.assign_role(incident, role="technical_lead", user=responder, by=ic)

    assert sync_all(incident) is None

    channel = SlackChannel.objects.get(incident=incident)
    assert channel.channel_id == "C00000001" and channel.archived_at is None
    create, = slack.made("conversations.create")
    assert create.args == {"name": incident.channel_name.lstrip("#"), "is_private": False}
    assert create.token == BOT_TOKEN
    topic = slack.made("conversations.setTopic")[0].args
    assert topic["channel"] == "C00000001"
    assert topic["topic"].startswith("SEV-2 · Declared · IC Ic · " + incident.ref)
    invited = {u for c in slack.made("conversations.invite") for u in c.args["users"].split(",")}
    assert invited == {"U0IC", "U0RESP"}
    declaration = slack.made("chat.postMessage")[0].args
    assert incident.ref in declaration["text"]
    buttons = declaration["blocks"][1]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Acknowledge", "Join", "Open in MindWeave"]
    assert buttons[0]["value"] == incident.ref
    assert buttons[2]["url"].endswith(incident.get_absolute_url())
    pin = slack.made("pins.add")[0].args
    assert pin == {"channel": "C00000001", "timestamp": channel.declaration_ts}
    assert channel.declaration_ts
    # The role change was posted after the declaration, in order.
    posts = [c.args.get("text", "") for c in slack.made("chat.postMessage")]
    assert "*Responder* is now Technical Lead" in posts[1]
    assert set(channel.calls.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert incident.timeline.filter(kind=TimelineKind.COMMS,
                                    body__contains="Slack channel `#inc-").exists()


def test_a_taken_name_gets_a_suffix_and_the_incident_shows_it(ic, slack):
    incident = declare(ic)
    name = incident.channel_name.lstrip("#")
    slack.taken.update({name, f"{name}-2"})

    sync_all(incident)

    names = [c.args["name"] for c in slack.made("conversations.create")]
    assert names == [name, f"{name}-2", f"{name}-3"]
    incident.refresh_from_db()
    assert incident.channel_name == f"#{name}-3"
    assert SlackChannel.objects.get(incident=incident).name == f"{name}-3"
    assert incident.timeline.filter(body__contains="was taken").exists()


def test_status_severity_and_published_updates_are_posted_and_the_topic_follows(ic, slack):
    incident = declare(ic)
    sync_all(incident)
    slack.calls.clear()

    services.change_status(incident, to=Status.INVESTIGATING, by=ic)
    services.change_severity(incident, to=Severity.SEV1, by=ic)
    services.send_update(incident, channel=CommsKind.STATUS_PAGE, subject="Checkout errors",
                         body="We are investigating.", by=ic, state="investigating")
    sync_all(incident)

    texts = [c.args["text"] for c in slack.made("chat.postMessage")]
    assert "Investigating" in texts[0] and "*Investigating*" in texts[0]
    assert "escalated" in texts[1] and "*SEV-1*" in texts[1]
    assert texts[2].startswith("*Status page update published* (Investigating)")
    assert "We are investigating." in texts[2]
    topics = [c.args["topic"] for c in slack.made("conversations.setTopic")]
    assert topics[-1].startswith("SEV-1 · Investigating")


def test_resolving_posts_the_resolution_and_archives_with_its_own_timeline_step(ic, slack):
    incident = declare(ic)
    sync_all(incident)
    settle_closure(incident, ic)

    services.resolve_with_updates(incident, resolution="Rolled back the deploy.", updates=(),
                                  by=ic)
    sync_all(incident)

    assert slack.methods()[-3:] == ["chat.postMessage", "conversations.setTopic",
                                    "conversations.archive"]
    assert "Rolled back the deploy." in slack.made("chat.postMessage")[-1].args["text"]
    channel = SlackChannel.objects.get(incident=incident)
    assert channel.archived_at is not None
    step = incident.timeline.filter(kind=TimelineKind.COMMS).latest("id")
    assert step.body == f"Slack channel `#{channel.name}` archived."
    # An archived channel is told nothing more.
    services.change_status(incident, to=Status.INVESTIGATING, by=ic, note="It came back.")
    assert not channel.calls.filter(status=DeliveryStatus.QUEUED).exists()


def test_a_failed_archive_is_its_own_timeline_step_with_the_error(ic, slack):
    incident = declare(ic)
    sync_all(incident)
    settle_closure(incident, ic)
    slack.fail_next("conversations.archive", error="restricted_action")

    services.resolve_with_updates(incident, resolution="Fixed.", updates=(), by=ic)
    sync_all(incident)

    step = incident.timeline.filter(kind=TimelineKind.COMMS).latest("id")
    assert "**Archiving the Slack channel**" in step.body and "restricted_action" in step.body
    assert SlackChannel.objects.get(incident=incident).archived_at is None


def test_a_429_waits_for_retry_after_then_goes_on_in_order(ic, slack):
    incident = declare(ic)
    slack.fail_next("conversations.setTopic", status=429, error="ratelimited", retry_after=7)

    delay = sync_all(incident)

    assert delay == 7
    topic = SlackCall.objects.get(channel__incident=incident, action=SlackAction.TOPIC)
    assert topic.status == DeliveryStatus.QUEUED and "rate limited" in topic.error
    assert slack.methods() == ["conversations.create", "conversations.setTopic"]
    assert SlackWorkspace.objects.get().last_error.startswith("conversations.setTopic")
    with time_machine.travel(timezone.now() + timedelta(seconds=8), tick=False):
        assert sync_all(incident) is None
    assert slack.methods()[2:] == ["conversations.setTopic", "chat.postMessage", "pins.add"]


def test_a_transient_error_is_retried_with_backoff_and_sent_once(ic, slack):
    incident = declare(ic)
    slack.fail_next("chat.postMessage", status=500, error="fatal_error")

    delay = sync_all(incident)

    assert delay == 10  # the first backoff (oncall/delivery.py)
    with time_machine.travel(timezone.now() + timedelta(seconds=11), tick=False):
        sync_all(incident)
        sync_all(incident)  # a second wake-up sends nothing twice
    assert len(slack.made("chat.postMessage")) == 2  # the failure, then the one that got through
    assert len(slack.made("pins.add")) == 1


def test_a_channel_that_cannot_be_created_fails_its_calls_visibly(client, ic, slack):
    incident = declare(ic)
    slack.fail_next("conversations.create", error="missing_scope")

    sync_all(incident)

    assert slack.methods() == ["conversations.create"]
    statuses = set(SlackCall.objects.filter(channel__incident=incident)
                   .values_list("status", flat=True))
    assert statuses == {DeliveryStatus.FAILED}
    assert incident.timeline.filter(body__contains="**Creating the Slack channel**").exists()
    client.force_login(ic)
    page = client.get(reverse("incidents:comms", args=[incident.ref])).content.decode()
    assert "Create the channel failed after 1 attempt: conversations.create: missing_scope" in page


def test_a_call_stuck_mid_send_is_failed_never_resent(ic, slack):
    incident = declare(ic)
    call = SlackCall.objects.filter(channel__incident=incident).first()
    SlackCall.objects.filter(pk=call.pk).update(status=DeliveryStatus.SENDING,
                                                sending_at=timezone.now())

    with time_machine.travel(timezone.now() + timedelta(minutes=3), tick=False):
        sync.due_channels()

    call.refresh_from_db()
    assert call.status == DeliveryStatus.FAILED and "outcome unknown" in call.error
    assert slack.made("conversations.create") == []


def test_a_call_rate_limited_again_and_again_fails_in_the_end(ic, slack):
    incident = declare(ic)
    slack.fail_next("conversations.create", status=429, error="ratelimited", retry_after=1,
                    times=sync.MAX_RATE_LIMITED)
    moment = timezone.now()

    for n in range(sync.MAX_RATE_LIMITED):
        with time_machine.travel(moment + timedelta(seconds=2 * n), tick=False):
            sync_all(incident)

    create = SlackCall.objects.get(channel__incident=incident, action=SlackAction.CREATE)
    assert create.status == DeliveryStatus.FAILED and create.attempts == sync.MAX_RATE_LIMITED
    assert len(slack.made("conversations.create")) == sync.MAX_RATE_LIMITED


def test_the_incident_page_shows_a_retry_waiting(client, ic, slack):
    incident = declare(ic)
    slack.fail_next("conversations.create", status=429, error="ratelimited", retry_after=30)
    sync_all(incident)
    client.force_login(ic)

    page = client.get(reverse("incidents:comms", args=[incident.ref])).content.decode()

    assert "5 calls to Slack pending" in page
    assert "Create the channel: retrying at" in page and "rate limited by Slack" in page
