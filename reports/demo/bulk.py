"""Generated incidents for benchmarks: plan them all, then insert them in batches.

DESIGN.md: 10,000 incidents with 50 timeline entries each, within two minutes on
PostgreSQL. Rows go in as plain tuples (COPY on PostgreSQL), not model instances.
"""

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, models, reset_queries, transaction
from django.utils import timezone

from incidents import checklists, services
from incidents.models import (
    ChecklistItem,
    Incident,
    IncidentSequence,
    Severity,
    Status,
    TimelineEntry,
    TimelineKind,
)
from mindweave_ir.markup import render_markdown
from reports.demo.aftermath import Aftermath
from reports.demo.data import (
    ESCALATION_REASONS,
    IMPACTS,
    MANUAL_ENTRIES,
    NO_ANSWERS,
    OPEN_STATUSES,
    OVERRIDE_REASONS,
    RESOLUTIONS,
    SEVERITY_WEIGHTS,
    SOURCE_WEIGHTS,
    STATUS_NOTES,
    TITLES,
    WAIVE_REASONS,
    answers,
)

WINDOW = timedelta(days=90)
BATCH = 500  # incidents per transaction in the bulk part
ENTRIES_PER_INCIDENT = 50
ROLE_LABELS = services.ROLE_FIELDS
LIFECYCLE = [Status.INVESTIGATING, Status.IDENTIFIED, Status.FIXING, Status.MONITORING]

CHECKLIST_COLUMNS = ["incident_id", "phase", "position", "text", "done_at", "done_by_id",
                     "waived_reason"]
TIMELINE_COLUMNS = ["incident_id", "occurred_at", "created_at", "author_id", "kind", "body",
                    "body_html"]


def _insert_rows(model, names, rows):
    """Insert plain tuples of values for the fields `names` (attnames), fast.

    Half a million timeline rows as model instances through bulk_create take several
    times longer (measured on PostgreSQL: 6-7 s per 50k rows against under 2 s for
    COPY), enough to miss the two-minute bar. So: COPY on PostgreSQL, executemany
    elsewhere. Fields not named get their model default, as bulk_create would.
    """
    if not rows:
        return
    meta, quote = model._meta, connection.ops.quote_name
    named = [meta.get_field(name) for name in names]
    rest = [f for f in meta.concrete_fields if not f.primary_key and f not in named]
    defaults = tuple(f.get_db_prep_save(f.get_default(), connection) for f in rest)
    table = quote(meta.db_table)
    columns = ", ".join(quote(f.column) for f in named + rest)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row + defaults)
            return
        # Datetimes as the backend stores them (SQLite: naive UTC text).
        adapt = [i for i, f in enumerate(named) if isinstance(f, models.DateTimeField)]
        values = []
        for row in rows:
            row = list(row)
            for i in adapt:
                row[i] = named[i].get_db_prep_save(row[i], connection)
            values.append((*row, *defaults))
        marks = ", ".join(["%s"] * (len(named) + len(rest)))
        # Only quoted names from the model's meta go into the text; values are parameters.
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608  # nosec B608
        cursor.executemany(sql, values)


def _fill(template, values):
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


class Bodies:
    """Timeline bodies from templates, each template rendered to HTML only once.

    Placeholders ({who}, {channel} ...) are filled into the Markdown and, HTML-escaped,
    into the cached HTML. That gives what render_markdown would for values without
    Markdown syntax: names, labels, channel names and timestamps, which is all we fill.
    """

    def __init__(self):
        self._html = {}

    def __call__(self, template, **values):
        rendered = self._html.get(template)
        if rendered is None:
            rendered = self._html[template] = render_markdown(template)
        escaped = {k: html.escape(v, quote=False) for k, v in values.items()}
        return _fill(template, values), _fill(rendered, escaped)


@dataclass
class Plan:
    """One bulk incident before it has a number: people, times and story."""

    severity: int
    status: Status
    declared_severity: int
    title: str
    service_slugs: list
    declarer: int
    commander: int
    technical_lead: int | None
    communications_lead: int | None
    joiners: list
    source: str
    times: dict
    classified: int
    override_reason: str = ""
    escalated_at: datetime | None = None
    resolution: str = ""
    sla: list = field(default_factory=list)  # (target, due, noted)


