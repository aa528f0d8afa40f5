"""Inbound alerts (issue 6, items 1-4): integrations, the alerts they raise, and every
raw body they were sent.

Imported at the bottom of models.py so Django sees these as the incidents app's
models; every write goes through ingest.py.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from oncall.tokens import hash_token  # noqa: F401 - re-exported for the ingest code

from .models import Incident, Service, Severity

__all__ = [
    "DEFAULT_SEVERITY_MAP",
    "OPEN_ALERT_STATUSES",
    "Alert",
    "AlertStatus",
    "Heartbeat",
    "HeartbeatState",
    "InboundPayload",
    "Integration",
    "IntegrationKind",
    "ManualReport",
    "PayloadOutcome",
    "ReportState",
    "Silence",
]

# The source's severity word -> the incident severity it opens (§1.1).
DEFAULT_SEVERITY_MAP = {
    "critical": int(Severity.SEV1),
    "error": int(Severity.SEV2),
    "warning": int(Severity.SEV3),
    "info": int(Severity.SEV4),
}


def default_severity_map():
    return dict(DEFAULT_SEVERITY_MAP)



class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    EVENTS = "events", "PagerDuty Events API v2"


class Integration(models.Model):
    """A monitoring tool allowed to raise alerts, known by its secret token.

    Only the token's SHA-256 (and a short prefix to recognise it by) is stored; the
    token itself is shown once when made or regenerated.
    """

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=IntegrationKind.choices)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="integrations",
        help_text="The service its incidents affect.",
    )
    escalation_policy = models.ForeignKey(
        "oncall.EscalationPolicy", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who is paged; empty: the service's policy, else the default policy.",
    )
    severity_map = models.JSONField(
        default=default_severity_map, blank=True,
        help_text='Source severity -> incident severity (1-4), e.g. {"critical": 1}. '
                  "Alertmanager: the alert's `severity` label.",
    )
    default_severity = models.PositiveSmallIntegerField(
        choices=Severity.choices, default=Severity.SEV3,
        help_text="For alerts whose severity is missing or not in the map.",
    )
    enabled = models.BooleanField(default=True, help_text="A disabled integration's token is "
                                                          "refused (404) and nothing is stored.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=8, editable=False,
                                    help_text="The token's first characters, to recognise it.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        mapping = self.severity_map
        if not isinstance(mapping, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v in Severity.values
                for v in mapping.values()):
            raise ValidationError({"severity_map": "An object mapping each source severity "
                                                   "to 1, 2, 3 or 4 (SEV-1 to SEV-4)."})

    def severity_for(self, word):
        """The incident severity for the source's word (case-insensitive)."""
        mapping = {str(k).lower(): v for k, v in (self.severity_map or {}).items()}
        try:
            return Severity(int(mapping[str(word or "").lower()]))
        except (KeyError, TypeError, ValueError):
            return Severity(self.default_severity)

    def resolved_policy(self):
        """Its own policy, else its service's; None lets incidents fall back to the default."""
        if self.escalation_policy_id:
            return self.escalation_policy
        if self.service_id and self.service.escalation_policy_id:
            return self.service.escalation_policy
        return None


class AlertStatus(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


OPEN_ALERT_STATUSES = (AlertStatus.TRIGGERED, AlertStatus.ACKNOWLEDGED)


class AlertManager(models.Manager):
    """Alerts always come with their integration (every list shows its name)."""

    def get_queryset(self):
        return super().get_queryset().select_related("integration")


class Alert(models.Model):
    """One problem a source reported, deduplicated by (integration, key).

    `key` is Alertmanager's fingerprint or the Events API dedup_key. At most one
    alert per key is open (the partial unique constraint); a repeat while open is
    folded into it (`count`), a repeat after it resolved opens a new alert.
    `routing` says why it went where it went: the incident it opened or joined,
    and whether that paged anyone.
    """

    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="alerts")
    key = models.CharField(max_length=255, help_text="Fingerprint or dedup key.")
    group_key = models.TextField(blank=True, help_text="Alertmanager's groupKey, or the dedup key.")
    group_hash = models.CharField(max_length=64, db_index=True, editable=False)
    status = models.CharField(max_length=20, choices=AlertStatus.choices,
                              default=AlertStatus.TRIGGERED, db_index=True)
    summary = models.CharField(max_length=1024)
    source = models.CharField(max_length=255, blank=True)
    source_severity = models.CharField(max_length=50, blank=True)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    labels = models.JSONField(default=dict, blank=True)
    details = models.JSONField(default=dict, blank=True,
                               help_text="Annotations or custom_details.")
    link = models.URLField(max_length=2000, blank=True)
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="alerts")
    opened_incident = models.BooleanField(default=False)
    paged = models.BooleanField(default=False)
    routing = models.TextField(blank=True, help_text="Why it went where it went.")
    silence = models.ForeignKey("Silence", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="suppressed_alerts",
                                help_text="The silence that kept it from opening an incident.")
    count = models.PositiveIntegerField(default=1, help_text="Messages folded into it.")
    started_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_received_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = AlertManager()

    class Meta:
        ordering = ["-last_received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "key"], condition=~Q(status=AlertStatus.RESOLVED),
                name="uniq_open_alert_key",
            ),
        ]
        indexes = [models.Index(fields=["integration", "key", "status"])]

    def __str__(self):
        return f"{self.integration.name}: {self.summary[:60]}"

    @property
    def is_open(self):
        return self.status != AlertStatus.RESOLVED


