"""`manage.py seed_demo [--incidents N]`: demo users, services and incidents.

Idempotent. Users, profiles and services are updated in place; incidents are only
added until at least N exist. The first dozen are scripted scenarios played through
incidents.services, exactly as real use writes them, then moved back in time. The
rest are bulk-inserted for benchmarks (DESIGN.md: 10,000 incidents with 50 timeline
entries each, within two minutes on PostgreSQL).

Demo data only: the shared password below must never reach production settings.
"""

import html
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, reset_queries, transaction
from django.db.models import Max
from django.utils import timezone

from incidents import checklists, classification, services
from incidents.models import (
    ChecklistItem,
    DetectionSource,
    Incident,
    IncidentSequence,
    Service,
    Severity,
    Status,
    TimelineEntry,
    TimelineKind,
)
from mindweave_ir.markup import render_markdown
from oncall.models import Profile
from oncall.roles import Role

PASSWORD = "mindweave-demo"
WINDOW = timedelta(days=90)
BATCH = 500  # incidents per transaction in the bulk part
ENTRIES_PER_INCIDENT = 50

SERVICES = [
    ("API Gateway", "api-gateway", "Public REST API edge: routing, auth, rate limits."),
    ("Web App", "web-app", "The customer-facing web application."),
    ("Payments", "payments", "Checkout, card payments and invoicing."),
    ("Auth", "auth", "Login, SSO, sessions and API keys."),
    ("Search", "search", "Indexing and search queries."),
    ("Notifications", "notifications", "E-mail, push and webhook delivery."),
    ("Data Pipeline", "data-pipeline", "Event ingestion, nightly jobs and reports."),
    ("Internal Tools", "internal-tools", "Admin dashboards and back-office tools."),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str
    tz: str
    is_staff: bool = False


USERS = [
    DemoUser("ic", "Iris", "Calder", Role.INCIDENT_COMMANDER, "America/New_York"),
    DemoUser("responder", "Ravi", "Shah", Role.RESPONDER, "Europe/London"),
    DemoUser("manager", "Marta", "Keller", Role.MANAGER, "Europe/Berlin", is_staff=True),
    DemoUser("viewer", "Victor", "Okafor", Role.VIEWER, "UTC"),
    DemoUser("amara", "Amara", "Nwosu", Role.RESPONDER, "Africa/Lagos"),
    DemoUser("bjorn", "Bjorn", "Lindqvist", Role.RESPONDER, "Europe/Stockholm"),
    DemoUser("chen", "Chen", "Wei", Role.RESPONDER, "Asia/Singapore"),
    DemoUser("diego", "Diego", "Alvarez", Role.RESPONDER, "America/Sao_Paulo"),
    DemoUser("elena", "Elena", "Popescu", Role.RESPONDER, "Europe/Bucharest"),
]
LOGINS = ["ic", "responder", "manager", "viewer"]


# --- Scripted scenarios, played through services.py -------------------------------
#
# Times are minutes after detection. A scenario with `days_ago` is detected that
# many days back; one with `minutes_ago` is still going on. Each step is
# (minute, actor, verb, *args); see Command._step for the verbs.

@dataclass(frozen=True)
class Scenario:
    title: str
    severity: int
    answers: dict
    description: str
    impact: str
    source: str
    services: tuple
    declarer: str
    steps: tuple = ()
    commander: str | None = None
    override_reason: str = ""
    days_ago: float = 0
    minutes_ago: float = 0
    started_before: float = 5
    declare_after: float = 2


NO_ANSWERS = {q: classification.NO for q in classification.QUESTION_KEYS}


def _answers(**yes):
    """Decision-tree answers: "no" up to the first key given "yes"."""
    out = {}
    for key in classification.QUESTION_KEYS:
        out[key] = classification.YES if key in yes else classification.NO
        if key in yes:
            break
    return out


SCENARIOS = (
    Scenario(
        "Card payments failing at checkout (502 from payment provider)", 1,
        _answers(service_unavailable=True),
        "Checkout calls to the payment service return 502 Bad Gateway; every request "
        "to the card provider fails its TLS handshake.",
        "No customer can complete a card payment, in any region.",
        DetectionSource.DATADOG, ("payments", "api-gateway", "web-app"), "ic",
        days_ago=6, started_before=4, declare_after=3, steps=(
            (4, "ic", "status", Status.INVESTIGATING, "Error rate at 100% on `/v1/charges`."),
            (5, "ic", "role", "technical_lead", "responder"),
            (6, "ic", "role", "communications_lead", "amara"),
            (7, "responder", "tick", checklists.TRIAGE),
            (9, "amara", "note", "Status page set to **Major outage** for Payments; support "
                                 "briefed in #support-escalations."),
            (14, "responder", "finding", "The provider rotated its TLS chain; our gateway pins "
                                         "the old intermediate CA, so every handshake fails."),
            (16, "ic", "status", Status.IDENTIFIED, "Root cause: stale pinned CA bundle."),
            (18, "responder", "action", "Deploying `payments-gw` with the provider's published "
                                        "CA bundle."),
            (19, "ic", "status", Status.FIXING, ""),
            (27, "responder", "action", "Rolled out to all gateway pods; handshakes succeed."),
            (28, "ic", "status", Status.MONITORING, "Charges succeeding; watching for 15 min."),
            (30, "responder", "tick", checklists.RESTORATION),
            (44, "responder", "tick", checklists.VERIFICATION),
            (45, "amara", "note", "Final customer update sent; status page **Resolved**."),
            (46, "ic", "tick", checklists.CLOSURE),
            (47, "ic", "resolve", "Replaced the pinned CA bundle with the provider's chain; "
                                  "payments recovered. Review scheduled."),
        ),
    ),
    Scenario(
        "Admin API key leaked in a public repository", 1, _answers(security_breach=True),
        "Secret scanning flagged an internal admin API key committed to a public fork of "
        "the CLI.",
        "No sign of use; the key could read customer account metadata.",
        DetectionSource.ENGINEERING, ("auth", "internal-tools"), "manager", commander="ic",
        days_ago=19, started_before=90, declare_after=4, steps=(
            (5, "ic", "status", Status.INVESTIGATING, "Key owner found; revoking now."),
            (6, "ic", "role", "technical_lead", "chen"),
            (7, "ic", "role", "communications_lead", "elena"),
            (8, "chen", "action", "Revoked the key and rotated the admin API signing secret."),
            (10, "chen", "tick", checklists.TRIAGE),
            (14, "chen", "finding", "Audit log: no request with the leaked key from outside "
                                    "our CI address range."),
            (15, "ic", "status", Status.IDENTIFIED, "Exposure limited to the key itself."),
            (22, "chen", "action", "Fork history purged with GitHub support; the key pattern "
                                   "is now blocked by pre-commit secret scanning."),
            (24, "ic", "status", Status.MONITORING, ""),
            (25, "chen", "tick", checklists.RESTORATION),
            (26, "chen", "tick", checklists.VERIFICATION),
            (38, "elena", "note", "Security and legal informed; counsel advises no customer "
                                  "notification."),
            (40, "ic", "waive", "Send final customer communication",
             "No customer data was accessed; counsel advised against notifying."),
            (41, "ic", "tick", checklists.CLOSURE),
            (42, "ic", "resolve", "Key revoked and secret rotated; no use found in audit logs."),
        ),
    ),
    Scenario(
        "Search results stale by up to two hours", 2, _answers(majority_affected=True),
        "Newly created records do not show up in search; the indexer is far behind.",
        "Most customers see outdated search results.",
        DetectionSource.CUSTOMER_SUPPORT, ("search", "data-pipeline"), "responder",
        commander="ic", minutes_ago=150, started_before=60, declare_after=4, steps=(
            (6, "ic", "status", Status.INVESTIGATING, ""),
            (8, "ic", "role", "technical_lead", "diego"),
            (9, "diego", "tick", checklists.TRIAGE),
            (25, "diego", "finding", "Indexer consumer lag at 1.9M messages; one partition is "
                                     "stuck on a malformed message."),
            (27, "ic", "status", Status.IDENTIFIED, ""),
            (35, "ic", "status", Status.FIXING, ""),
            (40, "diego", "action", "Skipped the malformed message and restarted the consumer "
                                    "group."),
            (70, "ic", "status", Status.MONITORING, "Lag under 1,000; backlog draining."),
            (75, "diego", "tick", checklists.RESTORATION),
            (90, "diego", "note", "Backlog at 12k messages, falling about 20k a minute."),
        ),
    ),
    Scenario(
        "Login takes over 10 seconds for EU customers", 2, _answers(customers_affected=True),
        "Login and session refresh are very slow in eu-west-1.",
        "EU customers wait 10-30 s to log in; some give up.",
        DetectionSource.CLOUDWATCH, ("auth", "web-app"), "ic",
        override_reason="EU is 60% of our logins; this is a major degradation.",
        minutes_ago=95, started_before=15, declare_after=3, steps=(
            (3, "ic", "status", Status.INVESTIGATING, ""),
            (4, "ic", "role", "technical_lead", "responder"),
            (5, "ic", "role", "communications_lead", "elena"),
            (6, "responder", "tick", checklists.TRIAGE),
            (12, "elena", "note", "Status page: *Degraded performance* for Auth (EU)."),
            (30, "responder", "finding", "Session cache evictions spiked after a node "
                                         "replacement; p99 GET at 3.2 s."),
            (32, "ic", "status", Status.IDENTIFIED, ""),
            (45, "responder", "action", "Scaling the session cache cluster from 3 to 5 nodes."),
            (46, "ic", "status", Status.FIXING, "Scale-out in progress, about 20 minutes."),
        ),
    ),
    Scenario(
        "E-mail notifications delayed by up to 40 minutes", 3,
        _answers(customers_affected=True),
        "Transactional e-mail queues are growing; delivery is slow but nothing is lost.",
        "Customers get password resets and alerts late.",
        DetectionSource.DATADOG, ("notifications",), "amara",
        minutes_ago=200, started_before=30, declare_after=5, steps=(
            (10, "amara", "status", Status.INVESTIGATING, ""),
            (12, "amara", "tick", checklists.TRIAGE),
            (50, "amara", "finding", "The e-mail provider rate-limits our sending IP after "
                                     "yesterday's volume spike; queue depth 48k."),
            (55, "amara", "status", Status.IDENTIFIED, "Waiting for the provider."),
            (80, "amara", "note", "Provider ticket opened; they estimate two hours."),
        ),
    ),
    Scenario(
        "Intermittent 504 errors on CSV exports", 3, _answers(customers_affected=True),
        "Large CSV exports time out at the gateway.",
        "Some customers cannot export more than a few months of data.",
        DetectionSource.CUSTOMER_SUPPORT, ("web-app", "api-gateway"), "responder",
        minutes_ago=70, started_before=120, declare_after=5, steps=(
            (15, "responder", "status", Status.INVESTIGATING, ""),
            (20, "bjorn", "join"),
            (25, "bjorn", "note", "Reproduced with a 90-day export of a large account: the "
                                  "request hits the gateway's 60 s timeout."),
        ),
    ),
    Scenario(
        "Internal admin dashboard charts not loading", 4, NO_ANSWERS,
        "Charts on the internal admin dashboard stay empty.",
        "None for customers; support staff lose their usage charts.",
        DetectionSource.ENGINEERING, ("internal-tools",), "chen",
        minutes_ago=40, started_before=60, declare_after=1, steps=(
            (5, "chen", "note", "The charts API answers 403 since the SSO group rename."),
        ),
    ),
    Scenario(
        "Nightly data pipeline job failing; daily reports missing", 3,
        _answers(customers_affected=True),
        "The nightly aggregation job fails, so daily reports are not generated.",
        "Customers have no daily report for the last two days.",
        DetectionSource.MONITORING, ("data-pipeline",), "diego", commander="ic",
        days_ago=33, started_before=300, declare_after=5, steps=(
            (20, "ic", "status", Status.INVESTIGATING, ""),
            (22, "ic", "role", "technical_lead", "diego"),
            (25, "diego", "tick", checklists.TRIAGE),
            (60, "diego", "finding", "The job is OOM-killed since the events table passed 2B "
                                     "rows; every account is missing reports."),
            (62, "ic", "severity", Severity.SEV2, "More than half of accounts are affected."),
            (64, "ic", "role", "communications_lead", "amara"),
            (70, "ic", "status", Status.IDENTIFIED, ""),
            (90, "diego", "action", "Raised executor memory to 16 GiB and switched the join to "
                                    "partitioned reads."),
            (95, "ic", "status", Status.FIXING, ""),
            (180, "diego", "action", "Backfilled the two missing days."),
            (185, "ic", "status", Status.MONITORING, ""),
            (190, "diego", "tick", checklists.RESTORATION),
            (200, "diego", "tick", checklists.VERIFICATION),
            (210, "amara", "note", "Support told the customers who asked that reports are back."),
            (215, "ic", "tick", checklists.CLOSURE),
            (220, "ic", "resolve", "Pipeline memory raised and join reworked; missing reports "
                                   "backfilled."),
        ),
    ),
    Scenario(
        "Public API returning 503 for all requests", 1, _answers(service_unavailable=True),
        "Every API request gets 503 from the gateway.",
        "Complete outage of the API and the web app for all customers.",
        DetectionSource.PAGERDUTY, ("api-gateway", "web-app", "auth"), "ic",
        minutes_ago=35, started_before=3, declare_after=1, steps=(
            (2, "ic", "status", Status.INVESTIGATING, ""),
            (3, "ic", "role", "technical_lead", "responder"),
            (4, "ic", "role", "communications_lead", "elena"),
            (6, "bjorn", "join"),
            (7, "chen", "join"),
            (8, "responder", "tick", checklists.TRIAGE),
            (10, "elena", "note", "Status page set to **Major outage** for API and Web App."),
            (14, "responder", "finding", "Gateway pods crash-loop after the latest deploy: a "
                                         "missing variable makes the rate limiter panic."),
            (16, "ic", "status", Status.IDENTIFIED, ""),
            (18, "responder", "action", "Rolling back `api-gateway` to the previous release."),
            (19, "ic", "status", Status.FIXING, "Pods returning one zone at a time."),
            (25, "elena", "note", "Second customer update posted; next in 15 minutes."),
        ),
    ),
    Scenario(
        "Wrong date in status page maintenance notice", 4, NO_ANSWERS,
        "The scheduled maintenance notice shows the wrong day.",
        "None; a cosmetic error on the status page.",
        DetectionSource.STATUS_PAGE, ("web-app",), "amara",
        days_ago=52, started_before=600, declare_after=10, steps=(
            (30, "amara", "status", Status.IDENTIFIED, ""),
            (35, "amara", "action", "Corrected the date in the maintenance notice."),
            (38, "amara", "waive", "Schedule post-incident review",
             "SEV-4 with no impact; covered by the weekly review."),
            (40, "amara", "tick", checklists.CLOSURE),
            (41, "amara", "resolve", "Notice corrected."),
        ),
    ),
    Scenario(
        "Android push notifications not delivered", 3, _answers(customers_affected=True),
        "Push notifications to Android devices fail; iOS is fine.",
        "Android users miss alerts and messages.",
        DetectionSource.CUSTOMER_SUPPORT, ("notifications",), "responder", commander="ic",
        days_ago=12, started_before=180, declare_after=5, steps=(
            (10, "ic", "status", Status.INVESTIGATING, ""),
            (11, "ic", "role", "technical_lead", "bjorn"),
            (12, "bjorn", "tick", checklists.TRIAGE),
            (40, "bjorn", "finding", "FCM answers `UNREGISTERED` for tokens issued before app "
                                     "release 7.2."),
            (42, "ic", "status", Status.IDENTIFIED, ""),
            (60, "bjorn", "action", "Triggered a token refresh for affected devices."),
            (62, "ic", "status", Status.MONITORING, ""),
            (64, "bjorn", "tick", checklists.RESTORATION),
            (90, "bjorn", "tick", checklists.VERIFICATION),
            (95, "ic", "tick", checklists.CLOSURE),
            (96, "ic", "resolve", "Stale device tokens refreshed; deliveries at baseline."),
            (300, "ic", "status", Status.INVESTIGATING, "Reopened: failures are back for "
                                                       "Android 9; the refresh skipped them."),
            (330, "bjorn", "action", "Re-ran the token refresh for every Android version."),
            (340, "ic", "status", Status.MONITORING, ""),
            (400, "ic", "resolve", "Refresh re-run for all Android versions; failure rate at "
                                   "baseline for an hour."),
        ),
    ),
    Scenario(
        "Webhook deliveries backing up", 2, _answers(majority_affected=True),
        "The webhook delivery queue grows faster than workers drain it.",
        "Most customers' webhooks arrive minutes late.",
        DetectionSource.PAGERDUTY, ("notifications", "api-gateway"), "ic",
        minutes_ago=6, started_before=5, declare_after=1,
    ),
)


# --- Text for the bulk incidents --------------------------------------------------

TITLES = [
    "Elevated 5xx error rate on {service}",
    "{service} p99 latency above 2 seconds",
    "{service} unavailable in eu-west-1",
    "{service} pods crash-looping after deploy",
    "Database connection pool exhausted on {service}",
    "Expired TLS certificate on {service} endpoint",
    "Message backlog growing on {service} consumers",
    "{service} workers OOMKilled repeatedly",
    "Disk usage above 90% on {service} nodes",
    "Third-party outage degrading {service}",
    "Customers report missing data in {service}",
    "Rate limiting misconfigured on {service}",
    "DNS resolution failures for {service}",
    "Cache hit ratio collapsed on {service}",
    "Health checks flapping on {service}",
]
IMPACTS = {
    1: "Complete outage: no customer can use {service}.",
    2: "Major degradation: most requests to {service} fail or are very slow.",
    3: "Some customers see errors or slowness in {service}.",
    4: "No customer-facing impact; internal only.",
}
SOURCE_WEIGHTS = {
    DetectionSource.DATADOG: 30, DetectionSource.PAGERDUTY: 20,
    DetectionSource.CLOUDWATCH: 15, DetectionSource.MONITORING: 10,
    DetectionSource.CUSTOMER_SUPPORT: 12, DetectionSource.ENGINEERING: 8,
    DetectionSource.STATUS_PAGE: 3, DetectionSource.OTHER: 2,
}
SEVERITY_WEIGHTS = {1: 8, 2: 22, 3: 40, 4: 30}
OPEN_STATUSES = [s for s in Status if s != Status.RESOLVED]
RESOLUTIONS = [
    "Rolled back the faulty release; error rates back to baseline.",
    "Scaled out the affected tier and added an alert on saturation.",
    "Renewed the expired certificate and fixed the renewal job.",
    "Failed over to the standby database; the old primary was rebuilt.",
    "The upstream provider fixed their outage; we monitored until stable.",
    "Killed the runaway query and added a statement timeout.",
    "Raised memory limits and fixed the leak in the worker.",
    "Corrected the rate-limit configuration and redeployed.",
    "Restarted the stuck consumers and drained the backlog.",
    "Flushed the stale DNS records and lowered the TTL.",
    "Transient network issue at the cloud provider; recovered on its own.",
    "Reverted the feature flag and restored normal behaviour.",
]
OVERRIDE_REASONS = [
    "Our largest customers are the ones affected.",
    "Impact is narrower than the tree suggests; one internal team only.",
    "Revenue-critical path; treating it one level higher.",
]
ESCALATION_REASONS = [
    "Impact spread to more customers than first thought.",
    "Error rate passed 50% of requests.",
    "A workaround failed; the outage is now complete for some regions.",
]
STATUS_NOTES = ["", "", "Posting an update in the incident channel.",
                "Next update in 30 minutes."]
WAIVE_REASONS = {
    'Update status page to "Resolved"': "Not posted on the status page: no customer impact.",
    "Send final customer communication": "No customer-facing impact; nothing to send.",
    "Schedule post-incident review": "Covered by the weekly review of minor incidents.",
    "Archive incident channel": "Channel kept open for the follow-up migration work.",
}
MANUAL_ENTRIES = [
    (TimelineKind.NOTE, "Posted an update in the incident channel; next update in 30 minutes."),
    (TimelineKind.FINDING, "Error spike lines up with the last deploy; diffing the config."),
    (TimelineKind.ACTION, "Rolled back to the previous release with `kubectl rollout undo`."),
    (TimelineKind.FINDING, "Dashboards show p99 latency at **4.2 s** (baseline 300 ms)."),
    (TimelineKind.NOTE, "Customer Support reports 14 tickets mentioning the issue."),
    (TimelineKind.ACTION, "Scaled the deployment from 6 to 12 replicas."),
    (TimelineKind.FINDING, "Database CPU at 95%; the slow query log is one report query."),
    (TimelineKind.ACTION, "Killed the long-running query and added a statement timeout."),
    (TimelineKind.NOTE, "Status page updated: *Investigating*."),
    (TimelineKind.FINDING, "Connection pool saturated:\n\n- active: 100/100\n- waiting: 340"),
    (TimelineKind.ACTION, "Failed over the primary database to the standby."),
    (TimelineKind.NOTE, "Opened a P1 case with the vendor's support."),
    (TimelineKind.FINDING, "The upstream provider confirms a partial outage on their side."),
    (TimelineKind.ACTION, "Enabled the `degraded-mode` flag to serve cached results."),
    (TimelineKind.NOTE, "Handing over technical lead duties at shift change."),
    (TimelineKind.ACTION, "Drained the unhealthy node and cordoned it for investigation."),
    (TimelineKind.FINDING, "Logs show `OOMKilled` for worker pods every ~20 minutes."),
    (TimelineKind.ACTION, "Raised memory limits to 2 GiB and restarted the workers."),
    (TimelineKind.NOTE, "Executive summary sent to #incidents."),
    (TimelineKind.FINDING, "Only customers on the EU shard are affected."),
    (TimelineKind.ACTION, "Purged the CDN cache for `/static/app.*`."),
    (TimelineKind.NOTE, "Error rate trending down, now at 1.2%."),
    (TimelineKind.FINDING, "The renewal job for this certificate has failed silently for a "
                           "week."),
    (TimelineKind.ACTION, "Renewed the certificate and restarted the ingress controllers."),
    (TimelineKind.NOTE, "Watching metrics; no new alerts in the last 10 minutes."),
    (TimelineKind.ACTION, "Paused the nightly batch job to reduce load."),
    (TimelineKind.FINDING, "Queue depth peaked at 250k messages; consumers do 3k/s."),
    (TimelineKind.NOTE, "Following the [high error rate runbook]"
                        "(https://wiki.mindweave.io/runbooks/high-error-rate)."),
    (TimelineKind.ACTION, "Blocked the abusive client address range at the WAF."),
    (TimelineKind.FINDING, "The retry storm comes from mobile clients on 7.1 without backoff."),
    (TimelineKind.NOTE, "Customer Success contacted the three largest affected accounts."),
    (TimelineKind.ACTION, "Reverted this morning's feature flag change."),
    (TimelineKind.FINDING, "A 24 h DNS TTL keeps clients on the old load balancer."),
    (TimelineKind.NOTE, "| metric | now | baseline |\n| --- | --- | --- |\n"
                        "| error rate | 3.1% | 0.1% |\n| p99 | 1.8 s | 0.3 s |"),
    (TimelineKind.ACTION, "```\nkubectl -n mindweave-services rollout restart "
                          "deploy/api-gateway\n```"),
    (TimelineKind.NOTE, "QA confirmed the main user journeys work again."),
]
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
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608
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


class Command(BaseCommand):
    help = "Create demo users, services and incidents (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--incidents", type=int, default=40,
                            help="Make sure at least this many incidents exist (default 40).")
        parser.add_argument("--seed", type=int, default=2026,
                            help="Random seed for the generated data.")

    def handle(self, *args, incidents, seed, **options):
        if incidents < 0:
            raise CommandError("--incidents must be 0 or more.")
        started = time.monotonic()
        self.rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)
        self.now = timezone.now()
        self.users = self._ensure_users()
        self.names = {u.pk: u.get_full_name() or u.username for u in self.users.values()}
        self.services = self._ensure_services()
        missing = incidents - Incident.objects.count()
        made = self._play_scenarios(missing) if missing > 0 else 0
        if missing - made > 0:
            self._bulk(missing - made)
        total = Incident.objects.count()
        self.stdout.write(
            f"{total} incidents ({max(missing, 0)} new) in {time.monotonic() - started:.1f} s."
        )
        self.stdout.write(f"Demo logins, password {PASSWORD!r} (demo data only):")
        for username in LOGINS:
            user = self.users[username]
            staff = ", admin at /admin/" if user.is_staff else ""
            role = next(u.role for u in USERS if u.username == username)
            self.stdout.write(f"  {username:<10} {role}{staff}")

    # --- users and services ---------------------------------------------------------

    def _ensure_users(self):
        groups = {g.name: g for g in Group.objects.filter(name__in=[str(r) for r in Role])}
        if len(groups) != len(Role):
            raise CommandError("Role groups are missing: run `manage.py migrate` first.")
        users = {}
        hashed = None
        for spec in USERS:
            user, _ = get_user_model().objects.get_or_create(username=spec.username)
            user.first_name, user.last_name = spec.first_name, spec.last_name
            user.email = f"{spec.username}@mindweave.example"
            user.is_staff, user.is_active = spec.is_staff, True
            # Hashing is slow on purpose (about a second each here): hash the shared demo
            # password once and give every demo user the same hash.
            if hashed is None:
                user.set_password(PASSWORD)
                hashed = user.password
            else:
                user.password = hashed
            user.save()
            user.groups.set([groups[spec.role]])
            Profile.objects.update_or_create(user=user, defaults={"timezone": spec.tz})
            users[spec.username] = user
        return users

    def _ensure_services(self):
        out = {}
        for name, slug, description in SERVICES:
            out[slug], _ = Service.objects.update_or_create(
                slug=slug, defaults={"name": name, "description": description}
            )
        return out

    # --- scenarios: real services calls, then moved back in time ----------------------

    def _play_scenarios(self, limit):
        existing = set(Incident.objects.filter(
            title__in=[s.title for s in SCENARIOS]).values_list("title", flat=True))
        made = 0
        for scenario in SCENARIOS:
            if made >= limit:
                break
            if scenario.title in existing:
                continue
            with transaction.atomic():
                self._play(scenario)
            made += 1
        if made:
            self.stdout.write(f"Played {made} scripted incidents through the services.")
        return made

    def _detected_at(self, scenario):
        """When the scenario's problem was noticed, kept inside this year's numbering."""
        if scenario.minutes_ago:
            return self.now - timedelta(minutes=scenario.minutes_ago)
        year_start = self.now.replace(month=1, day=1, hour=0, minute=0, second=0,
                                      microsecond=0)
        span = max((m for m, *_ in scenario.steps), default=0) + scenario.started_before
        room = self.now - year_start - timedelta(minutes=span + 60)
        ago = timedelta(days=scenario.days_ago)
        if room > timedelta(0):
            ago = min(ago, room)
        return self.now - ago

    def _play(self, sc):
        """Run one scenario's steps through services.py, then set the times it describes.

        1. Declare it (start and detection times in the past, as a user would enter them).
        2. Run each step; after it, stamp the timeline entries, checklist ticks and
           lifecycle timestamps that step wrote with the step's own time.
        3. Put declared_at and the channel name's date where the story says.
        """
        detected = self._detected_at(sc)

        def at(minute):
            return min(detected + timedelta(minutes=minute), self.now)

        users = self.users
        incident = services.declare_incident(
            title=sc.title, severity=sc.severity, by=users[sc.declarer],
            description=sc.description, customer_impact=sc.impact,
            classification=sc.answers,
            classified_severity=classification.classify(sc.answers).severity,
            override_reason=sc.override_reason, detection_source=sc.source,
            services=[self.services[s] for s in sc.services],
            started_at=detected - timedelta(minutes=sc.started_before), detected_at=detected,
            commander=users[sc.commander] if sc.commander else None,
        )
        declared_at = at(sc.declare_after)
        last_entry = self._stamp_entries(incident, 0, declared_at)
        stamps = {"declared_at": declared_at, "updated_at": declared_at}
        lifecycle = ("acknowledged_at", "identified_at", "mitigated_at", "resolved_at")
        before = {f: None for f in lifecycle}
        for minute, actor, verb, *args in sc.steps:
            when = at(minute)
            incident = self._step(incident, users[actor], verb, args, when)
            last_entry = self._stamp_entries(incident, last_entry, when)
            incident.refresh_from_db(fields=lifecycle)
            for name in lifecycle:
                value = getattr(incident, name)
                if value != before[name]:
                    stamps[name] = when if value is not None else None
                    before[name] = value
            stamps["updated_at"] = when
        channel = services.channel_name_for(sc.title, declared_at)
        if Incident.objects.filter(channel_name=channel).exclude(pk=incident.pk).exists():
            channel = f"{channel[:74]}-{incident.ref[-4:]}"
        if channel != incident.channel_name:
            declared = incident.timeline.get(kind=TimelineKind.DECLARED)
            declared.body = declared.body.replace(incident.channel_name, channel)
            declared.body_html = render_markdown(declared.body)
            declared.save(update_fields=["body", "body_html"])
            stamps["channel_name"] = channel
        Incident.objects.filter(pk=incident.pk).update(**stamps)

    def _stamp_entries(self, incident, after_id, when):
        entries = TimelineEntry.objects.filter(incident=incident, id__gt=after_id)
        entries.update(occurred_at=when, created_at=when)
        return TimelineEntry.objects.filter(incident=incident).aggregate(m=Max("id"))["m"]

    def _step(self, incident, actor, verb, args, when):
        """One scenario step through the service a person would use."""
        if verb == "status":
            to, note = args
            if to == Status.RESOLVED:
                raise CommandError("Scenarios resolve with the 'resolve' verb.")
            return services.change_status(incident, to=to, by=actor, note=note)
        if verb == "resolve":
            return services.resolve_incident(incident, resolution=args[0], by=actor)
        if verb == "severity":
            to, reason = args
            return services.change_severity(incident, to=to, by=actor, reason=reason)
        if verb == "role":
            role, username = args
            return services.assign_role(incident, role=role, user=self.users[username],
                                        by=actor)
        if verb == "join":
            return services.join_incident(incident, by=actor)
        if verb in ("note", "action", "finding"):
            services.add_timeline_entry(incident, body=args[0], by=actor,
                                        kind=TimelineKind(verb))
            return incident
        if verb == "waive":
            text, reason = args
            services.waive_checklist_item(incident.checklist.get(text=text), reason=reason,
                                          by=actor)
            return incident
        if verb == "tick":
            items = list(incident.checklist.filter(phase=args[0], done_at__isnull=True,
                                                   waived_reason=""))
            for n, item in enumerate(items):
                services.set_checklist_item(item, done=True, by=actor)
                # Ticked one after another, the last one at the step's time.
                done_at = when - timedelta(seconds=5 * (len(items) - 1 - n))
                ChecklistItem.objects.filter(pk=item.pk).update(done_at=done_at)
            return incident
        raise CommandError(f"Unknown scenario verb {verb!r}.")

    # --- bulk: plans, then bulk_create in batches -------------------------------------

    def _bulk(self, count):
        """Insert `count` generated incidents, oldest first, BATCH per transaction.

        1. Plan every incident (people, times, status) and sort the plans by declaration.
        2. Per batch: reserve numbers from IncidentSequence under a row lock, insert the
           incidents, their services and responders, checklists and 50 timeline entries.
        """
        self.bodies = Bodies()
        self.channels = set(Incident.objects.values_list("channel_name", flat=True))
        self.max_number = {}
        plans = sorted((self._plan() for _ in range(count)),
                       key=lambda p: p.times["declared_at"])
        self.stdout.write(f"Inserting {count} generated incidents...")
        done = 0
        for start in range(0, count, BATCH):
            with transaction.atomic():
                self._insert(plans[start:start + BATCH])
            reset_queries()  # with DEBUG on, the logged INSERTs would pile up in memory
            before, done = done, min(start + BATCH, count)
            if done // 1000 > before // 1000 or done == count:
                self.stdout.write(f"  {done}/{count} incidents")

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
        return _answers(**{key: True}) if key else dict(NO_ANSWERS)

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
