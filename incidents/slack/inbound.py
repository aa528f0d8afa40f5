"""Answering what Slack sends once its signature is checked (views/slack.py): the
`/incident` slash command, the buttons, the declare modal's submission and the "Add
to timeline" message shortcut.

Each acts as the person who confirmed that Slack user on their profile page, through
the same services and permission checks as the web; an unlinked Slack user or a
refusal gets an ephemeral answer (only they see it) and nothing changes.
"""

import logging

from django.core.exceptions import PermissionDenied

from mindweave_ir.errors import Refused, refusal
from oncall import paging, slack
from oncall.models import Page, PageStatus

from .. import permissions, services
from ..models import Incident, SlackChannel
from . import commands
from .messages import (
    ACK_ACTION,
    ADD_TO_TIMELINE_CALLBACK,
    DECLARE_CALLBACK,
    JOIN_ACTION,
    declare_modal,
    read_declare,
    slack_name,
    unlinked_text,
)

log = logging.getLogger(__name__)


class BadPayload(ValueError):
    """A signed request whose shape is not what Slack sends (answered 400)."""


def ephemeral(text):
    """A slash command's answer only its sender sees."""
    return {"response_type": "ephemeral", "text": text}


def _incident_in(channel_id):
    row = (SlackChannel.objects.select_related("incident")
           .filter(channel_id=channel_id).first()) if channel_id else None
    return row.incident if row else None


def _tell(channel_id, slack_user, text):
    """An ephemeral message in the channel (interactions have no reply body); a failure
    is logged only: what was done is done, and shows on the incident page."""
    if not channel_id or not slack_user:
        return
    try:
        slack.call("chat.postEphemeral", channel=channel_id, user=slack_user, text=text)
    except slack.SlackError as exc:
        log.warning("could not answer %s in Slack: %s", slack_user, exc)


# --- /incident ---------------------------------------------------------------------------

def command(form):
    """The answer (JSON) to `/incident <text>` from `form`, Slack's fields."""
    user = slack.user_for_slack_id(form.get("user_id", ""))
    if user is None:
        return ephemeral(unlinked_text())
    try:
        cmd = commands.parse(form.get("text", ""))
    except commands.CommandError as exc:
        return ephemeral(str(exc))
    if cmd.verb == "help":
        return ephemeral(commands.USAGE)
    if cmd.verb == "declare":
        return _open_declare(user, form)
    incident = _incident_in(form.get("channel_id", ""))
    if incident is None:
        return ephemeral("Run this in an incident's channel (the one MindWeave created), or "
                         "`/incident declare` anywhere.")
    try:
        return ephemeral(_run(cmd, incident, user))
    except (Refused, PermissionDenied) as exc:
        return ephemeral(f"Not done: {refusal(exc)[1]}")


def _open_declare(user, form):
    if not permissions.can_declare(user):
        return ephemeral("Not done: only Responders, Incident Commanders and Managers may "
                         "declare incidents.")
    try:
        slack.call("views.open", trigger_id=form.get("trigger_id", ""),
                   view=declare_modal(channel_id=form.get("channel_id", "")))
    except slack.SlackError as exc:
        return ephemeral(f"Could not open the declare form ({exc.code or exc}); try again, "
                         "or declare on the web.")
    return None


def _run(cmd, incident, user):
    """Do `cmd` as `user`; what to tell them."""
    if cmd.verb == "status":
        services.change_status(incident, to=cmd.value, by=user)
        return f"{incident.ref} is now {cmd.value.label}."
    if cmd.verb == "sev":
        services.change_severity(incident, to=cmd.value, by=user, reason=cmd.text)
        return f"{incident.ref} is now {cmd.value.label}."
    if cmd.verb == "role":
        person = slack.user_for_slack_id(cmd.slack_user)
        if person is None:
            return (f"Not done: <@{cmd.slack_user}> has not linked their Slack user to "
                    "MindWeave.")
        services.assign_role(incident, role=cmd.value, user=person, by=user)
        return f"<@{cmd.slack_user}> is now {services.ROLE_FIELDS[cmd.value]} of {incident.ref}."
    if cmd.verb == "note":
        services.add_timeline_entry(incident, body=cmd.text, by=user)
        return f"Added to the timeline of {incident.ref}."
    if cmd.verb == "resolve":
        services.resolve_with_updates(incident, resolution=cmd.text, updates=(), by=user)
        return f"{incident.ref} is resolved; this channel will be archived."
    raise commands.CommandError(commands.USAGE)


