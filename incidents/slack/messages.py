"""What the Slack app says: the channel's topic, the pinned declaration with its
buttons, timeline entries as Slack text, the declare modal and reading it back.
Pure: no ORM beyond the objects given, no network."""

import re

from django.conf import settings

from mindweave_ir.templatetags.mw import display_name

from .. import classification
from ..models import Severity, Status

ACK_ACTION = "incident_ack"
JOIN_ACTION = "incident_join"
OPEN_ACTION = "incident_open"
DECLARE_CALLBACK = "incident_declare"
ADD_TO_TIMELINE_CALLBACK = "add_to_timeline"
TOPIC_LIMIT = 250  # Slack cuts a topic at 250 characters
TEXT_LIMIT = 3000  # a section block's text

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def slack_name(channel_name):
    """The incident's channel name as Slack spells it: no `#`, lower case."""
    return channel_name.lstrip("#").lower()


def mrkdwn(markdown):
    """The timeline's Markdown as Slack's mrkdwn (bold and links; the rest reads the same)."""
    text = _BOLD.sub(r"*\1*", markdown or "")
    text = _LINK.sub(r"<\2|\1>", text)
    return text[:TEXT_LIMIT]


def link(incident):
    return f"{settings.SITE_URL}{incident.get_absolute_url()}"


def topic(incident):
    """`SEV-2 · Investigating · IC Alice Example · INC-2026-0001 <link>`."""
    drill = "[TEST] " if incident.is_exercise else ""
    text = (f"{drill}{Severity(incident.severity).label} · {Status(incident.status).label} · "
            f"IC {display_name(incident.commander, missing='none yet')} · {incident.ref} "
            f"{link(incident)}")
    return text[:TOPIC_LIMIT]


def declaration(incident):
    """(fallback text, blocks) of the declaration: what, how bad, who commands, and the
    Acknowledge, Join and Open in MindWeave buttons."""
    drill = "[TEST] " if incident.is_exercise else ""
    head = (f"{drill}:rotating_light: *{incident.ref} {Severity(incident.severity).label}: "
            f"{incident.title}*")
    lines = [head,
             f"Commander: {display_name(incident.commander, missing='none yet')} · "
             f"declared by {display_name(incident.declared_by, missing='an alert')}"]
    if incident.description.strip():
        lines.append(incident.description.strip())
    if incident.customer_impact.strip():
        lines.append(f"Customer impact: {incident.customer_impact.strip()}")
    text = mrkdwn("\n".join(lines))
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": "incident", "elements": [
            {"type": "button", "action_id": ACK_ACTION, "style": "danger", "value": incident.ref,
             "text": {"type": "plain_text", "text": "Acknowledge"}},
            {"type": "button", "action_id": JOIN_ACTION, "value": incident.ref,
             "text": {"type": "plain_text", "text": "Join"}},
            {"type": "button", "action_id": OPEN_ACTION, "url": link(incident),
             "text": {"type": "plain_text", "text": "Open in MindWeave"}},
        ]},
    ]
    return f"{incident.ref} {Severity(incident.severity).label}: {incident.title}", blocks


def profile_url():
    return f"{settings.SITE_URL}/oncall/me/"


def unlinked_text():
    return (f"Your Slack user is not linked to a MindWeave account. Link it on your "
            f"settings page first: {profile_url()}")


# --- the declare modal (§1.2 questions) -------------------------------------------------

_YES_NO = [{"text": {"type": "plain_text", "text": "Yes"}, "value": classification.YES},
           {"text": {"type": "plain_text", "text": "No"}, "value": classification.NO}]
_SEVERITIES = [{"text": {"type": "plain_text", "text": f"{s.label}: {s.description}"[:75]},
                "value": str(s.value)} for s in Severity]


def _input(block_id, label, element, *, optional=False, hint=""):
    block = {"type": "input", "block_id": block_id, "optional": optional,
             "label": {"type": "plain_text", "text": label}, "element": element}
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def declare_modal(*, channel_id=""):
    """The modal `/incident declare` opens: title, the four §1.2 questions, an optional
    other severity with its reason, description and customer impact."""
    blocks = [_input("title", "Title", {"type": "plain_text_input", "action_id": "value",
                                        "max_length": 200})]
    for question in classification.QUESTIONS:
        blocks.append(_input(question.key, question.text,
                             {"type": "radio_buttons", "action_id": "value",
                              "options": _YES_NO}, optional=True,
                             hint=f"{question.help} From the top: the first Yes decides."))
    blocks += [
        _input("severity", "Severity, if not the one the questions give",
               {"type": "static_select", "action_id": "value", "options": _SEVERITIES},
               optional=True),
        _input("reason", "Why that severity", {"type": "plain_text_input",
                                                "action_id": "value"}, optional=True),
        _input("description", "What is happening", {"type": "plain_text_input",
                                                     "action_id": "value", "multiline": True},
               optional=True),
        _input("customer_impact", "Customer impact", {"type": "plain_text_input",
                                                       "action_id": "value",
                                                       "multiline": True}, optional=True),
    ]
    return {"type": "modal", "callback_id": DECLARE_CALLBACK, "private_metadata": channel_id,
            "title": {"type": "plain_text", "text": "Declare an incident"},
            "submit": {"type": "plain_text", "text": "Declare"},
            "close": {"type": "plain_text", "text": "Cancel"}, "blocks": blocks}


def _value(values, block_id):
    """What the person entered in one block of the modal ("" when nothing)."""
    field = (values.get(block_id) or {}).get("value") or {}
    if not isinstance(field, dict):
        return ""
    chosen = field.get("selected_option")
    if isinstance(chosen, dict):
        return str(chosen.get("value") or "")
    return str(field.get("value") or "")


def read_declare(view):
    """The modal's answers as declare_incident's arguments, or ({block: error}, None)."""
    values = ((view or {}).get("state") or {}).get("values") or {}
    if not isinstance(values, dict):
        values = {}
    errors = {}
    title = _value(values, "title").strip()
    if not title:
        errors["title"] = "A title is needed."
    answers = {q.key: _value(values, q.key) for q in classification.QUESTIONS}
    outcome = classification.classify(answers)
    if outcome.severity is None:
        errors[outcome.next_question.key] = "Answer this question."
    chosen = _value(values, "severity")
    if chosen and chosen not in {str(s.value) for s in Severity}:
        errors["severity"] = "Choose one of the severities."
    if errors:
        return errors, None
    asked = {q.key: a for q, a in outcome.answered}
    severity = Severity(int(chosen)) if chosen else Severity(outcome.severity)
    return {}, {
        "title": title, "severity": severity, "classification": asked,
        "classified_severity": Severity(outcome.severity),
        "override_reason": _value(values, "reason"),
        "description": _value(values, "description"),
        "customer_impact": _value(values, "customer_impact"),
    }
