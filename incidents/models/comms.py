"""Communications (handbook §5): templates, subscribers, per-incident settings, sent
updates and their deliveries. Every write goes through services/comms.py; sending is
comms/delivery.py.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from oncall.models import Delivery

from .. import templating
from .incident import Incident, Service


class CommsKind(models.TextChoices):
    STATUS_PAGE = "status_page", "Status page"
    CUSTOMER_EMAIL = "customer_email", "Customer email"
    SLACK = "slack", "Slack"


class PublicState(models.TextChoices):
    """The state a status-page update announces (§5.1)."""

    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


class ComponentState(models.TextChoices):
    """What a published status-page update says of the affected components (as
    Atlassian Statuspage's component statuses). The public page shows only these:
    an incident nobody published about changes nothing there."""

    OPERATIONAL = "operational", "Operational"
    DEGRADED = "degraded_performance", "Degraded performance"
    PARTIAL = "partial_outage", "Partial outage"
    MAJOR = "major_outage", "Major outage"

    @classmethod
    def default(cls, severity, public_state=""):
        """What an update shows unless its sender chooses: operational once resolved,
        else by severity: SEV-1 major, SEV-2 partial, SEV-3 degraded, SEV-4 operational."""
        if public_state == PublicState.RESOLVED:
            return cls.OPERATIONAL
        return {1: cls.MAJOR, 2: cls.PARTIAL, 3: cls.DEGRADED}.get(int(severity),
                                                                    cls.OPERATIONAL)

    @classmethod
    def worst(cls, states):
        """The worst of `states` (operational when there are none)."""
        order = list(cls)
        return max((cls(s) for s in states), key=order.index, default=cls.OPERATIONAL)


class CommsStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Delivered"
    FAILED = "failed", "Failed"


def _braced(name):
    return "{" + name + "}"


def _unknown_message(unknown):
    known = ", ".join(_braced(n) for n in templating.PLACEHOLDERS)
    names = ", ".join(_braced(n) for n in unknown)
    return f"Unknown placeholder{'s' if len(unknown) > 1 else ''} {names}. Known: {known}."


class CommsTemplate(models.Model):
    """One §5 template: a subject (email subject, status-page title, Slack heading) and
    a body with `{placeholder}`s from templating.PLACEHOLDERS. Managers edit these in
    the admin; a placeholder outside the table is refused on save, by name."""

    kind = models.CharField(max_length=20, choices=CommsKind.choices)
    name = models.CharField(max_length=100)
    state = models.CharField(
        max_length=20, choices=PublicState.choices, blank=True,
        help_text="Status-page templates only: the state the update announces.",
    )
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "position", "name"]
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="uniq_comms_template")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.name}"

    def save(self, *args, **kwargs):
        # The admin calls clean(); code saving directly must not slip past the table.
        unknown = templating.unknown_placeholders(self.subject, self.body)
        if unknown:
            raise ValidationError(_unknown_message(unknown))
        super().save(*args, **kwargs)

    def clean(self):
        unknown = templating.unknown_placeholders(self.subject, self.body)
        if unknown:
            raise ValidationError(_unknown_message(unknown))
        if self.kind == CommsKind.STATUS_PAGE and not self.state:
            raise ValidationError({"state": "A status-page template announces a state."})
        if self.kind != CommsKind.STATUS_PAGE and self.state:
            raise ValidationError({"state": "Only status-page templates have a state."})


class Subscriber(models.Model):
    """A customer address that gets a service's incident emails once confirmed."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="subscribers")
    email = models.EmailField()
    confirmed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["service", "email"]
        constraints = [
            models.UniqueConstraint(fields=["service", "email"], name="uniq_subscriber")
        ]

    def __str__(self):
        return f"{self.email} ({self.service})"


class IncidentComms(models.Model):
    """Per-incident communication settings: the Slack webhook its posts go to, and
    whether its channel is archived (set when it is resolved through the resolve form)."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="comms")
    slack_webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Incoming webhook of the incident's channel."
    )
    channel_archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "incident comms settings"

    def __str__(self):
        return f"comms of {self.incident_id}"


class CommsUpdate(models.Model):
    """One update as sent: stored before any network call, with its outcome summed
    over its deliveries (one per recipient; none for the status page, which is
    published the moment it is stored)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="comms_updates")
    channel = models.CharField(max_length=20, choices=CommsKind.choices)
    template = models.ForeignKey(CommsTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    state = models.CharField(max_length=20, choices=PublicState.choices, blank=True)
    component_state = models.CharField(
        max_length=24, choices=ComponentState.choices, blank=True,
        help_text="Status-page updates only: the state the affected components show "
                  "publicly while this is the incident's latest published update.")
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=20, choices=CommsStatus.choices,
                              default=CommsStatus.QUEUED, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["incident", "channel", "status", "created_at"])]

    def __str__(self):
        return f"{self.incident_id} {self.get_channel_display()} {self.subject}"

    @property
    def is_published(self):
        return self.channel == CommsKind.STATUS_PAGE and self.status == CommsStatus.SENT


class CommsDelivery(Delivery):
    """One update to one recipient (an address, or the incident's Slack webhook), sent
    at most once: claimed, sent and recorded by comms/delivery.py (oncall/delivery.py)."""

    update = models.ForeignKey(CommsUpdate, on_delete=models.CASCADE, related_name="deliveries")
    target = models.CharField(max_length=500)

    class Meta(Delivery.Meta):
        verbose_name_plural = "comms deliveries"
        constraints = [
            models.UniqueConstraint(fields=["update", "target"], name="uniq_comms_delivery")
        ]

    def __str__(self):
        return f"{self.update_id} → {self.kind}"