class PayloadOutcome(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


class InboundPayload(models.Model):
    """A request body exactly as an integration sent it, stored before it is acted on.

    Kept for inspection whatever happened: `outcome` and `error` say whether it was
    processed or refused and why; `result` lists what it did to which alert.
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE,
                                    related_name="payloads")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    body = models.TextField()
    outcome = models.CharField(max_length=20, choices=PayloadOutcome.choices,
                               default=PayloadOutcome.RECEIVED)
    error = models.TextField(blank=True)
    result = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "inbound payload"
        indexes = [
            # What every drain reads under the integration's lock (ingest._drain), and
            # the beat's stale search: partial, so it holds only the few pending rows
            # however many bodies are kept.
            models.Index(fields=["integration", "id"], name="incidents_inbound_pending",
                         condition=models.Q(outcome=PayloadOutcome.RECEIVED)),
        ]

    def __str__(self):
        return f"{self.integration.name} @ {self.received_at:%Y-%m-%d %H:%M:%S}"


# --- silences (issue 6 item 5) -------------------------------------------------------

class SilenceQuerySet(models.QuerySet):
    def active(self, now=None):
        now = now or timezone.now()
        return self.filter(starts_at__lte=now, ends_at__gt=now)

    def expired(self, now=None):
        return self.filter(ends_at__lte=now or timezone.now())


class Silence(models.Model):
    """A maintenance window: firing alerts whose labels match it, while it is active,
    are stored and deduplicated as usual but open no incident and page nobody.

    Expiring re-fires nothing: alerts it suppressed stay as they were. The next
    message about a still-firing one is routed as usual (ingest._trigger).
    `matchers` is a list of {name, value, is_regex, is_equal}; see ingest/silences.py.
    """

    matchers = models.JSONField(help_text='A list of {"name", "value", "is_regex", '
                                          '"is_equal"}, all of which must match.')
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.CASCADE, related_name="silences",
        help_text="Only this integration's alerts; empty: every integration's.",
    )
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    comment = models.CharField(max_length=500)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = SilenceQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["ends_at", "starts_at"])]

    def __str__(self):
        return f"Silence #{self.pk}: {self.comment[:60]}"

    def clean(self):
        # Imported here: the ingest package imports these models.
        from .ingest import silences as matching

        errors = {}
        try:
            self.matchers = matching.validate(self.matchers)
        except matching.MatcherError as exc:
            errors["matchers"] = exc.errors
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "A silence must end after it starts."
        if not (self.comment or "").strip():
            errors["comment"] = "Say why (e.g. the maintenance it covers)."
        if errors:
            raise ValidationError(errors)

    def is_active(self, now=None):
        now = now or timezone.now()
        return self.starts_at <= now < self.ends_at

    def state(self, now=None):
        now = now or timezone.now()
        if self.ends_at <= now:
            return "expired"
        return "active" if self.starts_at <= now else "pending"

    @property
    def matchers_text(self):
        from .ingest import silences as matching

        return matching.describe(self.matchers)


# --- heartbeats (issue 6 item 5) ------------------------------------------------------

class HeartbeatState(models.TextChoices):
    UP = "up", "Up"
    DOWN = "down", "Down"


class Heartbeat(models.Model):
    """A job that must ping its URL every `interval_minutes` (+ `grace_minutes`).

    A missed ping raises a firing alert (key `heartbeat:<id>`) through the
    integration, the same path as an inbound alert; the next ping resolves it.
    The ping token is stored hashed, like an integration's, and shown once.
    """

    name = models.CharField(max_length=100, unique=True)
    integration = models.ForeignKey(Integration, on_delete=models.PROTECT,
                                    related_name="heartbeats",
                                    help_text="The integration its alerts are raised through.")
    interval_minutes = models.PositiveIntegerField(default=60)
    grace_minutes = models.PositiveIntegerField(default=5)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=8, editable=False)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=HeartbeatState.choices,
                             default=HeartbeatState.UP)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        if not self.interval_minutes:
            raise ValidationError({"interval_minutes": "At least one minute."})

    @property
    def alert_key(self):
        return f"heartbeat:{self.pk}"

    def due_at(self):
        """When it is missed if no ping comes (counting from creation before the first)."""
        since = self.last_ping_at or self.created_at
        return since + timedelta(minutes=self.interval_minutes + self.grace_minutes)


# --- manual reports (issue 6 item 6, handbook §3.1) ----------------------------------

class ReportState(models.TextChoices):
    OPEN = "open", "Open"
    DECLARED = "declared", "Declared"
    DISMISSED = "dismissed", "Dismissed"


class ManualReport(models.Model):
    """Someone (support, an engineer) says something is broken; an IC or Manager
    triages it: declares an incident from it or dismisses it with a reason."""

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="manual_reports")
    what = models.CharField("What is broken", max_length=200)
    who_affected = models.TextField("Who is affected")
    since = models.DateTimeField("Since when")
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    state = models.CharField(max_length=20, choices=ReportState.choices,
                             default=ReportState.OPEN, db_index=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="Why it was dismissed.")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="manual_reports")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Report #{self.pk}: {self.what[:60]}"

    @property
    def is_open(self):
        return self.state == ReportState.OPEN

    def declare_initial(self):
        """The declare wizard's starting values (title, impact, start, service)."""
        return {"title": self.what, "customer_impact": self.who_affected,
                "started_at": self.since,
                "services": [self.service_id] if self.service_id else [],
                "description": f"From manual report #{self.pk}."}
