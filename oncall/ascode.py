"""On-call as code: teams, schedules and escalation policies read from and written to
the handbook's YAML (§2.1, plus `teams:`). Used by `oncall_apply` and `oncall_export`.

Every object is turned into one canonical "spec" (a plain dict in the file's own
shape): the export writes the specs of what is stored; applying compares the spec
a file asks for with the stored one and calls the services only where they differ,
so applying twice, or applying an export, changes nothing. Values are checked by
the same forms the web pages and the admin use, so a file cannot make what they
refuse. The whole file is applied in one transaction: any error rolls all back.
"""

import copy
import difflib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import yaml
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import services
from .forms.policies import EscalationLevelForm, EscalationPolicyForm
from .forms.schedules import ScheduleForm
from .models import (
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

class _Map(dict):
    line = 0
    lines: dict


class _Seq(list):
    line = 0
    lines: list


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings and lists remember the line of each key and item."""


def _construct_map(loader, node):
    loader.flatten_mapping(node)
    out = _Map()
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
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def _line(node, key=None):
    if isinstance(node, _Map) and key is not None:
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


class _Reader:
    """Walks the parsed file, noting problems with their lines and applying each
    object whose spec differs from the stored one."""

    def __init__(self, path, *, by, now, prune):
        self.path, self.by, self.now, self.prune = path, by, now, prune
        self.problems = []
        self.plan = Plan()
        self.users = {u.get_username(): u for u in get_user_model().objects.all()}

    def problem(self, line, message):
        self.problems.append((line, message))

    # small readers of values -------------------------------------------------------------

    def check_keys(self, node, allowed, what):
        if not isinstance(node, _Map):
            self.problem(_line(node), f"{what} must be a mapping of keys to values")
            return False
        for key in node:
            if key not in allowed:
                self.problem(node.lines[key], f"{what}: unknown key {key!r} (expected "
                                              f"{', '.join(sorted(allowed))})")
        return True

    def text(self, node, key, what, *, required=False, default=""):
        value = node.get(key)
        if value is None:
            if required:
                self.problem(node.line, f"{what}: {key!r} is required")
            return default
        if not isinstance(value, str | int) or isinstance(value, bool):
            self.problem(node.lines[key], f"{what}: {key!r} must be text")
            return default
        return str(value).strip()

    def duration(self, node, key, what, default):
        value = node.get(key)
        if value is None:
            return default
        match = re.fullmatch(r"(\d{1,6})\s*(m|min|h)?", str(value).strip())
        if isinstance(value, bool) or not match:
            self.problem(node.lines[key], f"{what}: {key} {value!r} is not a duration "
                                          "such as 5m or 1h")
            return default
        number = int(match[1]) * (60 if match[2] == "h" else 1)
        if not 0 < number <= 24 * 60:
            self.problem(node.lines[key], f"{what}: {key} must be 1 minute to 24 hours")
            return default
        return number

    def clock(self, node, key, what, default):
        value = node.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            self.problem(node.lines[key], f"{what}: {key} must be a quoted time such as "
                                          '"09:00"')
            return default
        try:
            return datetime.strptime(value.strip(), "%H:%M").time()
        except ValueError:
            self.problem(node.lines[key], f"{what}: {key} {value!r} is not a time HH:MM")
            return default

    def names(self, node, key, what):
        value = node.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [(value, node.lines[key])]
        if not isinstance(value, _Seq) or not all(isinstance(v, str) for v in value):
            self.problem(node.lines[key], f"{what}: {key} must be a list of names")
            return []
        return list(zip(value, value.lines, strict=True))

    def user(self, name, line, what):
        user = self.users.get(name)
        if user is None:
            self.problem(line, f"{what}: unknown user {name!r}")
        elif not user.is_active:
            self.problem(line, f"{what}: user {name!r} is not active")
            user = None
        return user

    def form_errors(self, form, node, what, keys=None):
        for name, errors in form.errors.items():
            key = (keys or {}).get(name, name)
            head, _, tail = key.partition(".")
            line = _line(node, head)
            if tail and isinstance(node.get(head), _Map):
                line = _line(node[head], tail)
            label = "" if name == "__all__" else f"{key}: "
            for error in errors:
                self.problem(line, f"{what}: {label}{error}")

    def record(self, kind, name, before, after):
        if before is None:
            self.plan.changes.append(Change("+", kind, name, None, after))
        elif before != after:
            self.plan.changes.append(Change("~", kind, name, before, after))

    def list_of(self, doc, key):
        value = doc.get(key)
        if value is None:
            return []
        if not isinstance(value, _Seq):
            self.problem(doc.lines[key], f"{key} must be a list")
            return []
        seen = {}
        out = []
        for item in value:
            if isinstance(item, _Map) and isinstance(item.get("name"), str):
                if item["name"] in seen:
                    self.problem(item.lines["name"], f"{key}: {item['name']!r} is also "
                                                     f"defined on line {seen[item['name']]}")
                    continue
                seen[item["name"]] = item.lines["name"]
            out.append(item)
        return out

    # the three kinds of object -----------------------------------------------------------

    def team(self, node):
        if not self.check_keys(node, TEAM_KEYS, "team"):
            return None
        name = self.text(node, "name", "team", required=True)
        what = f"team {name!r}"
        lead_name = self.text(node, "lead", what)
        lead = self.user(lead_name, node.lines.get("lead"), what) if lead_name else None
        members = [self.user(n, line, what) for n, line in self.names(node, "members", what)]
        if not name or None in members or (lead_name and lead is None):
            return name
        existing = Team.objects.filter(name=name).first()
        spec = {"name": name}
        if node.get("description"):
            spec["description"] = self.text(node, "description", what)
        if lead:
            spec["lead"] = lead_name
        spec["members"] = [u.get_username() for u in members]
        before = team_spec(existing) if existing else None
        if before == spec:
            return name
        try:
            services.save_team(existing, name=name, description=spec.get("description", ""),
                               lead=lead, members=members, by=self.by, now=self.now)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                for message in messages:
                    self.problem(_line(node, key), f"{what}: {message}")
            return name
        self.record("team", name, before, spec)
        return name

    def schedule(self, node):
        if not self.check_keys(node, SCHEDULE_KEYS, "schedule"):
            return None
        name = self.text(node, "name", "schedule", required=True)
        what = f"schedule {name!r}"
        rot = node.get("rotation") or _Map()
        if not isinstance(rot, _Map):
            rot = _Map()
            self.problem(node.lines["rotation"], f"{what}: rotation must be a mapping")
        rot.lines = getattr(rot, "lines", {})
        rot.line = rot.line or node.line
        self.check_keys(rot, ROTATION_KEYS, f"{what} rotation")
        existing = Schedule.objects.select_related("team").filter(name=name).first()
        kind = self.text(rot, "type", what, default=RotationKind.WEEKLY).lower()
        if kind not in KINDS:
            self.problem(_line(rot, "type"), f"{what}: rotation type {kind!r} is not one of "
                                             f"{', '.join(KINDS)}")
        tzname = self.text(rot, "timezone", what, default="UTC")
        if tzname not in known_timezones():
            self.problem(_line(rot, "timezone"), f"{what}: unknown time zone {tzname!r}")
        day = self.text(rot, "handoff_day", what, default="monday").lower()
        if day not in DAYS:
            self.problem(_line(rot, "handoff_day"), f"{what}: handoff_day {day!r} is not a "
                                                    "weekday name")
        start_time = self.clock(rot, "start_time", what, time(9))
        length = rot.get("length_hours")
        if length is not None and (not isinstance(length, int) or isinstance(length, bool)):
            self.problem(_line(rot, "length_hours"), f"{what}: length_hours must be a number")
            length = None
        starts_on = self._start_date(rot, what, existing, kind, day, start_time, tzname)
        timeout = self.duration(node, "escalation_timeout", what, 5)
        coverage = self._coverage(node, what)
        member_source = node if "members" in node else rot
        team, usernames = self._members(member_source, what)
        if self.problems_for(what) or not name:
            return name
        spec = {"name": name}
        if node.get("description"):
            spec["description"] = self.text(node, "description", what)
        rspec = {"type": kind, "start_time": start_time.strftime("%H:%M"), "timezone": tzname}
        if kind == RotationKind.WEEKLY:
            rspec["handoff_day"] = day
        if kind == RotationKind.CUSTOM:
            rspec["length_hours"] = length
        rspec["start_date"] = starts_on.isoformat()
        spec.update(rotation=rspec, escalation_timeout=minutes(timeout),
                    members=[team.name] if team else usernames, coverage=[coverage])
        before = schedule_spec(existing) if existing else None
        if before == spec:
            return name
        data = {
            "name": name, "description": spec.get("description", ""), "rotation_kind": kind,
            "custom_length_hours": length or "", "timezone": tzname,
            "handoff_day": DAYS.index(day), "handoff_time": start_time.strftime("%H:%M"),
            "starts_on": starts_on.isoformat(), "coverage": Coverage.ALWAYS,
            "escalation_timeout_minutes": timeout, "team": team.pk if team else "",
            "members": "\n".join(usernames),
        }
        if coverage["type"] == "business":
            data.update(coverage=Coverage.BUSINESS, business_start=coverage["start"],
                        business_end=coverage["end"],
                        business_days=[DAYS.index(d) for d in coverage["days"]])
        form = ScheduleForm(data, instance=copy.copy(existing) if existing else None)
        if not form.is_valid():
            self.form_errors(form, node, what, SCHEDULE_FIELD_KEYS)
            return name
        try:
            if existing is None:
                services.create_schedule(members=form.cleaned_data["members"], by=self.by,
                                         **form.schedule_fields())
            else:
                services.update_schedule(existing, members=form.cleaned_data["members"],
                                         by=self.by, keep_shift=True, now=self.now,
                                         **form.schedule_fields())
        except ValidationError as exc:
            self.problem(node.line, f"{what}: {'; '.join(exc.messages)}")
            return name
        self.record("schedule", name, before, spec)
        return name

    def problems_for(self, what):
        return any(message.startswith(what) for _, message in self.problems)

    def _start_date(self, rot, what, existing, kind, day, start_time, tzname):
        value = rot.get("start_date")
        if value is None:
            if existing is not None:
                return existing.starts_on
            return self._current_handoff_date(kind, day, start_time, tzname)
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.problem(_line(rot, "start_date"), f"{what}: start_date {value!r} is not a "
                                                   "date YYYY-MM-DD")
            return self.now.date()

    def _current_handoff_date(self, kind, day, start_time, tzname):
        """A new rotation starts with the handoff in progress: its first member is on
        call now (the latest handoff at or before now, in the schedule's zone)."""
        if tzname not in known_timezones():
            return self.now.date()
        local = self.now.astimezone(ZoneInfo(tzname))
        candidate = local.date()
        if kind == RotationKind.WEEKLY and day in DAYS:
            candidate -= timedelta(days=(candidate.weekday() - DAYS.index(day)) % 7)
        step = timedelta(days=7 if kind == RotationKind.WEEKLY else 1)
        if datetime.combine(candidate, start_time) > local.replace(tzinfo=None):
            candidate -= step
        return candidate

    def _coverage(self, node, what):
        value = node.get("coverage")
        if value is None:
            return {"type": "24x7"}
        if isinstance(value, _Map):
            value = _Seq([value])
            value.lines = [value[0].line]
        if not isinstance(value, _Seq) or len(value) != 1:
            self.problem(_line(node, "coverage"), f"{what}: coverage must be one entry, "
                                                  '- type: "24x7" or - type: business')
            return {"type": "24x7"}
        entry = value[0]
        if not self.check_keys(entry, COVERAGE_KEYS, f"{what} coverage"):
            return {"type": "24x7"}
        kind = str(entry.get("type", "24x7"))
        if kind == "24x7":
            return {"type": "24x7"}
        if kind != "business":
            self.problem(_line(entry, "type"), f"{what}: coverage type {kind!r} is not "
                                               '"24x7" or "business"')
            return {"type": "24x7"}
        days = [d.lower() for d, _ in self.names(entry, "days", what)] or DAYS[:5]
        bad = [d for d in days if d not in DAYS]
        if bad:
            self.problem(_line(entry, "days"), f"{what}: not weekday names: {', '.join(bad)}")
        start = self.clock(entry, "start", what, time(9))
        end = self.clock(entry, "end", what, time(17))
        return {"type": "business", "days": [d for d in DAYS if d in days],
                "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}

    def _members(self, node, what):
        """(team or None, usernames): one team name, or usernames and team names (each
        team's members put in its place)."""
        entries = self.names(node, "members", what)
        if not entries:
            self.problem(_line(node, "members") or node.line, f"{what}: members are required "
                                                              "(a team or usernames)")
            return None, []
        teams = {t.name: t for t in Team.objects.filter(name__in=[n for n, _ in entries])}
        if len(entries) == 1 and entries[0][0] in teams:
            team = teams[entries[0][0]]
            return team, [u.get_username() for u in team.member_users()]
        usernames = []
        for name, line in entries:
            if name in teams:
                usernames.extend(u.get_username() for u in teams[name].member_users())
            elif name not in self.users:
                self.problem(line, f"{what}: members: unknown user or team {name!r}")
            else:
                usernames.append(name)
        return None, usernames

    def policy(self, node):
        if not self.check_keys(node, POLICY_KEYS, "escalation policy"):
            return None
        name = self.text(node, "name", "escalation policy", required=True)
        what = f"escalation policy {name!r}"
        schedules = {s.name: s for s in Schedule.objects.all()}
        major_name = self.text(node, "major_incident_schedule", what)
        if major_name and major_name not in schedules:
            self.problem(node.lines["major_incident_schedule"],
                         f"{what}: major_incident_schedule: no schedule named {major_name!r}")
        repeat = node.get("repeat", 0)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or not 0 <= repeat <= 9:
            self.problem(_line(node, "repeat"), f"{what}: repeat must be 0 to 9")
            repeat = 0
        default = node.get("default", False)
        if not isinstance(default, bool):
            self.problem(_line(node, "default"), f"{what}: default must be true or false")
        rules = node.get("rules")
        if not isinstance(rules, _Seq) or not rules:
            self.problem(_line(node, "rules"), f"{what}: rules must list at least one level")
            rules = _Seq()
        rule_specs, level_data = [], []
        for index, rule in enumerate(rules, start=1):
            rwhat = f"{what} level {index}"
            if not self.check_keys(rule, RULE_KEYS, rwhat):
                continue
            if rule.get("level", index) != index:
                self.problem(_line(rule, "level"), f"{rwhat}: levels are numbered 1, 2, 3... "
                                                   f"in order; this one says {rule['level']!r}")
            spec = {"level": index}
            schedule_name = self.text(rule, "schedule", rwhat)
            if schedule_name:
                spec["schedule"] = schedule_name
                if schedule_name not in schedules:
                    self.problem(_line(rule, "schedule"),
                                 f"{rwhat}: no schedule named {schedule_name!r}")
            users = [self.user(n, line, rwhat) for n, line in self.names(rule, "users", rwhat)]
            if users:
                spec["users"] = sorted(u.get_username() for u in users if u)
            if not schedule_name and not users:
                self.problem(rule.line, f"{rwhat}: give a schedule or users")
            timeout = self.duration(rule, "timeout", rwhat, 5)
            spec["timeout"] = minutes(timeout)
            rule_specs.append(spec)
            level_data.append((rule, rwhat, {
                "schedule": schedules[schedule_name].pk if schedule_name in schedules else "",
                "users": [u.pk for u in users if u], "timeout_minutes": timeout}))
        if self.problems_for(what) or not name:
            return name
        spec = {"name": name}
        if node.get("description"):
            spec["description"] = self.text(node, "description", what)
        if repeat:
            spec["repeat"] = repeat
        if major_name:
            spec["major_incident_schedule"] = major_name
        if default is True:
            spec["default"] = True
        spec["rules"] = rule_specs
        existing = EscalationPolicy.objects.filter(name=name).first()
        before = policy_spec(existing) if existing else None
        if before == spec:
            return name
        form = EscalationPolicyForm({
            "name": name, "description": spec.get("description", ""), "repeat_count": repeat,
            "major_incident_schedule": schedules[major_name].pk if major_name else "",
            "is_default": default is True}, instance=existing)
        level_forms = [EscalationLevelForm(data) for _, _, data in level_data]
        ok = form.is_valid()
        if not ok:
            self.form_errors(form, node, what, {"repeat_count": "repeat",
                                                "is_default": "default"})
        for level_form, (rule, rwhat, _) in zip(level_forms, level_data, strict=True):
            if not level_form.is_valid():
                ok = False
                self.form_errors(level_form, rule, rwhat, {"timeout_minutes": "timeout"})
        if ok:
            services.save_policy(existing, form=form, level_forms=level_forms, by=self.by)
            self.record("escalation policy", name, before, spec)
        return name

    def prune_unmentioned(self, teams, schedules, policies):
        for policy in EscalationPolicy.objects.exclude(name__in=policies).order_by("name"):
            self.plan.changes.append(Change("-", "escalation policy", policy.name))
            services.delete_policy(policy, by=self.by)
        for schedule in Schedule.objects.exclude(name__in=schedules).order_by("name"):
            try:
                services.delete_schedule(schedule, by=self.by)
            except ValidationError as exc:
                self.problem(None, f"--prune: {'; '.join(exc.messages)}")
                continue
            self.plan.changes.append(Change("-", "schedule", schedule.name))
        for team in Team.objects.exclude(name__in=teams).order_by("name"):
            self.plan.changes.append(Change("-", "team", team.name))
            services.delete_team(team, by=self.by)


class _DryRun(Exception):
    pass


def apply_text(text, *, path="<file>", by, dry_run=False, prune=False, now=None):
    """Apply an on-call document; return its Plan (what changed, or would change).

    1. Parse with line numbers; refuse a document that is not the expected shape.
    2. In one transaction: teams, then schedules (which may name teams), then
       policies (which name schedules); each compared with what is stored and saved
       through the services only when different; with `prune`, delete what the
       file does not name (policies first, since they hold schedules).
    3. Any problem rolls everything back and raises FileRefused with every line
       found; a dry run rolls back a clean run too, after computing its plan.
    """
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise FileRefused(path, [(mark.line + 1 if mark else None,
                                  f"not valid YAML: {exc.problem or exc.context}")]) from None
    except yaml.YAMLError as exc:
        raise FileRefused(path, [(None, f"not valid YAML: {exc}")]) from None
    if doc is None:
        doc = _Map()
        doc.lines = {}
    if not isinstance(doc, _Map):
        raise FileRefused(path, [(1, "expected a mapping with teams:, schedules: and "
                                     "escalation_policies:")])
    reader = _Reader(path, by=by, now=now or timezone.now(), prune=prune)
    for key in doc:
        if key not in TOP_KEYS:
            reader.problem(doc.lines[key], f"unknown key {key!r} (expected "
                                           f"{', '.join(sorted(TOP_KEYS))})")
    try:
        with transaction.atomic():
            teams = [reader.team(n) for n in reader.list_of(doc, "teams")]
            schedules = [reader.schedule(n) for n in reader.list_of(doc, "schedules")]
            policies = [reader.policy(n) for n in reader.list_of(doc, "escalation_policies")]
            if prune and not reader.problems:
                reader.prune_unmentioned(teams, schedules, policies)
            if reader.problems:
                raise FileRefused(path, reader.problems)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return reader.plan
