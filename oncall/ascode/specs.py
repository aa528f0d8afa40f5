"""On-call as code, the file side: teams, schedules and escalation policies read from and written to
the handbook's YAML (§2.1, plus `teams:`). Used by `oncall_apply` and `oncall_export`.

Every object is turned into one canonical "spec" (a plain dict in the file's own
shape): the export writes the specs of what is stored; applying compares the spec
a file asks for with the stored one and calls the services only where they differ,
so applying twice, or applying an export, changes nothing. Values are checked by
the same forms the web pages and the admin use, so a file cannot make what they
refuse. The whole file is applied in one transaction: any error rolls all back.
"""

import difflib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import yaml

from ..models import (
    Coverage,
    EscalationPolicy,
    RotationKind,
    Schedule,
    Team,
    Weekday,
    known_timezones,
)

DAYS = [d.name.lower() for d in Weekday]
KINDS = [k.value for k in RotationKind]
TOP_KEYS = {"teams", "schedules", "escalation_policies"}
TEAM_KEYS = {"name", "description", "lead", "members"}
SCHEDULE_KEYS = {"name", "description", "rotation", "escalation_timeout", "members",
                 "coverage"}
ROTATION_KEYS = {"type", "start_time", "timezone", "handoff_day", "start_date",
                 "length_hours", "members"}
COVERAGE_KEYS = {"type", "days", "start", "end"}
POLICY_KEYS = {"name", "description", "repeat", "major_incident_schedule", "default", "rules"}
RULE_KEYS = {"level", "schedule", "users", "timeout"}
# Form field -> the key of the file that holds it (for error lines).
SCHEDULE_FIELD_KEYS = {
    "rotation_kind": "rotation.type", "custom_length_hours": "rotation.length_hours",
    "timezone": "rotation.timezone", "handoff_time": "rotation.start_time",
    "handoff_day": "rotation.handoff_day", "starts_on": "rotation.start_date",
    "escalation_timeout_minutes": "escalation_timeout", "business_days": "coverage",
    "business_start": "coverage", "business_end": "coverage",
}


class FileRefused(Exception):
    """The file was refused: `problems` are (line, message); nothing was changed."""

    def __init__(self, path, problems):
        self.path, self.problems = path, sorted(problems, key=lambda p: p[0] or 0)
        super().__init__("\n".join(f"{path}:{line}: {msg}" for line, msg in self.problems))


# --- YAML with line numbers ---------------------------------------------------------------

class YamlMap(dict):
    line = 0
    lines: dict


class YamlSeq(list):
    line = 0
    lines: list


class LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and lists remember the line of each key and item."""


def _construct_map(loader, node):
    loader.flatten_mapping(node)
    out = YamlMap()
    out.line, out.lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str | int | float | bool) or key is None:
            raise yaml.MarkedYAMLError(problem="a key must be a plain word",
                                       problem_mark=key_node.start_mark)
        if key in out:
            raise yaml.MarkedYAMLError(problem=f"{key!r} is given twice",
                                       problem_mark=key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


def _construct_seq(loader, node):
    out = YamlSeq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def line_of(node, key=None):
    if isinstance(node, YamlMap) and key is not None:
        return node.lines.get(key, node.line)
    return getattr(node, "line", None)


# --- canonical specs of stored objects ------------------------------------------------------

def minutes(n):
    return f"{n}m"


def team_spec(team):
    spec = {"name": team.name}
    if team.description:
        spec["description"] = team.description
    if team.lead_id:
        spec["lead"] = team.lead.get_username()
    spec["members"] = [m.user.get_username()
                       for m in team.members.select_related("user").order_by("position")]
    return spec


def schedule_spec(schedule):
    spec = {"name": schedule.name}
    if schedule.description:
        spec["description"] = schedule.description
    rot = {"type": schedule.rotation_kind,
           "start_time": schedule.handoff_time.strftime("%H:%M"),
           "timezone": schedule.timezone}
    if schedule.rotation_kind == RotationKind.WEEKLY:
        rot["handoff_day"] = DAYS[schedule.handoff_day]
    if schedule.rotation_kind == RotationKind.CUSTOM:
        rot["length_hours"] = schedule.custom_length_hours
    rot["start_date"] = schedule.starts_on.isoformat()
    spec["rotation"] = rot
    spec["escalation_timeout"] = minutes(schedule.escalation_timeout_minutes)
    if schedule.team_id:
        spec["members"] = [schedule.team.name]
    else:
        spec["members"] = [m.user.get_username() for m in
                           schedule.members.select_related("user").order_by("position")]
    if schedule.coverage == Coverage.BUSINESS:
        spec["coverage"] = [{"type": "business",
                             "days": [DAYS[d] for d in sorted(schedule.business_days)],
                             "start": schedule.business_start.strftime("%H:%M"),
                             "end": schedule.business_end.strftime("%H:%M")}]
    else:
        spec["coverage"] = [{"type": "24x7"}]
    return spec


def policy_spec(policy):
    spec = {"name": policy.name}
    if policy.description:
        spec["description"] = policy.description
    if policy.repeat_count:
        spec["repeat"] = policy.repeat_count
    if policy.major_incident_schedule_id:
        spec["major_incident_schedule"] = policy.major_incident_schedule.name
    if policy.is_default:
        spec["default"] = True
    rules = []
    for n, level in enumerate(policy.levels.select_related("schedule").order_by("position"), 1):
        rule = {"level": n}
        if level.schedule_id:
            rule["schedule"] = level.schedule.name
        users = sorted(u.get_username() for u in level.users.all())
        if users:
            rule["users"] = users
        rule["timeout"] = minutes(level.timeout_minutes)
        rules.append(rule)
    spec["rules"] = rules
    return spec


def current_handoff_date(now, kind, day, start_time, tzname):
    """A new rotation starts with the handoff in progress: its first member is on
    call now (the latest handoff at or before now, in the schedule's zone)."""
    if tzname not in known_timezones():
        return now.date()
    local = now.astimezone(ZoneInfo(tzname))
    candidate = local.date()
    if kind == RotationKind.WEEKLY and day in DAYS:
        candidate -= timedelta(days=(candidate.weekday() - DAYS.index(day)) % 7)
    step = timedelta(days=7 if kind == RotationKind.WEEKLY else 1)
    if datetime.combine(candidate, start_time) > local.replace(tzinfo=None):
        candidate -= step
    return candidate


def export_document():
    """Everything stored, as the document `oncall_export` prints."""
    return {
        "teams": [team_spec(t) for t in Team.objects.select_related("lead").order_by("name")],
        "schedules": [schedule_spec(s) for s in
                      Schedule.objects.select_related("team").order_by("name")],
        "escalation_policies": [policy_spec(p) for p in EscalationPolicy.objects
                                .select_related("major_incident_schedule").order_by("name")],
    }


def dump(document):
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


# --- reading a file into specs ---------------------------------------------------------------

@dataclass
class Change:
    op: str  # "+", "~", "-"
    kind: str
    name: str
    before: dict | None = None
    after: dict | None = None

    def lines(self):
        title = f"{self.op} {self.kind} {self.name!r}"
        if self.op == "-":
            return [title]
        if self.op == "+":
            return [title] + ["+   " + line for line in dump(self.after).splitlines()]
        diff = difflib.unified_diff(dump(self.before).splitlines(),
                                    dump(self.after).splitlines(), lineterm="", n=1)
        return [title] + ["    " + line for line in list(diff)[2:]]


@dataclass
class Plan:
    changes: list = field(default_factory=list)

    def text(self):
        if not self.changes:
            return "No changes."
        out = []
        for change in self.changes:
            out.extend(change.lines())
        counts = {op: sum(c.op == op for c in self.changes) for op in "+~-"}
        out.append(f"{counts['+']} to create, {counts['~']} to change, "
                   f"{counts['-']} to delete.")
        return "\n".join(out)
