"""The scripted demo incidents and playing them through incidents.services.

Each scenario is declared and worked exactly as real use writes it, then moved back in
time to when its story happened.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from incidents import checklists, classification, services
from incidents.models import (
    ChecklistItem,
    DetectionSource,
    Incident,
    Severity,
    Status,
    TimelineEntry,
    TimelineKind,
)
from mindweave_ir.markup import render_markdown
from reports.demo.data import NO_ANSWERS, answers
from reports.models import PIRChange, PostIncidentReview
from reports.services.pir import BUSINESS_DAYS_TO_REVIEW, add_business_days

# Times are minutes after detection. A scenario with `days_ago` is detected that
# many days back; one with `minutes_ago` is still going on. Each step is
# (minute, actor, verb, *args); see ScenarioPlayer._step for the verbs.

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


SCENARIOS = (
    Scenario(
        "Card payments failing at checkout (502 from payment provider)", 1,
        answers(service_unavailable=True),
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
        "Admin API key leaked in a public repository", 1, answers(security_breach=True),
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
        "Search results stale by up to two hours", 2, answers(majority_affected=True),
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
        "Login takes over 10 seconds for EU customers", 2, answers(customers_affected=True),
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
        answers(customers_affected=True),
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
        "Intermittent 504 errors on CSV exports", 3, answers(customers_affected=True),
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
        answers(customers_affected=True),
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
        "Public API returning 503 for all requests", 1, answers(service_unavailable=True),
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
        "Android push notifications not delivered", 3, answers(customers_affected=True),
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
        "Webhook deliveries backing up", 2, answers(majority_affected=True),
        "The webhook delivery queue grows faster than workers drain it.",
        "Most customers' webhooks arrive minutes late.",
        DetectionSource.PAGERDUTY, ("notifications", "api-gateway"), "ic",
        minutes_ago=6, started_before=5, declare_after=1,
    ),
)


class ScenarioPlayer:
    """Plays SCENARIOS through the services for one seeding run, each in a transaction."""

    def __init__(self, *, now, users, services, out):
        self.now, self.users, self.services, self.out = now, users, services, out

    def play_missing(self, limit):
        """Play the scenarios not in the database yet, at most `limit`; returns how many."""
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
            self.out(f"Played {made} scripted incidents through the services.")
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
        began = timezone.now()
        incident = services.declare_incident(
            title=sc.title, severity=sc.severity, by=users[sc.declarer],
            description=sc.description, customer_impact=sc.impact,
            classification=sc.answers,
            classified_severity=classification.classify(sc.answers).severity,
            override_reason=sc.override_reason, detection_source=sc.source,
            services=[self.services[s] for s in sc.services],
            started_at=detected - timedelta(minutes=sc.started_before), detected_at=detected,
            commander=users[sc.commander] if sc.commander else None,
            page_oncall=False,  # history: nobody is paged for it today
        )
        declared_at = at(sc.declare_after)
        last_entry = self._stamp_entries(incident, 0, declared_at)
        self._stamp_system_ticks(incident, began, declared_at)
        stamps = {"declared_at": declared_at, "updated_at": declared_at}
        lifecycle = ("acknowledged_at", "identified_at", "mitigated_at", "resolved_at")
        before = {f: None for f in lifecycle}
        for minute, actor, verb, *args in sc.steps:
            when = at(minute)
            began = timezone.now()
            incident = self._step(incident, users[actor], verb, args, when)
            last_entry = self._stamp_entries(incident, last_entry, when)
            self._stamp_system_ticks(incident, began, when)
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
        if stamps.get("resolved_at"):
            # The review opened when the scenario resolved "now"; date it as history.
            resolved = stamps["resolved_at"]
            due = add_business_days(resolved, BUSINESS_DAYS_TO_REVIEW)
            started = Incident.objects.values_list("started_at", flat=True).get(pk=incident.pk)
            PostIncidentReview.objects.filter(incident=incident).update(
                created_at=resolved, due_at=due,
                sla_downtime_minutes=int((resolved - started).total_seconds() // 60))
            PIRChange.objects.filter(pir__incident=incident).update(
                at=resolved, what=f"Review opened; due {due:%Y-%m-%d}.")

    def _stamp_entries(self, incident, after_id, when):
        entries = TimelineEntry.objects.filter(incident=incident, id__gt=after_id)
        entries.update(occurred_at=when, created_at=when)
        return TimelineEntry.objects.filter(incident=incident).aggregate(m=Max("id"))["m"]

    def _stamp_system_ticks(self, incident, began, when):
        """Date the checklist items the system ticked during a step (it saw the
        step happen "now") at the step's historical time."""
        incident.checklist.filter(done_at__gte=began, done_by__isnull=True) \
            .exclude(system_reason="").update(done_at=when)

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
            return services.change_severity(incident, to=to, by=actor, reason=reason,
                                            page_oncall=False)
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
