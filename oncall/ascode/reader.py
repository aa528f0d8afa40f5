"""On-call as code, the applying side: a parsed file checked with the web's forms and
applied through the services, object by object, in one transaction."""

import contextlib
import copy
import logging
from datetime import date, datetime, time

import yaml
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import services
from ..forms.policies import EscalationLevelForm, EscalationPolicyForm
from ..forms.schedules import ScheduleForm
from ..models import (
    Coverage,
    EscalationPolicy,
    RotationKind,
    Schedule,
    Team,
    known_timezones,
)
from .specs import (
    COVERAGE_KEYS,
    DAYS,
    KINDS,
    POLICY_KEYS,
    ROTATION_KEYS,
    RULE_KEYS,
    SCHEDULE_FIELD_KEYS,
    SCHEDULE_KEYS,
    TEAM_KEYS,
    TOP_KEYS,
    Change,
    FileRefused,
    LineLoader,
    Plan,
    YamlMap,
    YamlSeq,
    current_handoff_date,
    line_of,
    minutes,
    policy_spec,
    schedule_spec,
    team_spec,
)
from .values import FileValues


class _Reader(FileValues):
    """Walks the parsed file, noting problems with their lines and applying each
    object whose spec differs from the stored one."""

    def __init__(self, path, *, by, now, prune):
        self.path, self.by, self.now, self.prune = path, by, now, prune
        self.problems = []
        self.plan = Plan()
        self.users = {u.get_username(): u for u in get_user_model().objects.all()}

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
                    self.problem(line_of(node, key), f"{what}: {message}")
            return name
        self.record("team", name, before, spec)
        return name

    def schedule(self, node):
        if not self.check_keys(node, SCHEDULE_KEYS, "schedule"):
            return None
        name = self.text(node, "name", "schedule", required=True)
        what = f"schedule {name!r}"
        rot = node.get("rotation") or YamlMap()
        if not isinstance(rot, YamlMap):
            rot = YamlMap()
            self.problem(node.lines["rotation"], f"{what}: rotation must be a mapping")
        rot.lines = getattr(rot, "lines", {})
        rot.line = rot.line or node.line
        self.check_keys(rot, ROTATION_KEYS, f"{what} rotation")
        existing = Schedule.objects.select_related("team").filter(name=name).first()
        kind = self.text(rot, "type", what, default=RotationKind.WEEKLY).lower()
        if kind not in KINDS:
            self.problem(line_of(rot, "type"), f"{what}: rotation type {kind!r} is not one of "
                                             f"{', '.join(KINDS)}")
        tzname = self.text(rot, "timezone", what, default="UTC")
        if tzname not in known_timezones():
            self.problem(line_of(rot, "timezone"), f"{what}: unknown time zone {tzname!r}")
        day = self.text(rot, "handoff_day", what, default="monday").lower()
        if day not in DAYS:
            self.problem(line_of(rot, "handoff_day"), f"{what}: handoff_day {day!r} is not a "
                                                    "weekday name")
        start_time = self.clock(rot, "start_time", what, time(9))
        length = rot.get("length_hours")
        if length is not None and (not isinstance(length, int) or isinstance(length, bool)):
            self.problem(line_of(rot, "length_hours"), f"{what}: length_hours must be a number")
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
            return current_handoff_date(self.now, kind, day, start_time, tzname)
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.problem(line_of(rot, "start_date"), f"{what}: start_date {value!r} is not a "
                                                   "date YYYY-MM-DD")
            return self.now.date()

    def _coverage(self, node, what):
        value = node.get("coverage")
        if value is None:
            return {"type": "24x7"}
        if isinstance(value, YamlMap):
            value = YamlSeq([value])
            value.lines = [value[0].line]
        if not isinstance(value, YamlSeq) or len(value) != 1:
            self.problem(line_of(node, "coverage"), f"{what}: coverage must be one entry, "
                                                  '- type: "24x7" or - type: business')
            return {"type": "24x7"}
        entry = value[0]
        if not self.check_keys(entry, COVERAGE_KEYS, f"{what} coverage"):
            return {"type": "24x7"}
        kind = str(entry.get("type", "24x7"))
        if kind == "24x7":
            return {"type": "24x7"}
        if kind != "business":
            self.problem(line_of(entry, "type"), f"{what}: coverage type {kind!r} is not "
                                               '"24x7" or "business"')
            return {"type": "24x7"}
        days = [d.lower() for d, _ in self.names(entry, "days", what)] or DAYS[:5]
        bad = [d for d in days if d not in DAYS]
        if bad:
            self.problem(line_of(entry, "days"), f"{what}: not weekday names: {', '.join(bad)}")
        start = self.clock(entry, "start", what, time(9))
        end = self.clock(entry, "end", what, time(17))
        return {"type": "business", "days": [d for d in DAYS if d in days],
                "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}

    def _members(self, node, what):
        """(team or None, usernames): one team name, or usernames and team names (each
        team's members put in its place)."""
        entries = self.names(node, "members", what)
        if not entries:
            self.problem(line_of(node, "members") or node.line, f"{what}: members are required "
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
            self.problem(line_of(node, "repeat"), f"{what}: repeat must be 0 to 9")
            repeat = 0
        default = node.get("default", False)
        if not isinstance(default, bool):
            self.problem(line_of(node, "default"), f"{what}: default must be true or false")
        rules = node.get("rules")
        if not isinstance(rules, YamlSeq) or not rules:
            self.problem(line_of(node, "rules"), f"{what}: rules must list at least one level")
            rules = YamlSeq()
        rule_specs, level_data = [], []
        for index, rule in enumerate(rules, start=1):
            rwhat = f"{what} level {index}"
            if not self.check_keys(rule, RULE_KEYS, rwhat):
                continue
            if rule.get("level", index) != index:
                self.problem(line_of(rule, "level"), f"{rwhat}: levels are numbered 1, 2, 3... "
                                                   f"in order; this one says {rule['level']!r}")
            spec = {"level": index}
            schedule_name = self.text(rule, "schedule", rwhat)
            if schedule_name:
                spec["schedule"] = schedule_name
                if schedule_name not in schedules:
                    self.problem(line_of(rule, "schedule"),
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

    def prune_unmentioned(self, team_names, schedule_names, policy_names):
        for policy in EscalationPolicy.objects.exclude(name__in=policy_names).order_by("name"):
            self.plan.changes.append(Change("-", "escalation policy", policy.name))
            services.delete_policy(policy, by=self.by)
        for schedule in Schedule.objects.exclude(name__in=schedule_names).order_by("name"):
            try:
                services.delete_schedule(schedule, by=self.by)
            except ValidationError as exc:
                self.problem(None, f"--prune: {'; '.join(exc.messages)}")
                continue
            self.plan.changes.append(Change("-", "schedule", schedule.name))
        for team in Team.objects.exclude(name__in=team_names).order_by("name"):
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
        doc = yaml.load(text, Loader=LineLoader)  # noqa: S506  # nosec B506: a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise FileRefused(path, [(mark.line + 1 if mark else None,
                                  f"not valid YAML: {exc.problem or exc.context}")]) from None
    except yaml.YAMLError as exc:
        raise FileRefused(path, [(None, f"not valid YAML: {exc}")]) from None
    if doc is None:
        doc = YamlMap()
        doc.lines = {}
    if not isinstance(doc, YamlMap):
        raise FileRefused(path, [(1, "expected a mapping with teams:, schedules: and "
                                     "escalation_policies:")])
    reader = _Reader(path, by=by, now=now or timezone.now(), prune=prune)
    for key in doc:
        if key not in TOP_KEYS:
            reader.problem(doc.lines[key], f"unknown key {key!r} (expected "
                                           f"{', '.join(sorted(TOP_KEYS))})")
    try:
        with _quiet(SERVICE_LOGGERS), transaction.atomic():
            team_names = [reader.team(n) for n in reader.list_of(doc, "teams")]
            schedule_names = [reader.schedule(n) for n in reader.list_of(doc, "schedules")]
            policy_names = [reader.policy(n)
                            for n in reader.list_of(doc, "escalation_policies")]
            if prune and not reader.problems:
                reader.prune_unmentioned(team_names, schedule_names, policy_names)
            if reader.problems:
                raise FileRefused(path, reader.problems)
            if dry_run:
                raise _DryRun
    except _DryRun:
        return reader.plan
    # The audit, as the pages write it, once the change is really made.
    verbs = {"+": "created", "~": "updated", "-": "deleted"}
    for change in reader.plan.changes:
        audit.info("%s %r %s by %s", change.kind, change.name, verbs[change.op], by)
    return reader.plan


# The services log each write; inside a run that may still be refused or is a dry
# run those lines would record changes that never happen, so the run logs its own
# after the commit.
SERVICE_LOGGERS = ("oncall.services",)
audit = logging.getLogger("oncall.services")


@contextlib.contextmanager
def _quiet(names):
    loggers = [logging.getLogger(n) for n in names]
    before = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, was in zip(loggers, before, strict=True):
            lg.disabled = was
