"""Incidents (handbook §1, §6.1): severity and its SLA targets, status and its
lifecycle, the services they affect, and the per-year id sequence.

Models answer questions about one object; every write goes through services/.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from mindweave_ir.inputs import SafeDateTimeField


class Severity(models.IntegerChoices):
    """Handbook §1.1; lower is worse. Targets are §7.2's SLA in minutes."""

    SEV1 = 1, "SEV-1"
    SEV2 = 2, "SEV-2"
    SEV3 = 3, "SEV-3"
    SEV4 = 4, "SEV-4"

    @property
    def description(self):
        return SEVERITY_DESCRIPTIONS[self]

    @property
    def response_target(self):
        return timedelta(minutes=SLA_MINUTES[self][0])

    @property
    def resolution_target(self):
        return timedelta(minutes=SLA_MINUTES[self][1])


SEVERITY_DESCRIPTIONS = {
    Severity.SEV1: "Critical: complete outage or security breach",
    Severity.SEV2: "Major: significant degradation affecting many customers",
    Severity.SEV3: "Moderate: limited impact affecting some customers",
    Severity.SEV4: "Low: minor issue, no customer-facing impact",
}
# (response, resolution) in minutes, §7.2.
SLA_MINUTES = {
    Severity.SEV1: (5, 60),
    Severity.SEV2: (15, 4 * 60),
    Severity.SEV3: (60, 24 * 60),
    Severity.SEV4: (4 * 60, 72 * 60),
}


class Status(models.TextChoices):
    DECLARED = "declared", "Declared"
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    FIXING = "fixing", "Fixing"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


# Which status may follow which. Forward along the lifecycle, back when a fix did
# not hold, and a resolved incident may be reopened.
TRANSITIONS = {
    Status.DECLARED: (Status.INVESTIGATING, Status.IDENTIFIED, Status.RESOLVED),
    Status.INVESTIGATING: (Status.IDENTIFIED, Status.FIXING, Status.MONITORING, Status.RESOLVED),
    Status.IDENTIFIED: (Status.FIXING, Status.MONITORING, Status.INVESTIGATING, Status.RESOLVED),
    Status.FIXING: (Status.MONITORING, Status.IDENTIFIED, Status.INVESTIGATING, Status.RESOLVED),
    Status.MONITORING: (Status.RESOLVED, Status.FIXING, Status.INVESTIGATING),
    Status.RESOLVED: (Status.INVESTIGATING,),
}


class Exercise(models.TextChoices):
    """A drill is recorded like an incident but kept out of the §7 metrics."""

    REAL = "", "Real incident"
    TEST = "test", "Test"
    GAME_DAY = "game_day", "Game day"


class DetectionSource(models.TextChoices):
    """Handbook §3.1."""

    DATADOG = "datadog", "DataDog alert"
    PAGERDUTY = "pagerduty", "PagerDuty aggregated alert"
    CLOUDWATCH = "cloudwatch", "AWS CloudWatch alert"
    MONITORING = "monitoring", "Other monitoring alert"
    CUSTOMER_SUPPORT = "customer_support", "Customer Support (#support-escalations)"
    ENGINEERING = "engineering", "Engineering team (#engineering)"
    STATUS_PAGE = "status_page", "Status page report"
    OTHER = "other", "Other"


class Service(models.Model):
    """A service or component incidents can affect (and, later, a status-page component)."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    escalation_policy = models.ForeignKey(
        "oncall.EscalationPolicy", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="services", help_text="Who is paged for this service's incidents.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class IncidentSequence(models.Model):
    """The last incident number handed out per year, so INC-YYYY-NNNN never repeats."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.year}: {self.last}"


class Incident(models.Model):
    """One incident, from declaration to resolution."""

    ref = models.CharField("ID", max_length=20, unique=True, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, db_index=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DECLARED, db_index=True
    )
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="commanded_incidents", verbose_name="Incident Commander",
    )
    technical_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="tech_led_incidents",
    )
    communications_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="comms_led_incidents",
    )
    responders = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="responded_incidents"
    )
    services = models.ManyToManyField(Service, blank=True, related_name="incidents")
    customer_impact = models.TextField(blank=True)
    detection_source = models.CharField(
        max_length=30, choices=DetectionSource.choices, default=DetectionSource.OTHER
    )
    channel_name = models.CharField(max_length=80)
    classification = models.JSONField(
        default=dict, blank=True, help_text="Answers to the §1.2 decision tree."
    )
    classified_severity = models.PositiveSmallIntegerField(
        choices=Severity.choices, null=True, blank=True,
        help_text="The severity the decision tree gave, before any override.",
    )
    severity_override_reason = models.TextField(blank=True)
    resolution = models.TextField(blank=True)
    exercise = models.CharField(
        max_length=10, choices=Exercise.choices, default=Exercise.REAL, blank=True,
        help_text="A test or game day: handled like any incident, left out of the metrics.",
    )

    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    declared_at = SafeDateTimeField(default=timezone.now, db_index=True)
    started_at = SafeDateTimeField(help_text="When the problem began.")
    detected_at = SafeDateTimeField(db_index=True, help_text="When it was noticed.")
    acknowledged_at = SafeDateTimeField(null=True, blank=True)
    identified_at = SafeDateTimeField(null=True, blank=True)
    mitigated_at = SafeDateTimeField(null=True, blank=True)
    resolved_at = SafeDateTimeField(null=True, blank=True)
    response_breach_noted_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolution_breach_noted_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-declared_at"]
        indexes = [
            models.Index(fields=["status", "severity", "declared_at"]),
            # The dashboard's open incidents, worst first: only the open few, however
            # many resolved ones years have piled up.
            models.Index(fields=["severity", "detected_at"], name="incident_open_worst_first",
                         condition=~models.Q(status="resolved")),
            # The metrics page's data version (MAX(updated_at)) without a scan.
            models.Index(fields=["updated_at"], name="incident_updated_at"),
        ]

    def __str__(self):
        return f"{self.ref} {self.title}"

    def get_absolute_url(self):
        return reverse("incidents:detail", args=[self.ref])

    @property
    def severity_label(self):
        return Severity(self.severity).label

    @property
    def is_exercise(self):
        """A test or game day: people are paged for real, and everything says "[TEST]"."""
        return self.exercise != Exercise.REAL

    @property
    def is_open(self):
        return self.status != Status.RESOLVED

    def allowed_transitions(self):
        return TRANSITIONS[Status(self.status)]

    def response_due_at(self):
        return self.detected_at + Severity(self.severity).response_target

    def resolution_due_at(self):
        return self.detected_at + Severity(self.severity).resolution_target

    def response_breached(self, now=None):
        done = self.acknowledged_at
        return (done or now or timezone.now()) > self.response_due_at()

    def resolution_breached(self, now=None):
        done = self.resolved_at
        return (done or now or timezone.now()) > self.resolution_due_at()

    def duration(self, now=None):
        return (self.resolved_at or now or timezone.now()) - self.started_at