# --- buttons, the modal, the shortcut -----------------------------------------------------

def interaction(payload):
    """The answer (JSON, or None for an empty 200) to an interactivity payload."""
    if not isinstance(payload, dict):
        raise BadPayload("The payload is not an object.")
    kind = payload.get("type")
    slack_user = (payload.get("user") or {}).get("id", "")
    channel_id = (payload.get("channel") or {}).get("id", "")
    if kind == "block_actions":
        actions = payload.get("actions") or [{}]
        return _button(actions[0], slack_user, channel_id)
    if kind == "view_submission":
        return _declare(payload.get("view") or {}, slack_user)
    if kind == "message_action" and payload.get("callback_id") == ADD_TO_TIMELINE_CALLBACK:
        return _add_to_timeline(payload.get("message") or {}, slack_user, channel_id)
    return None


def _button(action, slack_user, channel_id):
    action_id = action.get("action_id")
    if action_id not in (ACK_ACTION, JOIN_ACTION):
        return None  # "Open in MindWeave" is a link: Slack opens it, nothing to do here
    user = slack.user_for_slack_id(slack_user)
    if user is None:
        _tell(channel_id, slack_user, unlinked_text())
        return None
    incident = Incident.objects.filter(ref=str(action.get("value", ""))[:20]).first()
    if incident is None:
        _tell(channel_id, slack_user, "Not done: that incident no longer exists.")
        return None
    try:
        text = (_acknowledge(incident, user) if action_id == ACK_ACTION
                else _join(incident, user))
    except (Refused, PermissionDenied) as exc:
        text = f"Not done: {refusal(exc)[1]}"
    _tell(channel_id, slack_user, text)
    return None


def _acknowledge(incident, user):
    """Acknowledge the incident's escalating pages, as the paging card on the web does
    (the incident is acknowledged with them, and the acknowledger joins)."""
    pages = list(Page.objects.filter(source=f"incident:{incident.pk}",
                                     status=PageStatus.TRIGGERED).order_by("pk"))
    if not pages:
        return f"No page of {incident.ref} is waiting to be acknowledged."
    for page in pages:
        paging.acknowledge_page(page, by=user, via="Slack")
    return f"You acknowledged the page of {incident.ref}: escalation stopped."


def _join(incident, user):
    services.join_incident(incident, by=user)
    return f"You joined the response to {incident.ref}."


def _declare(view, slack_user):
    if view.get("callback_id") != DECLARE_CALLBACK:
        return None
    user = slack.user_for_slack_id(slack_user)
    if user is None:
        return {"response_action": "errors", "errors": {"title": unlinked_text()}}
    errors, fields = read_declare(view)
    if errors:
        return {"response_action": "errors", "errors": errors}
    try:
        incident = services.declare_incident(by=user, **fields)
    except (Refused, PermissionDenied) as exc:
        message = refusal(exc)[1]
        block = "reason" if "say why" in message else "title"
        return {"response_action": "errors", "errors": {block: message}}
    _tell(str(view.get("private_metadata", ""))[:32], slack_user,
          f"Declared {incident.ref} ({incident.severity_label}): the channel "
          f"#{slack_name(incident.channel_name)} is being created and you will be invited.")
    return None


def _add_to_timeline(message, slack_user, channel_id):
    user = slack.user_for_slack_id(slack_user)
    if user is None:
        _tell(channel_id, slack_user, unlinked_text())
        return None
    incident = _incident_in(channel_id)
    text = str(message.get("text") or "").strip()
    if incident is None:
        reply = "Not done: use this on a message in an incident's channel."
    elif not text:
        reply = "Not done: that message has no text to add."
    else:
        try:
            services.add_timeline_entry(incident, body=text, by=user)
            reply = f"Added the message to the timeline of {incident.ref}."
        except (Refused, PermissionDenied) as exc:
            reply = f"Not done: {refusal(exc)[1]}"
    _tell(channel_id, slack_user, reply)
    return None
