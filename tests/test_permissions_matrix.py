"""Who may do what (issue 9 item 1): every URL and every state-changing action, called as
anonymous, Viewer, Responder, Incident Commander and Manager, against the rules of
DESIGN.md ("Security rules") and the README's "Who may do what" table.

One row per action: (method, URL, form data, expected outcome per role). Outcomes:

- "login": 302 to /accounts/login/ (the JSON API answers 401 instead);
- "deny":  403 (the Django admin, which keeps its own login, redirects a non-staff user
           to /admin/login/ instead: that is its refusal);
- "hidden": 404, only where the app deliberately hides things (another person's contact
           methods; an iCal feed without a valid token): see HIDDEN;
- "ok":    any 2xx/3xx that is not a redirect to a login page.

Each (row, role) is its own test, named like "POST incidents:resolve as viewer". A write
row names what it changes (`state`); on every refusal the test reads it again and checks
nothing changed, and on every success that it did change.

The world is built lazily per test, as the row needs it. The incidents are declared by
`commander` (an Incident Commander who is not the `ic` fixture), so the `ic` column is
allowed by its role, not by commanding; the `responder` fixture works on none of them
unless a row says so. The clock is frozen on Monday 9 March 2026, 11:30 UTC, inside the
week of `outgoing` on the handoff schedules (handing over to `responder` at 13:00 UTC).
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from incidents import ingest, services
from incidents.models import (
    ChecklistPhase,
    Incident,
    IntegrationKind,
    ManualReport,
    Severity,
    Silence,
    Status,
)
from incidents.services import join_incident, set_checklist_item
from oncall import paging
from oncall import services as oncall_services
from oncall.models import (
    ContactKind,
    ContactMethod,
    EscalationLevel,
    EscalationPolicy,
    Override,
    Schedule,
)
from oncall.roles import Role
from reports.models import ActionItem, PostIncidentReview
from reports.services import handoffs as handoff_services
from reports.services import pir as pir_services
from tests.conftest import make_user
from tests.incidents.factories import ServiceFactory, declare, note
from tests.oncall.factories import ScheduleFactory
from tests.reports.factories import finish_sections, resolved_incident

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 9, 11, 30, tzinfo=UTC)
ROLES = ("anon", "viewer", "responder", "ic", "manager")


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


# --- The world ------------------------------------------------------------------------------

class World:
    """Everything a row may need, made on first use through the services."""

    def __init__(self, users, django_user_model):
        self.users = users
        self.model = django_user_model

    def user(self, username, role):
        return make_user(self.model, username, role)

    @cached_property
    def commander(self):
        return self.user("commander", Role.INCIDENT_COMMANDER)

    @cached_property
    def outgoing(self):
        return self.user("outgoing", Role.RESPONDER)

    @cached_property
    def helper(self):
        return self.user("helper", Role.RESPONDER)

    @cached_property
    def policy(self):
        policy = EscalationPolicy.objects.create(name="Production Incidents", is_default=True)
        EscalationLevel.objects.create(policy=policy, position=1,
                                       timeout_minutes=5).users.set([self.commander])
        return policy

    @cached_property
    def service(self):
        return ServiceFactory(name="Checkout")

    @cached_property
    def incident(self):
        self.policy  # noqa: B018 - declaring pages the default policy
        return declare(self.commander, services=[self.service])

    @cached_property
    def resolvable(self):
        """An incident with every closure item ticked: only the resolution is missing."""
        incident = declare(self.commander, title="Payments slow")
        for item in incident.checklist.filter(phase=ChecklistPhase.CLOSURE):
            set_checklist_item(item, done=True, by=self.commander)
        return incident

    @cached_property
    def joined(self):
        """An incident the `responder` fixture has joined (so works on)."""
        incident = declare(self.commander, title="Search degraded")
        join_incident(incident, by=self.users["responder"])
        return incident

    @cached_property
    def entry(self):
        return note(self.incident, self.commander)

    @cached_property
    def checklist_item(self):
        return self.incident.checklist.filter(done_at__isnull=True).order_by("id").first()

    @cached_property
    def pir(self):
        """A review in review, with an action item: ready for a Manager to approve."""
        pir = finish_sections(resolved_incident(self.commander).pir, self.commander)
        pir_services.add_action_item(pir, action="Canary payments", owner=self.commander,
                                     due_date=date(2026, 3, 20), by=self.commander)
        pir_services.update_section(
            pir, section="root_cause", by=self.commander,
            expected_version=PostIncidentReview.objects.get(pk=pir.pk).version,
            data={"what_happened": "Release 42 broke payments.",
                  "why_it_happened": "No canary."})
        pir_services.submit_for_review(pir, by=self.commander)
        return PostIncidentReview.objects.get(pk=pir.pk)

    def _schedule(self, name, members):
        return ScheduleFactory(name=name, members=members, by=self.commander,
                               timezone="America/New_York", handoff_day=0,
                               handoff_time=time(9, 0), starts_on=date(2026, 1, 5))

    @cached_property
    def schedule(self):
        """`outgoing` this week, `responder` from 13:00 UTC today: responder is a member."""
        return self._schedule("Primary On-Call", [self.outgoing, self.users["responder"]])

    @cached_property
    def other_schedule(self):
        """A schedule the `responder` fixture is not a member of."""
        return self._schedule("Database On-Call", [self.outgoing, self.helper])

    @cached_property
    def override(self):
        return oncall_services.create_override(
            self.other_schedule, user=self.helper, start=NOW + timedelta(days=2),
            end=NOW + timedelta(days=2, hours=8), reason="dentist", by=self.commander)

    @cached_property
    def draft_handoff(self):
        return handoff_services.current_handoff(self.schedule, NOW)

    @cached_property
    def handed_off(self):
        """Handed off by `outgoing`, awaiting the `responder` fixture's acknowledgement."""
        schedule = self._schedule("Secondary On-Call", [self.outgoing, self.users["responder"]])
        handoff = handoff_services.current_handoff(schedule, NOW)
        return handoff_services.hand_off(handoff, summary="Quiet week.", unresolved="",
                                         expected_version=handoff.version, by=self.outgoing)

    @cached_property
    def page(self):
        """A triggered page that notified nobody yet (the engine has not run)."""
        return paging.trigger_page(title="Disk full on db-1", dedup_key="disk/db-1",
                                   policy=self.policy, severity="SEV-3")

    @cached_property
    def notified_page(self):
        """A page whose first level notified the `responder` fixture."""
        responder = self.users["responder"]
        ContactMethod.objects.create(user=responder, kind=ContactKind.EMAIL,
                                     target="responder@example.com")
        policy = EscalationPolicy.objects.create(name="Search")
        EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5
                                       ).users.set([responder])
        page = paging.trigger_page(title="Search latency", dedup_key="search/latency",
                                   policy=policy, severity="SEV-2")
        paging.run_page(page.pk, now=NOW)
        assert page.notifications.filter(user=responder).exists()
        return page

    @cached_property
    def viewer_schedule(self):
        """A schedule the `viewer` fixture is a member of."""
        return self._schedule("Support On-Call", [self.outgoing, self.users["viewer"]])

    @cached_property
    def viewer_handoff(self):
        """A draft handoff whose outgoing on-call is the `viewer` fixture."""
        schedule = self._schedule("Support Rota", [self.users["viewer"], self.helper])
        return handoff_services.current_handoff(schedule, NOW)

    @cached_property
    def viewer_override(self):
        """An override on `other_schedule` in which the `viewer` fixture covers."""
        return oncall_services.create_override(
            self.other_schedule, user=self.users["viewer"], start=NOW + timedelta(days=3),
            end=NOW + timedelta(days=3, hours=8), reason="swap", by=self.commander)

    @cached_property
    def viewer_page(self):
        """A page whose first level notified the `viewer` fixture."""
        viewer = self.users["viewer"]
        ContactMethod.objects.create(user=viewer, kind=ContactKind.EMAIL,
                                     target="viewer@example.com")
        policy = EscalationPolicy.objects.create(name="Status page")
        EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5
                                       ).users.set([viewer])
        page = paging.trigger_page(title="Status page stale", dedup_key="status/stale",
                                   policy=policy, severity="SEV-3")
        paging.run_page(page.pk, now=NOW)
        assert page.notifications.filter(user=viewer).exists()
        return page

    @cached_property
    def silence(self):
        return services.create_silence(
            matchers=[{"name": "alertname", "value": "DiskFull", "is_regex": False,
                       "is_equal": True}],
            ends_at=NOW + timedelta(hours=4), comment="Disk swap", by=self.commander)

    @cached_property
    def contact_method(self):
        """The commander's: nobody else's to change."""
        return ContactMethod.objects.create(user=self.commander, kind=ContactKind.EMAIL,
                                            target="commander@example.com")

    @cached_property
    def alertmanager_token(self):
        return ingest.create_integration(name="Prometheus",
                                         kind=IntegrationKind.ALERTMANAGER)[1]

    @cached_property
    def report(self):
        return services.submit_report(what="Checkout is slow", who_affected="EU",
                                            since=NOW - timedelta(minutes=10),
                                            by=self.users["viewer"])

    @cached_property
    def events_token(self):
        return ingest.create_integration(name="Datadog", kind=IntegrationKind.EVENTS)[1]

    @cached_property
    def calendar_token(self):
        return oncall_services.regenerate_calendar_token(self.outgoing).calendar_token

    def api_token(self, role):
        return oncall_services.create_api_token(self.users[role], name="matrix")[1]


