"""Filling communication templates (handbook §5) from what is known about an incident.

Pure: no ORM. The caller (comms/compose.py) turns an incident into `Facts`; this maps
each placeholder of the fixed table to a value or to None. A None (not known yet:
root cause, ETA, workaround ...) stays in the text as a visible marker such as
`[[root cause: fill in]]`, which the sender must replace before anything is sent.
A placeholder outside the table is an error, reported when a template is saved.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
MARKER = re.compile(r"\[\[([^\]\n]+?): fill in\]\]")


@dataclass(frozen=True)
class Facts:
    """What the incident can tell a template; None where nothing is known."""

    incident_id: str
    title: str
    severity: str  # "SEV-2"
    status: str  # "Investigating"
    services: tuple[str, ...] = ()
    impact: str | None = None
    commander: str | None = None
    channel: str | None = None
    started_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str | None = None
    next_update_at: datetime | None = None
    now: datetime | None = None
    status_page_url: str | None = None
    link: str | None = None
    extra: dict = field(default_factory=dict)


def _when(value):
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else None


def format_duration(delta: timedelta) -> str:
    """`2 hours 5 minutes`, `45 minutes`, `1 day 3 hours`; never negative."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    words = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    return " ".join(words[:2]) or "0 minutes"


def _duration(f: Facts):
    end = f.resolved_at or f.now
    if not f.started_at or not end:
        return None
    return format_duration(end - f.started_at)


# Every placeholder a template may use, with what fills it. Entries that return None
# are never known to the system: the sender writes them.
PLACEHOLDERS = {
    "incident_id": ("Incident id, e.g. INC-2026-0042", lambda f: f.incident_id),
    "title": ("Incident title", lambda f: f.title),
    "service": ("Affected services, comma-separated",
                lambda f: ", ".join(f.services) or None),
    "severity": ("SEV-1 .. SEV-4", lambda f: f.severity),
    "status": ("Current status, e.g. Investigating", lambda f: f.status),
    "impact": ("Customer impact as recorded on the incident", lambda f: f.impact or None),
    "commander": ("Incident Commander's name", lambda f: f.commander),
    "channel": ("Incident channel, e.g. #inc-20261127-checkout", lambda f: f.channel),
    "start_time": ("When the problem began (UTC)", lambda f: _when(f.started_at)),
    "end_time": ("When it was resolved (UTC)", lambda f: _when(f.resolved_at)),
    "duration": ("Start to resolution (or to now)", _duration),
    "time": ("Now (UTC)", lambda f: _when(f.now)),
    "next_update": ("When the next update is due (UTC)", lambda f: _when(f.next_update_at)),
    "fix_applied": ("The incident's resolution text", lambda f: f.resolution or None),
    "status_page_url": ("Public status page address", lambda f: f.status_page_url),
    "link": ("Incident page address (internal)", lambda f: f.link),
    # Never known to the system: always left for the sender.
    "summary": ("Brief description of the issue", lambda f: None),
    "issue_type": ("Kind of issue, e.g. elevated error rates", lambda f: None),
    "root_cause": ("Brief root cause", lambda f: None),
    "timeframe": ("Expected time to resolve", lambda f: None),
    "workaround": ("Workaround, if any", lambda f: None),
    "progress": ("What has been done", lambda f: None),
    "next_steps": ("What is planned", lambda f: None),
    "eta": ("Estimated resolution time", lambda f: None),
    "prevention": ("Preventive measures", lambda f: None),
    "update_interval": ("How often updates come, e.g. 30 minutes", lambda f: None),
    "post_mortem": ("When the post-incident review is", lambda f: None),
}


def placeholders_in(text: str) -> list[str]:
    """Placeholder names used in `text`, in order of first appearance."""
    seen = []
    for name in PLACEHOLDER.findall(text or ""):
        if name not in seen:
            seen.append(name)
    return seen


def unknown_placeholders(*texts: str) -> list[str]:
    """Names used in any of `texts` that the table does not know."""
    names = []
    for text in texts:
        names += [n for n in placeholders_in(text) if n not in PLACEHOLDERS and n not in names]
    return names


def marker(name: str) -> str:
    return f"[[{name.replace('_', ' ')}: fill in]]"


def values(facts: Facts) -> dict[str, str | None]:
    """Every placeholder's value (None when unknown); `facts.extra` wins."""
    result = {name: fill(facts) for name, (_, fill) in PLACEHOLDERS.items()}
    result.update({k: v for k, v in facts.extra.items() if k in PLACEHOLDERS})
    return result


def render(text: str, facts: Facts) -> str:
    """`text` with each known placeholder filled and each unknown-value one marked.

    A name outside the table is left as a marker too, so nothing silently vanishes.
    """
    table = values(facts)

    def replace(match):
        value = table.get(match.group(1))
        return marker(match.group(1)) if value in (None, "") else str(value)

    return PLACEHOLDER.sub(replace, text or "")


def unfilled(*texts: str) -> list[str]:
    """The markers still in `texts` (what the sender has yet to write), by name."""
    names = []
    for text in texts:
        names += [n for n in MARKER.findall(text or "") if n not in names]
    return names


STEP_HEADING = re.compile(r"^#{2,4}\s+(Step\s+\d+.*?)\s*#*\s*$", re.IGNORECASE)
CHECKBOX = re.compile(r"^\s*[-*]\s+\[[ xX]\]\s+(.+?)\s*$")


def runbook_steps(markdown: str) -> list[str]:
    """A runbook's steps to tick: its `### Step N: ...` headings and `- [ ]` items,
    in document order, outside fenced code."""
    steps, fenced = [], False
    for line in (markdown or "").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        match = STEP_HEADING.match(line) or CHECKBOX.match(line)
        if match:
            steps.append(match.group(1)[:200])
    return steps
