"""Reading what Slack sends and writing what it shows (pure parts of the Slack app):
`/incident` text, the declare modal's values, Markdown as mrkdwn, the topic, and the
signature check at its edges."""

import time

import pytest

from incidents.models import Severity, Status
from incidents.slack import commands, messages
from incidents.slack.commands import Command, CommandError, parse
from oncall import slack
from tests.incidents.slack_fake import SIGNING_SECRET, signed


@pytest.mark.parametrize("text, expected", [
    ("", Command("help")),
    ("  HELP ", Command("help")),
    ("declare", Command("declare")),
    ("status identified", Command("status", Status.IDENTIFIED)),
    ("status Monitoring", Command("status", Status.MONITORING)),
    ("sev 1", Command("sev", Severity.SEV1)),
    ("sev SEV-3 only internal tools", Command("sev", Severity.SEV3, "only internal tools")),
    ("severity sev2", Command("sev", Severity.SEV2)),
    ("lead <@U0RESP|resp>", Command("role", "technical_lead", slack_user="U0RESP")),
    ("comms <@W0ABC>", Command("role", "communications_lead", slack_user="W0ABC")),
    ("ic U0IC", Command("role", "commander", slack_user="U0IC")),
    ("note Rolled back  to v41", Command("note", text="Rolled back  to v41")),
    ("resolve Restarted the pods.", Command("resolve", text="Restarted the pods.")),
])
def test_commands_parse(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text, message", [
    ("status resolved", "To resolve, say how"),
    ("status sideways", "Unknown status `sideways`"),
    ("sev 5", "Give the severity as 1 to 4"),
    ("sev", "Give the severity as 1 to 4"),
    ("lead responder", "Name the person as a mention"),
    ("lead <#C123|general>", "Name the person as a mention"),
    ("note", "Say what to note"),
    ("resolve   ", "Say how it was resolved"),
    ("delete everything", "Unknown command `delete`"),
])
def test_bad_command_text_says_what_would_do(text, message):
    with pytest.raises(CommandError, match=message):
        parse(text)


def test_the_usage_names_every_command():
    for verb in ("declare", "status", "sev", "lead", "note", "resolve"):
        assert f"/incident {verb}" in commands.USAGE


def _values(**answers):
    values = {"title": {"value": {"value": answers.pop("title", "Checkout down")}}}
    for key, value in answers.items():
        values[key] = {"value": {"selected_option": {"value": value}}}
    return {"state": {"values": values}}


def test_the_modal_reads_the_tree_first_yes_decides():
    errors, fields = messages.read_declare(_values(security_breach="no",
                                                   service_unavailable="yes"))
    assert errors == {}
    assert fields["severity"] == fields["classified_severity"] == Severity.SEV1
    assert fields["classification"] == {"security_breach": "no", "service_unavailable": "yes"}


def test_the_modal_all_no_is_sev4_and_a_chosen_severity_wins():
    no = dict(security_breach="no", service_unavailable="no", majority_affected="no",
              customers_affected="no")
    assert messages.read_declare(_values(**no))[1]["severity"] == Severity.SEV4
    _, fields = messages.read_declare(_values(severity="2", **no))
    assert fields["severity"] == Severity.SEV2 and fields["classified_severity"] == Severity.SEV4


@pytest.mark.parametrize("view, errors", [
    (None, {"title": "A title is needed.", "security_breach": "Answer this question."}),
    ({"state": {"values": "junk"}}, {"title": "A title is needed.",
                                     "security_breach": "Answer this question."}),
    (_values(title="  ", security_breach="yes"), {"title": "A title is needed."}),
    (_values(security_breach="maybe"), {"security_breach": "Answer this question."}),
    (_values(security_breach="yes", severity="9"), {"severity": "Choose one of the severities."}),
])
def test_an_incomplete_modal_names_each_field(view, errors):
    assert messages.read_declare(view) == (errors, None)


def test_markdown_becomes_mrkdwn():
    text = "Status moved: Declared → **Investigating** by [Ic](https://x.example/u)."
    assert messages.mrkdwn(text) == "Status moved: Declared → *Investigating* by " \
                                    "<https://x.example/u|Ic>."


def test_the_topic_is_cut_to_slacks_limit(ic):
    from incidents.models import Incident
    incident = Incident(ref="INC-2026-0001", title="x", severity=Severity.SEV2,
                        status=Status.DECLARED)
    incident.commander = ic
    incident.commander.first_name = "A" * 400
    assert len(messages.topic(incident)) == messages.TOPIC_LIMIT


@pytest.mark.django_db
@pytest.mark.parametrize("headers, ok", [
    (lambda body: signed(body), True),
    # Ten seconds inside and outside Slack's five minutes: a second's margin failed
    # once on a loaded machine (the timestamp is truncated, then checked a moment later).
    (lambda body: signed(body, timestamp=int(time.time()) - 290), True),
    (lambda body: signed(body, timestamp=int(time.time()) - 310), False),
    (lambda body: signed(body, timestamp=int(time.time()) + 310), False),
    (lambda body: signed(body + b" "), False),
    (lambda body: {**signed(body), "HTTP_X_SLACK_REQUEST_TIMESTAMP": "12ab"}, False),
    (lambda body: {**signed(body), "HTTP_X_SLACK_SIGNATURE": ""}, False),
])
def test_the_signature_check(settings, headers, ok):
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    body = b"command=%2Fincident&text=note+hi"
    h = headers(body)
    assert slack.verify_request(body, h.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
                                h.get("HTTP_X_SLACK_SIGNATURE")) is ok
