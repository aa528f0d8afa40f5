"""What followed each generated incident: its post-incident review and its page.

So that every §7 KPI has real numbers after `seed_demo --incidents N`: reviews with a
root-cause category, approved on time, late or not yet; pages that reached the people
on call (in their own time zones) and were acknowledged. Rows go in the way bulk.py
inserts timeline entries: model instances only where ids are needed (reviews, pages),
plain tuples (COPY on PostgreSQL) for the rest.

Only resolved incidents get either: an open incident's review does not exist yet, and
a historical page left open would be escalated by the engine.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Coalesce

from incidents.models import Severity
from oncall.models import (
    ContactMethod,
    DeliveryStatus,
    EscalationPolicy,
    Notification,
    Page,
    PageStatus,
)
from reports.demo.oncall import NEW_YORK, SCHEDULES, this_weeks_handoff_date
from reports.models import (
    ActionItem,
    ActionKind,
    ActionStatus,
    ContributingFactor,
    FactorCategory,
    PIRChange,
    PIRState,
    PostIncidentReview,
    PreventionMeasure,
    Priority,
    RootCauseCategory,
    Why,
)
from reports.services.pir import (
    BUSINESS_DAYS_TO_REVIEW,
    PREVENTION_DEFAULTS,
    add_business_days,
)

CAUSE_WEIGHTS = {
    RootCauseCategory.DEPLOYMENT: 24, RootCauseCategory.CONFIGURATION: 16,
    RootCauseCategory.CAPACITY: 14, RootCauseCategory.DEPENDENCY: 12,
    RootCauseCategory.INFRASTRUCTURE: 10, RootCauseCategory.DATABASE: 9,
    RootCauseCategory.DATA: 5, RootCauseCategory.SECURITY: 2, RootCauseCategory.HUMAN: 5,
    RootCauseCategory.PROCESS: 3,
}
# The contributing-factor box each cause ticks.
CAUSE_FACTORS = {
    RootCauseCategory.DEPLOYMENT: FactorCategory.CODE_CHANGE,
    RootCauseCategory.CONFIGURATION: FactorCategory.CONFIG_CHANGE,
    RootCauseCategory.CAPACITY: FactorCategory.CAPACITY,
    RootCauseCategory.DEPENDENCY: FactorCategory.THIRD_PARTY,
    RootCauseCategory.INFRASTRUCTURE: FactorCategory.INFRASTRUCTURE,
    RootCauseCategory.DATABASE: FactorCategory.INFRASTRUCTURE,
    RootCauseCategory.DATA: FactorCategory.CODE_CHANGE,
    RootCauseCategory.SECURITY: FactorCategory.PROCESS_GAP,
    RootCauseCategory.HUMAN: FactorCategory.HUMAN_ERROR,
    RootCauseCategory.PROCESS: FactorCategory.PROCESS_GAP,
}
WHY_TEXT = {
    RootCauseCategory.DEPLOYMENT: "A release shipped a regression the tests did not cover.",
    RootCauseCategory.CONFIGURATION: "A configuration change went out without review.",
    RootCauseCategory.CAPACITY: "Traffic outgrew the capacity we had provisioned.",
    RootCauseCategory.DEPENDENCY: "A third-party provider failed and we had no fallback.",
    RootCauseCategory.INFRASTRUCTURE: "A cloud component failed underneath the service.",
    RootCauseCategory.DATABASE: "The database ran out of connections under a slow query.",
    RootCauseCategory.DATA: "A migration left records in a state the code did not expect.",
    RootCauseCategory.SECURITY: "Credentials were exposed and had to be rotated.",
    RootCauseCategory.HUMAN: "A manual step was run against the wrong environment.",
    RootCauseCategory.PROCESS: "No runbook covered the failure, so diagnosis took long.",
}
ACTIONS = [
    (ActionKind.DETECTIVE, "Alert on the symptom before customers notice it."),
    (ActionKind.PREVENTATIVE, "Add a test or a guard that catches this before release."),
    (ActionKind.CORRECTIVE, "Write the runbook section for this failure."),
]
# An approved review's prevention measures are written out: approval refuses the
# template's `[condition]`, `[scenario]`, `[safeguard]` (reports.services.pir.approve).
DONE_MEASURES = ("Add monitoring for the symptom customers saw first",
                 "Update the runbook for this failure",
                 "Implement a guard that stops a repeat")
REVIEW_WEEKS_KEPT_OPEN = 2  # older reviews past due were all approved, some late
# Escalation: minutes after the page started at which each level is notified (the demo
# policy's 5/10/15/30-minute timeouts, §2.1) and the schedule or person it pages.
LEVELS = [(0, "Primary On-Call"), (5, "Secondary On-Call"), (15, "Engineering Manager On-Call"),
          (30, "vp")]
MAJOR_INCIDENT_SCHEDULE = "Engineering Manager On-Call"


class Aftermath:
    """Plans and inserts reviews and pages for one batch of generated incidents."""

    def __init__(self, *, rng, now, users, insert_rows):
        self.rng, self.now, self.users, self.insert_rows = rng, now, users, insert_rows
        self.by_pk = {u.pk: u for u in users.values()}
        self.members = {name: [users[u].pk for u in members if u in users]
                        for name, _, members, _ in SCHEDULES}
        self.zone = ZoneInfo(NEW_YORK)
        self.anchor = this_weeks_handoff_date(now)
        self.policy = EscalationPolicy.objects.filter(name="Production Incidents").first()
        self.methods = dict(ContactMethod.objects.filter(kind="email")
                            .order_by("id").values_list("user_id", "id"))

    def _between(self, start, end):
        return start + (end - start) * self.rng.random() if end > start else start

    def add(self, pairs):
        """`pairs`: (plan, saved incident) of one batch."""
        resolved = [(p, i) for p, i in pairs if p.times["resolved_at"] is not None]
        self._reviews(resolved)
        self._pages([(p, i) for p, i in resolved if p.declared_severity != Severity.SEV4])

    # --- reviews -----------------------------------------------------------------------

    def _review(self, plan, incident):
        """One review: category, state and dates drawn so some are late or never done."""
        rng, now, t = self.rng, self.now, plan.times
        resolved = t["resolved_at"]
        due = add_business_days(resolved, BUSINESS_DAYS_TO_REVIEW)
        cause = rng.choices(list(CAUSE_WEIGHTS), weights=CAUSE_WEIGHTS.values())[0]
        earliest = resolved + timedelta(hours=2)
        approved_at = None
        if due <= now:
            if now - due > timedelta(weeks=REVIEW_WEEKS_KEPT_OPEN) or rng.random() < 0.5:
                if rng.random() < 0.8:
                    approved_at = self._between(earliest, due)
                else:
                    approved_at = self._between(due + timedelta(minutes=1),
                                                min(due + timedelta(days=7), now))
        elif rng.random() < 0.3 and earliest < now:
            approved_at = self._between(earliest, now)
        if approved_at is not None:
            state = PIRState.APPROVED
        else:
            state = rng.choice([PIRState.DRAFT, PIRState.IN_REVIEW])
            if state == PIRState.DRAFT and rng.random() < 0.4:
                cause = RootCauseCategory.UNKNOWN
        submitted = None
        if state != PIRState.DRAFT:
            submitted = self._between(resolved, approved_at or now)
        manager = self.users.get("manager")
        done = state == PIRState.APPROVED
        return PostIncidentReview(
            incident=incident, state=state, due_at=due,
            impact=incident.customer_impact or ("No customer-facing impact was seen."
                                                if done else ""),
            what_happened=incident.resolution,
            why_it_happened=WHY_TEXT.get(cause, "") if state != PIRState.DRAFT else "",
            root_cause_category=cause,
            sla_downtime_minutes=int((resolved - t["started_at"]).total_seconds() // 60),
            went_well="Paging reached the on-call quickly; roles were clear." if done else "",
            could_improve="Detection relied on customers for the first minutes."
            if done else "",
            version=1 + (submitted is not None) + done,
            created_at=resolved, submitted_at=submitted, approved_at=approved_at,
            approved_by=manager if done else None,
        )

    def _reviews(self, pairs):
        reviews = [self._review(plan, incident) for plan, incident in pairs]
        if not reviews:
            return
        PostIncidentReview.objects.bulk_create(reviews)
        if any(r.pk is None for r in reviews):  # backends that cannot return ids
            ids = dict(PostIncidentReview.objects.filter(
                incident__in=[r.incident for r in reviews]).values_list("incident_id", "pk"))
            for review in reviews:
                review.pk = ids[review.incident.pk]
        # bulk_create stamps updated_at (auto_now) with today: date it as history.
        PostIncidentReview.objects.filter(pk__in=[r.pk for r in reviews]).update(
            updated_at=Coalesce(F("approved_at"), F("submitted_at"), F("created_at")))
        whys, factors, measures, changes, items = [], [], [], [], []
        for (plan, _), review in zip(pairs, reviews, strict=True):
            why = review.why_it_happened
            whys += [(review.pk, n, why if n == 5 else "") for n in range(1, 6)]
            ticked = CAUSE_FACTORS.get(review.root_cause_category)
            factors += [(review.pk, c, c == ticked and review.state != PIRState.DRAFT, "")
                        for c in FactorCategory]
            measures += [(review.pk, text, n, review.is_approved)
                         for n, text in enumerate(DONE_MEASURES if review.is_approved
                                                  else PREVENTION_DEFAULTS)]
            changes.append((review.pk, review.created_at, None,
                            f"Review opened; due {review.due_at:%Y-%m-%d}."))
            if review.submitted_at:
                changes.append((review.pk, review.submitted_at, plan.commander,
                                "Sent for review."))
            if review.approved_at:
                items += self._action_items(plan, review)
                changes.append((review.pk, review.approved_at, review.approved_by_id,
                                "Approved."))
        self.insert_rows(Why, ["pir_id", "position", "answer"], whys)
        self.insert_rows(ContributingFactor, ["pir_id", "category", "contributed", "note"],
                         factors)
        self.insert_rows(PreventionMeasure, ["pir_id", "text", "position", "done"], measures)
        self.insert_rows(PIRChange, ["pir_id", "at", "by_id", "what"], changes)
        self.insert_rows(ActionItem, ["pir_id", "priority", "kind", "action", "owner_id",
                                      "due_date", "status", "created_at"], items)

    def _action_items(self, plan, review):
        """One or two follow-ups; those already due are nearly all done."""
        out = []
        today = self.now.date()
        for kind, text in self.rng.sample(ACTIONS, self.rng.choice((1, 2))):
            due = (review.approved_at + timedelta(days=self.rng.choice((7, 14, 30)))).date()
            if due < today:
                status = ActionStatus.DONE if self.rng.random() < 0.95 else ActionStatus.WONT_DO
            else:
                status = self.rng.choice([ActionStatus.OPEN, ActionStatus.IN_PROGRESS])
            owner = plan.technical_lead or plan.commander
            out.append((review.pk, self.rng.choice(list(Priority)), kind, text, owner, due,
                        status, review.approved_at))
        return out

    # --- pages -------------------------------------------------------------------------

    def on_call(self, schedule, at):
        """Who the demo's weekly rotation (Mondays 09:00 New York) had on call at `at`."""
        members = self.members.get(schedule) or [self.users[schedule].pk]
        local = (at.astimezone(self.zone) - timedelta(hours=9)).date()
        return members[((local - self.anchor).days // 7) % len(members)]

    def _pages(self, pairs):
        """A page per incident of SEV-3 or worse, as declaring it would have raised:
        level by level until the acknowledgement (SEV-3: the first level only)."""
        pages, steps = [], []
        for plan, incident in pairs:
            t = plan.times
            severity = Severity(plan.declared_severity)
            started, acked = t["declared_at"], t["acknowledged_at"]
            levels = LEVELS if severity <= Severity.SEV2 else LEVELS[:1]
            notified = []
            for level, (minutes, target) in enumerate(levels, start=1):
                at = started + timedelta(minutes=minutes)
                if level > 1 and at >= acked:
                    break
                people = [self.on_call(target, started)]
                if level == 1 and severity == Severity.SEV1:
                    people.append(self.on_call(MAJOR_INCIDENT_SCHEDULE, started))
                for person in dict.fromkeys(people):
                    sent = min(at + timedelta(seconds=self.rng.uniform(2, 30)),
                               self._between(at, acked))
                    notified.append((level, person, at, sent))
            first = notified[0][1]
            pages.append(Page(
                title=f"{incident.ref} {incident.title}"[:300], severity=severity.label,
                link=f"{settings.SITE_URL}{incident.get_absolute_url()}",
                dedup_key=f"incident/{incident.ref}/{severity.label}",
                source=f"incident:{incident.pk}", policy=self.policy,
                escalate=severity <= Severity.SEV2, status=PageStatus.RESOLVED,
                current_level=notified[-1][0], next_level=notified[-1][0], created_at=started,
                acknowledged_at=acked, acknowledged_by_id=first, resolved_at=t["resolved_at"],
            ))
            steps.append(notified)
        if not pages:
            return
        Page.objects.bulk_create(pages)
        if any(p.pk is None for p in pages):
            ids = dict(Page.objects.filter(source__in=[p.source for p in pages])
                       .values_list("source", "pk"))
            for page in pages:
                page.pk = ids[page.source]
        rows = []
        for page, notified in zip(pages, steps, strict=True):
            for level, person, due, sent in notified:
                rows.append((page.pk, 0, level, person, self.methods.get(person), "email",
                             DeliveryStatus.SENT, due, 1, due, due, sent))
        self.insert_rows(Notification, ["page_id", "cycle", "level", "user_id",
                                        "contact_method_id", "kind", "status", "due_at",
                                        "attempts", "queued_at", "sending_at", "sent_at"], rows)
