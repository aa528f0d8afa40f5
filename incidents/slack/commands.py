"""Reading `/incident` text (pure): which verb, with what. The handler (inbound.py)
runs it as the linked person through the same services as the web."""

import re
from dataclasses import dataclass

from ..models import Severity, Status

USAGE = (
    "Usage: `/incident declare` (opens the form) · and in an incident's channel: "
    "`/incident status <investigating|identified|fixing|monitoring>` · "
    "`/incident sev <1-4> [reason, needed when lowering]` · `/incident lead @person` · "
    "`/incident comms @person` · `/incident ic @person` · `/incident note <text>` · "
    "`/incident resolve <how it was resolved>`"
)
# An escaped mention as Slack sends it (`<@U123|name>`), or a bare user id.
_MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,30})(?:\|[^>]*)?>$|^([UW][A-Z0-9]{2,30})$")
ROLES = {"lead": "technical_lead", "tl": "technical_lead", "comms": "communications_lead",
         "cl": "communications_lead", "ic": "commander", "commander": "commander"}


class CommandError(ValueError):
    """Text that is no command; the message says what would be."""


@dataclass(frozen=True)
class Command:
    verb: str  # declare, status, sev, role, note, resolve, help
    value: object = None  # a Status, a Severity, a role field, or text
    text: str = ""  # the rest: a reason, a note, a resolution
    slack_user: str = ""  # role: the Slack user named


def parse(text):
    """`text` after `/incident` as a Command, or CommandError with the usage."""
    text = (text or "").strip()
    verb, _, rest = text.partition(" ")
    verb, rest = verb.lower(), rest.strip()
    if verb in ("", "help"):
        return Command("help")
    if verb == "declare":
        return Command("declare")
    if verb == "status":
        return Command("status", _status(rest))
    if verb in ("sev", "severity"):
        level, _, reason = rest.partition(" ")
        return Command("sev", _severity(level), reason.strip())
    if verb in ROLES:
        return Command("role", ROLES[verb], slack_user=_mention(rest))
    if verb == "note":
        if not rest:
            raise CommandError("Say what to note: `/incident note <text>`.")
        return Command("note", text=rest)
    if verb == "resolve":
        if not rest:
            raise CommandError("Say how it was resolved: `/incident resolve <how>`.")
        return Command("resolve", text=rest)
    raise CommandError(f"Unknown command `{verb[:30]}`. {USAGE}")


def _status(word):
    word = word.strip().lower()
    for status in Status:
        if word in (status.value, status.label.lower()):
            if status == Status.RESOLVED:
                raise CommandError("To resolve, say how: `/incident resolve <how>`.")
            return status
    names = ", ".join(s.value for s in Status if s != Status.RESOLVED)
    raise CommandError(f"Unknown status `{word[:30]}`; one of: {names}.")


def _severity(word):
    digits = word.strip().lower().removeprefix("sev").lstrip("-")
    if digits in {"1", "2", "3", "4"}:
        return Severity(int(digits))
    raise CommandError("Give the severity as 1 to 4: `/incident sev 2`.")


def _mention(word):
    match = _MENTION.match(word.strip())
    if not match:
        raise CommandError("Name the person as a mention: `/incident lead @person`.")
    return match.group(1) or match.group(2)