def fresh(obj, *fields):
    obj = type(obj).objects.get(pk=obj.pk)
    return tuple(getattr(obj, name) for name in fields)


# --- The matrix -----------------------------------------------------------------------------

READ = {"anon": "login", "viewer": "ok", "responder": "ok", "ic": "ok", "manager": "ok"}
PUBLIC = {role: "ok" for role in ROLES}
NOT_VIEWER = {**READ, "viewer": "deny"}
COMMAND = {**NOT_VIEWER, "responder": "deny"}  # IC and Manager roles (or the commander)
MANAGER_ONLY = {**COMMAND, "ic": "deny"}
API_READ = {**READ, "anon": "login"}  # "login" is a 401 for the API
# Deliberately hidden (404): another person's contact methods are "not found" for everyone,
# and a feed or link without a valid token says nothing about what exists.
HIDDEN = {"anon": "login", "viewer": "hidden", "responder": "hidden", "ic": "hidden",
          "manager": "hidden"}


@dataclass
class Row:
    method: str
    name: str  # the URL name, for the test id
    url: object  # World -> path
    expect: dict
    data: object = None  # World -> form data (or a JSON body for the API)
    state: object = None  # World -> what a refusal must leave unchanged
    kind: str = "page"  # "page", "api" or "admin"
    marks: tuple = field(default_factory=tuple)


