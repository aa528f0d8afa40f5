"""What Slack sends us (issue 20 item 1): `/incident`, the buttons, the declare modal and
the "Add to timeline" shortcut at POST /slack/events, signed as Slack signs them; each
acts as the linked person through the web's services and permission checks. A bad
signature, an old timestamp or an unlinked user changes nothing."""

import json
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import time_machine
from django.utils import timezone

from incidents import services
from incidents.models import (
    Incident,
    Severity,
    SlackChannel,
    Status,
    TimelineEntry,
    TimelineKind,
)
from incidents.slack import sync
from incidents.slack.messages import (
    ACK_ACTION,
    ADD_TO_TIMELINE_CALLBACK,
    DECLARE_CALLBACK,
    JOIN_ACTION,
)
from oncall import paging
from oncall.models import ContactMethod, EscalationLevel, EscalationPolicy, Page, PageStatus
from tests.incidents.helpers import settle_closure
from tests.incidents.slack_fake import (
    FORM,
    button,
    interact,
    link,
    post_form,
    signed,
    slash,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(ic, slack):
    """A SEV-2 commanded by `ic` (Slack user U0IC), its channel C00000001 created."""
    link(ic, "U0IC")
    incident = services.declare_incident(title="Checkout is down", severity=Severity.SEV2, by=ic)
    sync.run(SlackChannel.objects.get(incident=incident).pk)
    slack.calls.clear()
    return incident


def ephemeral(response):
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["response_type"] == "ephemeral"
    return body["text"]


def told(slack):
    """What chat.postEphemeral said, in order."""
    return [c.args["text"] for c in slack.made("chat.postEphemeral")]


def counts():
    return (Incident.objects.count(), TimelineEntry.objects.count(),
            Page.objects.filter(status=PageStatus.ACKNOWLEDGED).count())


# --- signatures -------------------------------------------------------------------------

BAD_SIGNATURES = {
    "tampered body": lambda body: {**signed(body + b"x")},
    "wrong secret": lambda body: signed(body, secret="not-the-secret"),
    "six minutes old": lambda body: signed(body, timestamp=int(time.time()) - 6 * 60),
    "no signature": lambda body: {},
    "garbage timestamp": lambda body: {**signed(body), "HTTP_X_SLACK_REQUEST_TIMESTAMP": "soon"},
}
PATHS = {
    "slash command": {"command": "/incident", "text": "note Sneaky", "user_id": "U0IC",
                      "channel_id": "C00000001"},
    "button": {"payload": json.dumps(button(JOIN_ACTION, "INC"))},
    "shortcut": {"payload": json.dumps({
        "type": "message_action", "callback_id": ADD_TO_TIMELINE_CALLBACK,
        "user": {"id": "U0IC"}, "channel": {"id": "C00000001"},
        "message": {"text": "Sneaky", "ts": "1.2"}})},
    "modal": {"payload": json.dumps({"type": "view_submission", "user": {"id": "U0IC"},
                                     "view": {"callback_id": DECLARE_CALLBACK}})},
}


@pytest.mark.parametrize("how", BAD_SIGNATURES)
@pytest.mark.parametrize("path", PATHS)
def test_a_badly_signed_request_is_refused_and_changes_nothing(client, incident, slack, path,
                                                               how):
    before = counts()
    body = urlencode(PATHS[path]).encode()

    response = client.post("/slack/events", data=body, content_type=FORM,
                           **BAD_SIGNATURES[how](body))

    assert response.status_code == 401
    assert response.json() == {"ok": False, "error": "Invalid or expired Slack signature."}
    assert counts() == before
    assert slack.calls == []


def test_without_a_signing_secret_every_request_is_refused(client, ic, settings, slack):
    settings.SLACK_SIGNING_SECRET = ""
    assert slash(client, "help").status_code == 401


def test_the_events_url_check_is_answered_once_signed(client, slack):
    body = json.dumps({"type": "url_verification", "challenge": "abc123"}).encode()

    good = client.post("/slack/events", data=body, content_type="application/json",
                       **signed(body))
    bad = client.post("/slack/events", data=body, content_type="application/json")

    assert good.json() == {"challenge": "abc123"}
    assert bad.status_code == 401


@pytest.mark.parametrize("fields", [
    {"payload": "{not json"}, {"payload": "[1, 2]"}, {"something": "else"},
    {"payload": json.dumps({"type": "block_actions", "user": "U0IC", "actions": "x"})},
])
def test_a_signed_request_that_is_no_slack_payload_is_a_400(client, incident, fields):
    before = counts()
    response = post_form(client, fields)
    assert response.status_code == 400 and "error" in response.json()
    assert counts() == before


def test_get_is_not_allowed(client):
    assert client.get("/slack/events").status_code == 405


# --- who may ----------------------------------------------------------------------------

def test_an_unlinked_slack_user_is_told_to_link_and_nothing_changes(client, incident,
                                                                    responder, slack):
    link(responder, "U0RESP", confirmed=False)  # found, never confirmed: not linked
    before = counts()

    text = ephemeral(slash(client, "note Hello", user="U0RESP"))
    interact(client, button(JOIN_ACTION, incident.ref, user="U0NOBODY"))

    assert "not linked to a MindWeave account" in text and "/oncall/me/" in text
    assert "not linked to a MindWeave account" in told(slack)[0]
    assert counts() == before


def test_a_viewer_is_refused_by_the_same_rule_as_on_the_web(client, incident, viewer):
    link(viewer, "U0VIEW")
    before = counts()

    text = ephemeral(slash(client, "note I was here", user="U0VIEW"))

    assert text.startswith("Not done: Only people working on this incident")
    assert counts() == before


# --- /incident in the channel -----------------------------------------------------------

def test_note_lands_on_the_timeline_as_the_linked_person(client, ic, incident):
    text = ephemeral(slash(client, "note Rolled back *checkout-api* to v41"))

    entry = incident.timeline.get(kind=TimelineKind.NOTE)
    assert entry.body == "Rolled back *checkout-api* to v41" and entry.author == ic
    assert text == f"Added to the timeline of {incident.ref}."


def test_status_sev_and_lead_go_through_the_services(client, ic, responder, incident, slack):
    link(responder, "U0RESP")

    assert ephemeral(slash(client, "status identified")) == f"{incident.ref} is now Identified."
    assert "is now SEV-1" in ephemeral(slash(client, "sev 1"))
    assert "Say why the severity is being lowered" in ephemeral(slash(client, "sev 3"))
    assert "is now SEV-3" in ephemeral(slash(client, "sev 3 Only internal tools"))
    text = ephemeral(slash(client, "lead <@U0RESP|responder>"))

    incident.refresh_from_db()
    assert incident.status == Status.IDENTIFIED and incident.severity == Severity.SEV3
    assert incident.technical_lead == responder
    assert text == f"<@U0RESP> is now Technical Lead of {incident.ref}."
    # What changed is posted to the channel too.
    sync.run(SlackChannel.objects.get(incident=incident).pk)
    posts = " ".join(c.args["text"] for c in slack.made("chat.postMessage"))
    assert "*Identified*" in posts and "*Responder* is now Technical Lead" in posts


def test_lead_naming_someone_unlinked_changes_nothing(client, incident):
    text = ephemeral(slash(client, "lead <@U0GHOST>"))
    assert text == "Not done: <@U0GHOST> has not linked their Slack user to MindWeave."
    incident.refresh_from_db()
    assert incident.technical_lead is None


def test_a_command_outside_an_incident_channel_says_where(client, incident):
    text = ephemeral(slash(client, "note Hello", channel="C0RANDOM"))
    assert "Run this in an incident's channel" in text
    assert not incident.timeline.filter(kind=TimelineKind.NOTE).exists()


def test_bad_command_text_gets_the_usage(client, incident):
    assert "Unknown command `frobnicate`" in ephemeral(slash(client, "frobnicate now"))
    assert "Unknown status `sideways`" in ephemeral(slash(client, "status sideways"))
    assert ephemeral(slash(client, "")).startswith("Usage:")


def test_resolve_needs_the_closure_items_then_archives(client, ic, incident, slack):
    text = ephemeral(slash(client, "resolve Rolled back."))
    assert text.startswith("Not done: Tick or waive (with a reason) every closure item")
    incident.refresh_from_db()
    assert incident.is_open

    settle_closure(incident, ic)
    text = ephemeral(slash(client, "resolve Rolled back the deploy."))

    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED and incident.resolution == "Rolled back the deploy."
    sync.run(SlackChannel.objects.get(incident=incident).pk)
    assert slack.made("conversations.archive")[0].args == {"channel": "C00000001"}
    assert "archived" in text


# --- declare: the modal -----------------------------------------------------------------

def modal_values(title="Payments failing", answers=("no", "no", "yes"), severity=None,
                 reason=""):
    keys = ["security_breach", "service_unavailable", "majority_affected",
            "customers_affected"]
    values = {"title": {"value": {"type": "plain_text_input", "value": title}}}
    for key, answer in zip(keys, answers, strict=False):
        values[key] = {"value": {"type": "radio_buttons",
                                 "selected_option": {"value": answer}}}
    if severity:
        values["severity"] = {"value": {"type": "static_select",
                                        "selected_option": {"value": str(severity)}}}
    values["reason"] = {"value": {"type": "plain_text_input", "value": reason}}
    return values


def submission(values, user="U0IC"):
    return {"type": "view_submission", "user": {"id": user},
            "view": {"callback_id": DECLARE_CALLBACK, "private_metadata": "C0GENERAL",
                     "state": {"values": values}}}


def test_declare_opens_the_modal_with_the_decision_tree_questions(client, ic, slack):
    link(ic, "U0IC")

    response = slash(client, "declare", trigger="trigger-42", channel="C0GENERAL")

    assert response.status_code == 200 and response.content == b""
    opened, = slack.made("views.open")
    assert opened.args["trigger_id"] == "trigger-42"
    view = opened.args["view"]
    assert view["callback_id"] == DECLARE_CALLBACK and view["private_metadata"] == "C0GENERAL"
    labels = [b["label"]["text"] for b in view["blocks"]]
    assert labels[:5] == ["Title", "Is there a security breach?",
                          "Is the service completely unavailable?",
                          "Is more than 50% of functionality affected?",
                          "Does it affect customers?"]


def test_the_modal_declares_with_the_trees_severity_and_opens_the_channel(client, ic, slack):
    link(ic, "U0IC")

    response = interact(client, submission(modal_values()))

    assert response.status_code == 200 and response.content == b""
    incident = Incident.objects.get()
    assert incident.title == "Payments failing" and incident.severity == Severity.SEV2
    assert incident.classified_severity == Severity.SEV2
    assert incident.classification == {"security_breach": "no", "service_unavailable": "no",
                                       "majority_affected": "yes"}
    assert incident.declared_by == ic and incident.commander == ic
    assert SlackChannel.objects.filter(incident=incident).exists()
    assert f"Declared {incident.ref}" in told(slack)[0]


@pytest.mark.parametrize("values, block, message", [
    (modal_values(title=""), "title", "A title is needed."),
    (modal_values(answers=("no", "no")), "majority_affected", "Answer this question."),
    (modal_values(severity=4), "reason", "The decision tree gave SEV-2"),
])
def test_a_refused_modal_shows_the_error_on_its_field_and_declares_nothing(
        client, ic, slack, values, block, message):
    link(ic, "U0IC")

    response = interact(client, submission(values))

    assert response.json()["response_action"] == "errors"
    assert response.json()["errors"][block].startswith(message)
    assert not Incident.objects.exists()


def test_a_viewer_cannot_open_the_declare_modal(client, viewer, slack):
    link(viewer, "U0VIEW")
    assert "only Responders" in ephemeral(slash(client, "declare", user="U0VIEW"))
    assert slack.made("views.open") == []


# --- the buttons and the shortcut ---------------------------------------------------------

@pytest.fixture
def paged(ic, responder):
    """Level 1 the IC, level 2 the responder (each with an e-mail method)."""
    for user in (ic, responder):
        ContactMethod.objects.create(user=user, kind="email", target=f"{user.username}@ex.com")
    policy = EscalationPolicy.objects.create(name="Production", is_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5).users.set([ic])
    EscalationLevel.objects.create(policy=policy, position=2, timeout_minutes=10) \
        .users.set([responder])
    return policy


def test_acknowledge_button_acknowledges_the_page_stops_paging_and_invites(
        client, ic, responder, paged, incident, slack):
    link(responder, "U0RESP")
    page = Page.objects.get(source=f"incident:{incident.pk}")
    paging.run_page(page.pk)
    later = timezone.now() + timedelta(minutes=6)
    with time_machine.travel(later, tick=False):
        paging.run_due_pages()  # level 2: the responder
        response = interact(client, button(ACK_ACTION, incident.ref, user="U0RESP"))

    assert response.status_code == 200
    page.refresh_from_db()
    assert page.status == PageStatus.ACKNOWLEDGED and page.acknowledged_by == responder
    incident.refresh_from_db()
    assert incident.acknowledged_at == page.acknowledged_at
    assert incident.responders.filter(pk=responder.pk).exists()
    with time_machine.travel(later + timedelta(minutes=30), tick=False):
        assert paging.run_due_pages() == 0  # paging stopped
        sync.run(SlackChannel.objects.get(incident=incident).pk)
    assert told(slack) == [f"You acknowledged the page of {incident.ref}: escalation stopped."]
    # Whoever acknowledged is invited to the channel.
    assert slack.made("conversations.invite")[-1].args == {"channel": "C00000001",
                                                          "users": "U0RESP"}
    # Pressed again: nothing more, and they are told.
    interact(client, button(ACK_ACTION, incident.ref, user="U0RESP"))
    assert told(slack)[-1] == f"No page of {incident.ref} is waiting to be acknowledged."


def test_a_viewer_pressing_acknowledge_is_refused_and_paging_goes_on(
        client, viewer, paged, incident, slack):
    link(viewer, "U0VIEW")
    page = Page.objects.get(source=f"incident:{incident.pk}")

    interact(client, button(ACK_ACTION, incident.ref, user="U0VIEW"))

    page.refresh_from_db()
    assert page.status == PageStatus.TRIGGERED
    assert told(slack)[0].startswith("Not done: Only people this page notified")


def test_join_button_joins_the_response(client, responder, incident, slack):
    link(responder, "U0RESP")

    interact(client, button(JOIN_ACTION, incident.ref, user="U0RESP"))
    interact(client, button(JOIN_ACTION, incident.ref, user="U0RESP"))

    assert incident.responders.filter(pk=responder.pk).exists()
    assert told(slack) == [f"You joined the response to {incident.ref}.",
                           "Not done: You are already working on this incident."]


def test_add_to_timeline_shortcut_adds_the_message_text(client, ic, incident, slack):
    payload = {"type": "message_action", "callback_id": ADD_TO_TIMELINE_CALLBACK,
               "user": {"id": "U0IC"}, "channel": {"id": "C00000001"},
               "message": {"text": "DB failover finished at 14:02", "ts": "1700.1"}}

    interact(client, payload)

    entry = incident.timeline.get(kind=TimelineKind.NOTE)
    assert entry.body == "DB failover finished at 14:02" and entry.author == ic
    assert told(slack) == [f"Added the message to the timeline of {incident.ref}."]
    interact(client, {**payload, "message": {"text": "  "}})
    assert told(slack)[-1] == "Not done: that message has no text to add."
    assert incident.timeline.filter(kind=TimelineKind.NOTE).count() == 1