class IncidentGenerator:
    """Plans and inserts generated incidents for one seeding run, drawing from `rng`."""

    def __init__(self, *, rng, now, users, services, out):
        self.rng, self.now, self.users, self.services, self.out = rng, now, users, services, out
        self.names = {u.pk: u.get_full_name() or u.username for u in users.values()}

    def generate(self, count):
        """Insert `count` generated incidents, oldest first, BATCH per transaction.

        1. Plan every incident (people, times, status) and sort the plans by declaration.
        2. Per batch: reserve numbers from IncidentSequence under a row lock, insert the
           incidents, their services and responders, checklists and 50 timeline entries.
        3. For the batch's resolved incidents, their reviews and pages (aftermath.py).
        """
        self.bodies = Bodies()
        self.aftermath = Aftermath(rng=self.rng, now=self.now, users=self.users,
                                   insert_rows=_insert_rows)
        self.channels = set(Incident.objects.values_list("channel_name", flat=True))
        self.max_number = {}
        plans = sorted((self._plan() for _ in range(count)),
                       key=lambda p: p.times["declared_at"])
        self.out(f"Inserting {count} generated incidents...")
        done = 0
        for start in range(0, count, BATCH):
            with transaction.atomic():
                self._insert(plans[start:start + BATCH])
            reset_queries()  # with DEBUG on, the logged INSERTs would pile up in memory
            before, done = done, min(start + BATCH, count)
            if done // 1000 > before // 1000 or done == count:
                self.out(f"  {done}/{count} incidents")
        if connection.vendor == "postgresql":
            # Fresh planner statistics: without them PostgreSQL plans for the empty
            # tables it last saw, until autovacuum gets round to them.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

    def _pick_people(self, severity):
        rng, u = self.rng, self.users
        responders = [u[n] for n in ("responder", "amara", "bjorn", "chen", "diego", "elena")]
        declarer = rng.choice([u["ic"], u["manager"], *responders])
        if declarer in responders and rng.random() < 0.4:
            commander = declarer
        else:
            commander = rng.choice([u["ic"], u["ic"], u["manager"]])
        others = [r for r in responders if r != commander]
        rng.shuffle(others)
        tl = others.pop() if severity <= 3 or rng.random() < 0.3 else None
        cl = others.pop() if severity <= 2 else None
        joiners = others[:rng.randint(0, 3 if severity <= 2 else 1)]
        return declarer.pk, commander.pk, tl and tl.pk, cl and cl.pk, [j.pk for j in joiners]

    def _plan(self):
        """Draw one incident: severity, status and ordered lifecycle times."""
        rng, now = self.rng, self.now
        severity = rng.choices(list(SEVERITY_WEIGHTS), weights=SEVERITY_WEIGHTS.values())[0]
        status = Status.RESOLVED if rng.random() < 0.8 else rng.choice(OPEN_STATUSES)
        # Times scale with the severity's SLA targets: most incidents meet them (the
        # log-normal draws pass a target about one time in eight), some do not.
        respond, resolve = Severity(severity).response_target, Severity(severity).resolution_target
        if status == Status.RESOLVED:
            duration = max(timedelta(minutes=10), resolve * rng.lognormvariate(-0.7, 0.6))
            latest = now - duration - timedelta(minutes=5)
            detected = latest - (latest - (now - WINDOW)) * rng.random()
            end = detected + duration
        else:
            age = (respond if status == Status.DECLARED else resolve) * rng.uniform(0.1, 1.3)
            detected = now - max(age, timedelta(minutes=3))
            end = now - timedelta(seconds=30)
        span = end - detected
        declared = detected + min(timedelta(minutes=rng.uniform(0, 5)), span * 0.05)
        times = {
            "started_at": detected - timedelta(minutes=rng.choice((0, 2, 5, 15, 45, 180))),
            "detected_at": detected, "declared_at": declared,
            "acknowledged_at": None, "identified_at": None, "fixing_at": None,
            "mitigated_at": None, "resolved_at": None,
        }
        # How far along the lifecycle it got; a fifth of resolved ones never needed a fix.
        if status == Status.RESOLVED:
            reached = 1 if rng.random() < 0.2 else 4
        else:
            reached = LIFECYCLE.index(status) + 1 if status != Status.DECLARED else 0
        if reached:
            ack = declared + min(respond * rng.lognormvariate(-0.8, 0.7),
                                 (end - declared) * 0.3)
            times["acknowledged_at"] = ack
            marks = sorted(rng.uniform(0.1, 0.95) for _ in range(3))
            names = ["identified_at", "fixing_at", "mitigated_at"][:reached - 1]
            for name, mark in zip(names, marks, strict=False):
                times[name] = ack + (end - ack) * mark
        if status == Status.RESOLVED:
            times["resolved_at"] = end
            times["mitigated_at"] = times["mitigated_at"] or end
        declarer, commander, tl, cl, joiners = self._pick_people(severity)
        declared_severity = severity
        escalated_at = None
        if severity <= 2 and reached and rng.random() < 0.15:
            declared_severity = severity + 1
            escalated_at = times["acknowledged_at"] + (end - times["acknowledged_at"]) * 0.05
        classified, override = declared_severity, ""
        if rng.random() < 0.08:
            classified = min(4, max(1, declared_severity + rng.choice((-1, 1))))
            if classified != declared_severity:
                override = rng.choice(OVERRIDE_REASONS)
        service_slugs = rng.sample(list(self.services), rng.choice((1, 1, 1, 2, 2, 3)))
        title = rng.choice(TITLES).replace("{service}", self.services[service_slugs[0]].name)
        plan = Plan(
            severity=severity, status=status, declared_severity=declared_severity,
            title=title, service_slugs=service_slugs, declarer=declarer, commander=commander,
            technical_lead=tl, communications_lead=cl, joiners=joiners,
            source=rng.choices(list(SOURCE_WEIGHTS), weights=SOURCE_WEIGHTS.values())[0],
            times=times, classified=classified, override_reason=override,
            escalated_at=escalated_at,
            resolution=rng.choice(RESOLUTIONS) if status == Status.RESOLVED else "",
        )
        plan.sla = self._sla_breaches(plan)
        return plan

    def _sla_breaches(self, plan):
        """The breaches the SLA beat would have noted, as (target, due, noted_at).

        The beat notes a response breach only while nobody has acknowledged, and a
        resolution breach only while the incident is open; it runs every minute.
        """
        t, out = plan.times, []
        severity = Severity(plan.severity)
        response, resolution = severity.response_target, severity.resolution_target
        checks = (
            ("response", t["detected_at"] + response, t["acknowledged_at"]),
            ("resolution", t["detected_at"] + resolution, t["resolved_at"]),
        )
        for target, due, done in checks:
            # The first tick after the target passed (and after the incident existed).
            noted = max(due, t["declared_at"]) + timedelta(seconds=self.rng.uniform(1, 60))
            if noted < (done or self.now):
                out.append((target, due, noted))
        return out

    def _classification(self, severity):
        if severity == 1:
            key = self.rng.choice(("security_breach", "service_unavailable"))
        else:
            key = {2: "majority_affected", 3: "customers_affected", 4: None}[severity]
        return answers(**{key: True}) if key else dict(NO_ANSWERS)

    def _reserve(self, year, count):
        """Numbers for `count` incidents in `year`, never one already handed out."""
        if year not in self.max_number:
            pattern = re.compile(rf"^INC-{year}-(\d+)$")
            refs = Incident.objects.filter(ref__startswith=f"INC-{year}-") \
                .values_list("ref", flat=True)
            self.max_number[year] = max(
                (int(m.group(1)) for r in refs if (m := pattern.match(r))), default=0)
        sequence, _ = IncidentSequence.objects.select_for_update().get_or_create(year=year)
        first = max(sequence.last, self.max_number[year]) + 1
        sequence.last = first + count - 1
        sequence.save(update_fields=["last"])
        return first

    def _insert(self, plans):
        by_year = {}
        for plan in plans:
            by_year.setdefault(plan.times["declared_at"].year, []).append(plan)
        refs = {}
        for year, year_plans in by_year.items():
            first = self._reserve(year, len(year_plans))
            for n, plan in enumerate(year_plans):
                refs[id(plan)] = f"INC-{year}-{first + n:04d}"
        incidents = [self._incident(plan, refs[id(plan)]) for plan in plans]
        Incident.objects.bulk_create(incidents, batch_size=BATCH)
        if any(i.pk is None for i in incidents):  # backends that cannot return ids
            ids = dict(Incident.objects.filter(ref__in=[i.ref for i in incidents])
                       .values_list("ref", "pk"))
            for incident in incidents:
                incident.pk = ids[incident.ref]
        service_links, responder_links, items, entries = [], [], [], []
        for plan, incident in zip(plans, incidents, strict=True):
            service_links += [(incident.pk, self.services[s].pk) for s in plan.service_slugs]
            responder_links += [(incident.pk, u) for u in plan.joiners]
            waived = self._checklist(plan, incident, items)
            self._timeline(plan, incident, waived, entries)
        _insert_rows(Incident.services.through, ["incident_id", "service_id"], service_links)
        _insert_rows(Incident.responders.through, ["incident_id", "user_id"], responder_links)
        _insert_rows(ChecklistItem, CHECKLIST_COLUMNS, items)
        _insert_rows(TimelineEntry, TIMELINE_COLUMNS, entries)
        self.aftermath.add(list(zip(plans, incidents, strict=True)))

    def _incident(self, plan, ref):
        t = plan.times
        channel = services.channel_name_for(plan.title, t["declared_at"])
        if channel in self.channels:
            channel = f"{channel[:74]}-{ref[-4:]}"
        self.channels.add(channel)
        sla = {target: noted for target, _, noted in plan.sla}
        service_name = self.services[plan.service_slugs[0]].name
        return Incident(
            ref=ref, title=plan.title, severity=plan.severity, status=plan.status,
            description=f"{plan.title}. Alerts and dashboards linked in the channel.",
            customer_impact=IMPACTS[plan.severity].replace("{service}", service_name),
            detection_source=plan.source, channel_name=channel,
            classification=self._classification(plan.classified),
            classified_severity=plan.classified, severity_override_reason=plan.override_reason,
            resolution=plan.resolution, commander_id=plan.commander,
            technical_lead_id=plan.technical_lead,
            communications_lead_id=plan.communications_lead, declared_by_id=plan.declarer,
            declared_at=t["declared_at"], started_at=t["started_at"],
            detected_at=t["detected_at"], acknowledged_at=t["acknowledged_at"],
            identified_at=t["identified_at"], mitigated_at=t["mitigated_at"],
            resolved_at=t["resolved_at"], response_breach_noted_at=sla.get("response"),
            resolution_breach_noted_at=sla.get("resolution"),
        )

    def _between(self, start, end):
        return start + (end - start) * self.rng.random()

    def _checklist(self, plan, incident, items):
        """Tick what the incident's progress implies; returns the waived (text, time) pairs.

        Triage once acknowledged, restoration and verification once mitigated, and for a
        resolved incident every closure item ticked or (sometimes) waived.
        """
        t, rng = plan.times, self.rng
        end = t["resolved_at"] or self.now
        tickers = [p for p in (plan.commander, plan.technical_lead) if p]
        waived = []
        for phase, position, text in checklists.all_items():
            done_at, reason = None, ""
            if phase == checklists.TRIAGE and t["acknowledged_at"]:
                if rng.random() < 0.9:
                    done_at = self._between(t["acknowledged_at"], end)
            elif phase in (checklists.RESTORATION, checklists.VERIFICATION) \
                    and t["mitigated_at"]:
                if plan.status == Status.RESOLVED or rng.random() < 0.7:
                    done_at = self._between(t["mitigated_at"], end)
            elif phase == checklists.CLOSURE and t["resolved_at"]:
                if text in WAIVE_REASONS and rng.random() < 0.1:
                    reason = WAIVE_REASONS[text]
                    waived.append((text, reason, self._between(t["mitigated_at"], end)))
                else:
                    done_at = self._between(t["mitigated_at"], end)
            items.append((incident.pk, phase, position, text, done_at,
                          rng.choice(tickers) if done_at else None, reason))
        return waived

    def _timeline(self, plan, incident, waived, entries):
        """Exactly 50 entries: what the services would have written, then hand-written ones."""
        t, rng, name, body = plan.times, self.rng, self.names, self.bodies
        commander = plan.commander
        system = []  # (occurred_at, created_at, kind, author, (markdown, html))

        def add(when, kind, author, template, created=None, **values):
            system.append((when, created or when, kind, author, body(template, **values)))

        declared = f"Incident declared as **{Severity(plan.declared_severity).label}** by " \
                   "{who}; commander {commander}; channel `{channel}`."
        if plan.override_reason:
            declared += f"\n\nSeverity set over the decision tree's " \
                        f"{Severity(plan.classified).label}: {plan.override_reason}"
        add(t["declared_at"], TimelineKind.DECLARED, plan.declarer, declared,
            who=name[plan.declarer], commander=name[commander], channel=incident.channel_name)
        first_work = t["acknowledged_at"] or t["declared_at"]
        for role, user in (("technical_lead", plan.technical_lead),
                           ("communications_lead", plan.communications_lead)):
            if user:
                add(self._between(t["declared_at"], first_work), TimelineKind.ROLE, commander,
                    f"**{{user}}** is now {ROLE_LABELS[role]} (assigned by {{who}}).",
                    user=name[user], who=name[commander])
        for user in plan.joiners:
            add(self._between(t["declared_at"], t["resolved_at"] or self.now),
                TimelineKind.ROLE, user, "{who} joined the response.", who=name[user])
        path = [
            (t["acknowledged_at"], Status.INVESTIGATING),
            (t["identified_at"], Status.IDENTIFIED),
            (t["fixing_at"], Status.FIXING),
            (t["mitigated_at"] if plan.status != Status.RESOLVED or t["identified_at"]
             else None, Status.MONITORING),
        ]
        before = Status.DECLARED
        for when, to in path:
            if when is None:
                continue
            text = f"Status moved: {before.label} → **{to.label}** by {{who}}."
            note = rng.choice(STATUS_NOTES)
            add(when, TimelineKind.STATUS, commander, text + (f"\n\n{note}" if note else ""),
                who=name[commander])
            before = to
        if plan.escalated_at:
            add(plan.escalated_at, TimelineKind.SEVERITY, commander,
                f"Severity escalated: {Severity(plan.declared_severity).label} → "
                f"**{Severity(plan.severity).label}** by {{who}}.\n\n"
                f"{rng.choice(ESCALATION_REASONS)}", who=name[commander])
        for target, due, noted in plan.sla:
            add(due, TimelineKind.SLA, None,
                f"**{target.capitalize()} SLA breached**: "
                f"{Severity(plan.severity).label} target was {{due}}.",
                created=noted, due=f"{timezone.localtime(due):%Y-%m-%d %H:%M %Z}")
        for text, reason, when in waived:
            add(when, TimelineKind.CHECKLIST, commander,
                f"Checklist item waived by {{who}}: *{text}*. Reason: {reason}",
                who=name[commander])
        if t["resolved_at"]:
            add(t["resolved_at"], TimelineKind.RESOLVED, commander,
                f"Resolved by {{who}} (was {before.label}).\n\n{plan.resolution}",
                who=name[commander])
        # Hand-written notes fill the rest, between declaration and the end.
        end = t["resolved_at"] or self.now - timedelta(seconds=1)
        authors = [p for p in (commander, plan.technical_lead, plan.communications_lead,
                               *plan.joiners) if p]
        for _ in range(ENTRIES_PER_INCIDENT - len(system)):
            kind, text = rng.choice(MANUAL_ENTRIES)
            add(self._between(t["declared_at"], end), kind, rng.choice(authors), text)
        system.sort(key=lambda e: e[0])
        entries += [(incident.pk, when, created, author, kind, markdown, rendered)
                    for when, created, kind, author, (markdown, rendered) in system]