def u(name, *args):
    return lambda w: reverse(name, args=[a(w) if callable(a) else a for a in args])


def ref(attr):
    return lambda w: getattr(w, attr).ref


DECLARE_DATA = {"q_security_breach": "no", "q_service_unavailable": "no",
                "q_majority_affected": "yes", "declare": "1", "title": "Checkout errors",
                "severity": "2", "detection_source": "datadog", "description": "500s",
                "customer_impact": "Some payments fail"}

SCHEDULE_DATA = {
    "name": "Tertiary On-Call", "description": "", "rotation_kind": "weekly",
    "custom_length_hours": "", "timezone": "America/New_York", "handoff_day": "0",
    "handoff_time": "09:00", "starts_on": "2026-01-05", "coverage": "24x7",
    "business_start": "", "business_end": "", "escalation_timeout_minutes": "15",
}


def incident_state(attr, *fields):
    return lambda w: fresh(getattr(w, attr), *fields)


ROWS = [
    # --- incidents: reading
    Row("GET", "incidents:dashboard", u("incidents:dashboard"), READ),
    Row("GET", "incidents:list", u("incidents:list"), READ),
    Row("GET", "incidents:list?format=csv", lambda w: reverse("incidents:list") + "?format=csv",
        READ),
    Row("GET", "incidents:detail", u("incidents:detail", ref("incident")), READ),
    Row("GET", "incidents:alerts", u("incidents:alerts"), READ),
    Row("GET", "incidents:automations", u("incidents:automations"), READ),
    Row("GET", "incidents:triage", u("incidents:triage"), READ),
    Row("GET", "incidents:silences", u("incidents:silences"), READ),
    # --- incidents: declaring and commanding
    Row("GET", "incidents:declare", u("incidents:declare"), NOT_VIEWER),
    Row("POST", "incidents:declare", u("incidents:declare"), NOT_VIEWER,
        data=lambda w: DECLARE_DATA, state=lambda w: Incident.objects.count()),
    Row("POST", "incidents:transition", u("incidents:transition", ref("incident")), COMMAND,
        data=lambda w: {"to": Status.INVESTIGATING, "note": "Looking."},
        state=incident_state("incident", "status")),
    Row("POST", "incidents:severity", u("incidents:severity", ref("incident")), COMMAND,
        data=lambda w: {"to": str(int(Severity.SEV1)), "reason": ""},
        state=incident_state("incident", "severity")),
    Row("POST", "incidents:role", u("incidents:role", ref("incident")), COMMAND,
        data=lambda w: {"role": "technical_lead", "user": w.helper.pk},
        state=incident_state("incident", "technical_lead_id")),
    Row("POST", "incidents:resolve", u("incidents:resolve", ref("resolvable")), COMMAND,
        data=lambda w: {"resolution": "Rolled back release 42."},
        state=incident_state("resolvable", "status", "resolved_at")),
    Row("POST", "incidents:join", u("incidents:join", ref("incident")), NOT_VIEWER,
        data=lambda w: {},
        state=lambda w: sorted(w.incident.responders.values_list("pk", flat=True))),
    # --- incidents: timeline and checklist (responders only on incidents they work on)
    Row("POST", "incidents:timeline", u("incidents:timeline", ref("incident")), COMMAND,
        data=lambda w: {"body": "Restarted pods.", "kind": "note"},
        state=lambda w: w.incident.timeline.count()),
    Row("POST", "incidents:timeline (joined)", u("incidents:timeline", ref("joined")),
        NOT_VIEWER, data=lambda w: {"body": "Restarted pods.", "kind": "note"},
        state=lambda w: w.joined.timeline.count()),
    Row("POST", "incidents:entry-edit",
        u("incidents:entry-edit", ref("incident"), lambda w: w.entry.pk), COMMAND,
        data=lambda w: {"body": "Restarted the pods twice.", "kind": "note",
                        "version": w.entry.version},
        state=lambda w: fresh(w.entry, "body", "version")),
    Row("POST", "incidents:entry-delete",
        u("incidents:entry-delete", ref("incident"), lambda w: w.entry.pk), COMMAND,
        data=lambda w: {"version": w.entry.version},
        state=lambda w: fresh(w.entry, "deleted_at", "version")),
    Row("POST", "incidents:checklist-toggle",
        u("incidents:checklist-toggle", ref("incident"), lambda w: w.checklist_item.pk),
        COMMAND, data=lambda w: {"done": "on"},
        state=lambda w: fresh(w.checklist_item, "done_at")),
    Row("POST", "incidents:checklist-waive",
        u("incidents:checklist-waive", ref("incident"), lambda w: w.checklist_item.pk),
        COMMAND, data=lambda w: {"reason": "Not applicable to a drill."},
        state=lambda w: fresh(w.checklist_item, "waived_reason")),
    # --- incidents: alerts, silences, triage (Incident Commanders and Managers)
    Row("POST", "incidents:silences", u("incidents:silences"), COMMAND,
        data=lambda w: {"matchers": 'alertname="DiskFull"', "integration": "",
                        "starts_at": "", "ends_at": "2026-03-09T20:00",
                        "comment": "Disk swap on db-1"},
        state=lambda w: Silence.objects.count()),
    Row("POST", "incidents:silence-expire",
        u("incidents:silence-expire", lambda w: w.silence.pk), COMMAND, data=lambda w: {},
        state=lambda w: fresh(w.silence, "ends_at")),
    Row("POST", "incidents:report-dismiss", u("incidents:report-dismiss",
                                              lambda w: w.report.pk), COMMAND,
        data=lambda w: {"reason": "Duplicate of INC-2026-0001."},
        state=lambda w: ManualReport.objects.get(pk=w.report.pk).state),
    # --- on call
    Row("GET", "oncall:schedules", u("oncall:schedules"), READ),
    Row("GET", "oncall:schedule", u("oncall:schedule", lambda w: w.schedule.pk), READ),
    Row("GET", "oncall:schedule-create", u("oncall:schedule-create"), COMMAND),
    Row("POST", "oncall:schedule-create", u("oncall:schedule-create"), COMMAND,
        data=lambda w: {**SCHEDULE_DATA,
                        "members": f"{w.outgoing.username}\n{w.helper.username}"},
        state=lambda w: Schedule.objects.count()),
    Row("POST", "oncall:schedule-edit", u("oncall:schedule-edit", lambda w: w.schedule.pk),
        COMMAND, data=lambda w: {**SCHEDULE_DATA, "name": "Renamed On-Call",
                                 "members": f"{w.outgoing.username}\nresponder"},
        state=lambda w: fresh(w.schedule, "name")),
    Row("POST", "oncall:override-create (member)",
        u("oncall:override-create", lambda w: w.schedule.pk), NOT_VIEWER,
        data=lambda w: {"user": w.outgoing.pk, "start": "2026-03-11T10:00",
                        "end": "2026-03-11T18:00", "reason": "dentist"},
        state=lambda w: Override.objects.filter(schedule=w.schedule).count()),
    Row("POST", "oncall:override-create (not a member)",
        u("oncall:override-create", lambda w: w.other_schedule.pk), COMMAND,
        data=lambda w: {"user": w.helper.pk, "start": "2026-03-11T10:00",
                        "end": "2026-03-11T18:00", "reason": "dentist"},
        state=lambda w: Override.objects.filter(schedule=w.other_schedule).count()),
    # README: Viewers may not add overrides, even on a schedule they are a member of.
    Row("POST", "oncall:override-create (viewer is a member)",
        u("oncall:override-create", lambda w: w.viewer_schedule.pk), COMMAND,
        data=lambda w: {"user": w.outgoing.pk, "start": "2026-03-11T10:00",
                        "end": "2026-03-11T18:00", "reason": "dentist"},
        state=lambda w: Override.objects.filter(schedule=w.viewer_schedule).count()),
    Row("POST", "oncall:override-delete (not a member)",
        u("oncall:override-delete", lambda w: w.other_schedule.pk, lambda w: w.override.pk),
        COMMAND, data=lambda w: {},
        state=lambda w: Override.objects.filter(pk=w.override.pk).exists()),
    # README: Viewers may not remove overrides, even one in which they cover.
    Row("POST", "oncall:override-delete (viewer covers)",
        u("oncall:override-delete", lambda w: w.other_schedule.pk,
          lambda w: w.viewer_override.pk),
        COMMAND, data=lambda w: {},
        state=lambda w: Override.objects.filter(pk=w.viewer_override.pk).exists()),
    Row("GET", "oncall:pages", u("oncall:pages"), READ),
    Row("GET", "oncall:page", u("oncall:page", lambda w: w.page.pk), READ),
    # The page notified nobody: a Responder may not acknowledge it (README).
    Row("POST", "oncall:page-ack", u("oncall:page-ack", lambda w: w.page.pk), COMMAND,
        data=lambda w: {}, state=lambda w: fresh(w.page, "status", "acknowledged_by_id")),
    # This one notified the `responder` fixture: they may acknowledge it.
    Row("POST", "oncall:page-ack (notified responder)",
        u("oncall:page-ack", lambda w: w.notified_page.pk), NOT_VIEWER, data=lambda w: {},
        state=lambda w: fresh(w.notified_page, "status", "acknowledged_by_id")),
    # README: Viewers may not acknowledge pages, even one that notified them.
    Row("POST", "oncall:page-ack (notified viewer)",
        u("oncall:page-ack", lambda w: w.viewer_page.pk), COMMAND, data=lambda w: {},
        state=lambda w: fresh(w.viewer_page, "status", "acknowledged_by_id")),
    Row("GET", "oncall:profile", u("oncall:profile"), READ),
    Row("POST", "oncall:contact-add", u("oncall:contact-add"), READ,
        data=lambda w: {"new-kind": "email", "new-target": "me@example.com",
                        "new-label": "work", "new-notify_after_minutes": "0",
                        "new-enabled": "on"}),
    Row("POST", "oncall:contact-edit (someone else's)",
        u("oncall:contact-edit", lambda w: w.contact_method.pk), HIDDEN,
        data=lambda w: {f"cm{w.contact_method.pk}-target": "evil@example.com",
                        f"cm{w.contact_method.pk}-notify_after_minutes": "0"},
        state=lambda w: fresh(w.contact_method, "target")),
    # --- reports
    Row("GET", "reports:pir", u("reports:pir", lambda w: w.pir.incident.ref), READ),
    Row("GET", "reports:pir-pdf", u("reports:pir-pdf", lambda w: w.pir.incident.ref), READ,
        marks=(pytest.mark.pdf,)),
    # The review's incident was run by `commander`: the responder does not work on it.
    Row("POST", "reports:pir-section",
        u("reports:pir-section", lambda w: w.pir.incident.ref, "summary"), COMMAND,
        data=lambda w: {"version": w.pir.version, "impact": "EU customers could not pay."},
        state=lambda w: fresh(w.pir, "impact", "version")),
    Row("POST", "reports:action-item-add",
        u("reports:action-item-add", lambda w: w.pir.incident.ref), COMMAND,
        data=lambda w: {"action": "Alert on checkout 5xx", "owner": w.commander.pk,
                        "due_date": "2026-03-30", "priority": "P1", "kind": "corrective"},
        state=lambda w: ActionItem.objects.filter(pir=w.pir).count()),
    Row("POST", "reports:pir-workflow approve",
        u("reports:pir-workflow", lambda w: w.pir.incident.ref), MANAGER_ONLY,
        data=lambda w: {"action": "approve", "reason": ""},
        state=lambda w: fresh(w.pir, "state", "approved_by_id")),
    Row("GET", "reports:handoffs", u("reports:handoffs"), READ),
    Row("GET", "reports:handoff", u("reports:handoff", lambda w: w.draft_handoff.pk), READ),
    # `outgoing` holds the shift: of the fixtures, only the Manager may hand it off.
    Row("POST", "reports:handoff-save hand_off",
        u("reports:handoff-save", lambda w: w.draft_handoff.pk), MANAGER_ONLY,
        data=lambda w: {"action": "hand_off", "summary": "Quiet week.", "unresolved": "",
                        "version": w.draft_handoff.version},
        state=lambda w: fresh(w.draft_handoff, "state", "summary", "version")),
    # README: a Viewer may not write or hand off a handoff, even as the outgoing on-call.
    Row("POST", "reports:handoff-save hand_off (viewer is outgoing)",
        u("reports:handoff-save", lambda w: w.viewer_handoff.pk), MANAGER_ONLY,
        data=lambda w: {"action": "hand_off", "summary": "Quiet week.", "unresolved": "",
                        "version": w.viewer_handoff.version},
        state=lambda w: fresh(w.viewer_handoff, "state", "summary", "version")),
    # Handed to the `responder` fixture: only they acknowledge, whatever the others' roles.
    Row("POST", "reports:handoff-ack", u("reports:handoff-ack", lambda w: w.handed_off.pk),
        {"anon": "login", "viewer": "deny", "responder": "ok", "ic": "deny",
         "manager": "deny"}, data=lambda w: {},
        state=lambda w: fresh(w.handed_off, "state", "acknowledged_by_id")),
    Row("GET", "reports:metrics", u("reports:metrics"), READ),
    # --- the Django admin: Managers (staff) only
    Row("GET", "admin:index", u("admin:index"), MANAGER_ONLY, kind="admin"),
    # --- public: no login
    Row("GET", "healthz", u("healthz"), PUBLIC),
    Row("GET", "readyz", u("readyz"), PUBLIC),
    # Off unless METRICS_TOKEN / METRICS_ALLOWED_NETWORKS are set; a session never opens it.
    Row("GET", "metrics", u("metrics"), {role: "hidden" for role in ROLES}),
    Row("GET", "status", u("status"), PUBLIC),
    Row("GET", "status-json", u("status-json"), PUBLIC),
    Row("GET", "oncall:my-calendar-feed",
        lambda w: reverse("oncall:my-calendar-feed") + f"?token={w.calendar_token}", PUBLIC),
    Row("GET", "oncall:schedule-calendar-feed",
        lambda w: reverse("oncall:schedule-calendar-feed", args=[w.schedule.pk])
        + f"?token={w.calendar_token}", PUBLIC),
    Row("GET", "oncall:my-calendar-feed (bad token)",
        lambda w: reverse("oncall:my-calendar-feed") + "?token=not-a-token",
        {role: "hidden" for role in ROLES}),
    Row("GET", "oncall:one-click-ack",
        lambda w: reverse("oncall:one-click-ack",
                          args=[paging.ack_url(w.page, w.commander).rsplit("/", 2)[-2]]),
        PUBLIC),
    Row("POST", "events-enqueue", u("events-enqueue"), PUBLIC, kind="json",
        data=lambda w: {"routing_key": w.events_token, "event_action": "trigger",
                        "dedup_key": "disk/db-2",
                        "payload": {"summary": "Disk full on db-2", "source": "db-2",
                                    "severity": "warning"}}),
    Row("POST", "alertmanager-webhook",
        lambda w: reverse("alertmanager-webhook", args=[w.alertmanager_token]), PUBLIC,
        kind="json", data=lambda w: {
            "version": "4", "groupKey": '{}:{alertname="DiskFull"}', "status": "firing",
            "receiver": "mindweave", "groupLabels": {"alertname": "DiskFull"},
            "commonLabels": {"alertname": "DiskFull", "severity": "warning"},
            "commonAnnotations": {}, "externalURL": "http://am:9093", "truncatedAlerts": 0,
            "alerts": [{"status": "firing",
                        "labels": {"alertname": "DiskFull", "severity": "warning"},
                        "annotations": {"summary": "Disk full on db-3"},
                        "startsAt": "2026-03-09T11:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom/graph", "fingerprint": "0123456789abcdef"}],
        }),
    # --- the JSON API (Bearer tokens; 401 without one)
    Row("GET", "api:list_incidents", lambda w: "/api/v1/incidents/", API_READ, kind="api"),
    Row("GET", "api:get_incident",
        lambda w: f"/api/v1/incidents/{w.incident.ref}/", API_READ, kind="api"),
    Row("POST", "api:declare", lambda w: "/api/v1/incidents/", NOT_VIEWER, kind="api",
        data=lambda w: {"title": "Checkout errors", "severity": 2},
        state=lambda w: Incident.objects.count()),
    Row("POST", "api:add_entry",
        lambda w: f"/api/v1/incidents/{w.incident.ref}/timeline/", COMMAND, kind="api",
        data=lambda w: {"body": "Restarted pods.", "kind": "note"},
        state=lambda w: w.incident.timeline.count()),
    Row("POST", "api:transition",
        lambda w: f"/api/v1/incidents/{w.incident.ref}/transition/", COMMAND, kind="api",
        data=lambda w: {"to": "investigating", "note": "Looking."},
        state=incident_state("incident", "status")),
]


