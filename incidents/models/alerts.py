"""Inbound alerts (issue 6, items 1-4): integrations, the alerts they raise, and every
raw body they were sent. Every write goes through ingest/.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from mindweave_ir.templatetags.mw import when

from .incident import Incident, Service, Severity

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
    CLOUDWATCH = "cloudwatch", "AWS CloudWatch (SNS)"


class SubscriptionState(models.TextChoices):
    """Where an SNS-fed integration's subscription stands (CloudWatch only)."""

    NONE = "none", "Not subscribed yet"
    CONFIRMING = "confirming", "Confirming"
    CONFIRMED = "confirmed", "Confirmed"
    FAILED = "failed", "Confirmation failed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


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
    # CloudWatch (SNS) only: the subscription, as the last SNS message said and the
    # confirmation left it. Written by ingest/subscriptions.py.
    subscription_state = models.CharField(max_length=20, choices=SubscriptionState.choices,
                                          default=SubscriptionState.NONE, editable=False)
    topic_arn = models.CharField(max_length=256, blank=True, editable=False,
                                 help_text="The SNS topic of the last subscription message.")
    subscription_arn = models.CharField(max_length=512, blank=True, editable=False)
    subscription_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False,
                                  help_text="The last thing that went wrong with a message "
                                            "this server accepted, or its confirmation.")
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)

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

    # Not indexed alone: the indexes below lead with it (each index is written by every
    # alert a storm brings).
    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="alerts",
                                    db_index=False)
    key = models.CharField(max_length=255, help_text="Fingerprint or dedup key.")
    group_key = models.TextField(blank=True, help_text="Alertmanager's groupKey, or the dedup key.")
    group_hash = models.CharField(max_length=64, editable=False)
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
        indexes = [
            models.Index(fields=["integration", "key", "status"]),
            # Ingestion's "the open incident of this group": the group's latest alert
            # with an incident first, not every alert the group ever had (a storm's
            # thousands were read and sorted once per batch).
            models.Index(fields=["integration", "group_hash", "created_at", "id"],
                         name="incidents_alert_group_latest",
                         condition=Q(incident__isnull=False)),
        ]

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
    message_id = models.CharField(
        max_length=100, blank=True,
        help_text="The sender's own id of the message (SNS MessageId): a replay of one "
                  "already received is folded, unless that one failed.")

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "inbound payload"
        constraints = [
            # A failed body leaves the index, so the sender's retry is stored and applied.
            models.UniqueConstraint(
                fields=["integration", "message_id"], name="uniq_inbound_message_id",
                condition=~Q(message_id="") & ~Q(outcome=PayloadOutcome.FAILED)),
        ]
        indexes = [
            # What every drain reads under the integration's lock (ingest/receive.py), and
            # the beat's stale search: partial, so it holds only the few pending rows
            # however many bodies are kept.
            models.Index(fields=["integration", "id"], name="incidents_inbound_pending",
                         condition=models.Q(outcome=PayloadOutcome.RECEIVED)),
        ]

    def __str__(self):
        return f"{self.integration.name} @ {when(self.received_at)}"