def _cells():
    for row in ROWS:
        for role in ROLES:
            yield pytest.param(row, role, id=f"{row.method} {row.name} as {role}",
                               marks=row.marks)


# --- The test -------------------------------------------------------------------------------

def _client(world, row, role):
    client = Client()
    headers = {}
    if row.kind == "api":
        if role != "anon":
            headers["HTTP_AUTHORIZATION"] = f"Bearer {world.api_token(role)}"
    elif role != "anon":
        client.force_login(world.users[role])
    return client, headers


def _call(client, row, url, data, headers):
    if row.method == "GET":
        return client.get(url, **headers)
    if row.kind in ("api", "json"):
        return client.post(url, json.dumps(data), content_type="application/json", **headers)
    return client.post(url, data, **headers)


def _outcome(row, role, response):
    status, location = response.status_code, response.get("Location", "")
    if row.kind == "api" and status == 401:
        return "login"
    if status in (301, 302) and location.startswith("/accounts/login/"):
        return "login"
    if row.kind == "admin" and status == 302 and location.startswith("/admin/login/"):
        # The admin keeps its own login page; for a logged-in user who is not staff,
        # being sent there is the admin's refusal.
        return "login" if role == "anon" else "deny"
    if status == 403:
        return "deny"
    if status == 404:
        return "hidden"
    if 200 <= status < 400:
        return "ok"
    return f"HTTP {status}"


@pytest.mark.parametrize(("row", "role"), list(_cells()))
def test_permission(row, role, viewer, responder, ic, manager, django_user_model):
    world = World({"viewer": viewer, "responder": responder, "ic": ic, "manager": manager},
                  django_user_model)
    url = row.url(world)
    data = row.data(world) if row.data else None
    before = row.state(world) if row.state else None
    client, headers = _client(world, row, role)

    response = _call(client, row, url, data, headers)

    expected = row.expect[role]
    got = _outcome(row, role, response)
    assert got == expected, (
        f"{row.method} {url} as {role}: expected {expected}, got {got} "
        f"(HTTP {response.status_code} {response.get('Location', '')})")
    if row.state and expected != "ok":
        assert row.state(world) == before, f"{row.method} {url} as {role} changed the state"
    elif row.state:  # and a success really did it
        assert row.state(world) != before, f"{row.method} {url} as {role} changed nothing"
