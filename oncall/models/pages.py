"""Pages, their notifications and events, notices to people, and the paging engine's
heartbeat. A page carries its own title, severity, link and dedup key, and a `source`
string its sender understands: `oncall` knows nothing of incidents."""


from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from mindweave_ir.templatetags.mw import when

from .people import ContactKind, ContactMethod
from .policies import EscalationPolicy


class PageStatus(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    EXHAUSTED = "exhausted", "Nobody acknowledged"


OPEN_PAGE_STATUSES = (PageStatus.TRIGGERED, PageStatus.ACKNOWLEDGED)


class Page(models.Model):
    """A call for a human: escalates level by level until someone acknowledges.

    State lives here, not in the broker: `next_step_at` says when the engine must
    act next, and `next_level`/`cycle` where it stands. The policy is frozen into
    `snapshot` when the page starts, so editing a policy never reroutes a live page.
    """

    title = models.CharField(max_length=300)
    severity = models.CharField(max_length=10, blank=True)
    link = models.CharField(max_length=500, blank=True)
    dedup_key = models.CharField(max_length=255)
    source = models.CharField(max_length=100, blank=True, db_index=True)
    policy = models.ForeignKey(EscalationPolicy, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="pages")
    escalate = models.BooleanField(default=True,
                                   help_text="False: notify the first level only.")
    is_test = models.BooleanField(
        default=False, help_text="For a test/game-day incident: every notification says "
                                 "[TEST].")
    snapshot = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=PageStatus.choices,
                              default=PageStatus.TRIGGERED, db_index=True)
    cycle = models.PositiveSmallIntegerField(default=0)
    next_level = models.PositiveSmallIntegerField(default=0)
    current_level = models.PositiveSmallIntegerField(null=True, blank=True)
    next_step_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"], condition=Q(status__in=["triggered", "acknowledged"]),
                name="one_open_page_per_dedup_key",
            )
        ]

    def __str__(self):
        return f"Page {self.pk}: {self.title}"

    def get_absolute_url(self):
        return reverse("oncall:page", args=[self.pk])

    @property
    def is_open(self):
        return self.status in OPEN_PAGE_STATUSES

    @property
    def levels(self):
        return self.snapshot.get("levels", [])


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled (acknowledged first)"


class Delivery(models.Model):
    """One message to one person on one contact method, sent at most once
    (oncall/delivery.py claims, sends and records it). Rows are written before sending.
    Subclasses add `user` and `contact_method` (each with its own related name)."""

    kind = models.CharField(max_length=20, choices=ContactKind.choices)
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.QUEUED, db_index=True)
    due_at = models.DateTimeField(db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(default=timezone.now)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["queued_at", "id"]


class ProviderStatus(models.Model):
    """What the provider says happened after it accepted a message to a person's contact
    method: Twilio's status callbacks for SMS and calls (delivered, undelivered,
    no-answer ...; oncall/replies.py). Empty for every other kind."""

    provider_id = models.CharField(max_length=64, blank=True,
                                   help_text="The provider's id, e.g. a Twilio SM… or CA… SID.")
    provider_status = models.CharField(max_length=20, blank=True)
    provider_status_at = models.DateTimeField(null=True, blank=True)
    provider_error = models.CharField(max_length=200, blank=True)

    class Meta:
        abstract = True


class Notification(Delivery, ProviderStatus):
    """One attempt to reach one person on one method for one step of a page.

    The unique constraint is the promise: a (page, cycle, level, person, method)
    is notified at most once, however many workers or retries run.
    """

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="notifications")
    cycle = models.PositiveSmallIntegerField()
    level = models.PositiveSmallIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notifications")
    contact_method = models.ForeignKey(ContactMethod, null=True, on_delete=models.SET_NULL,
                                       related_name="notifications")

    class Meta(Delivery.Meta):
        constraints = [
            models.UniqueConstraint(fields=["page", "cycle", "level", "user", "contact_method"],
                                    name="notify_once_per_step")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.user} ({self.get_status_display()})"


class PageEventKind(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    NOTIFIED = "notified", "Level notified"
    SKIPPED = "skipped", "Level skipped"
    REPEATED = "repeated", "Policy repeated"
    EXHAUSTED = "exhausted", "Nobody acknowledged"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Delivery failed"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    ESCALATED = "escalated", "Escalated by hand"
    RESOLVED = "resolved", "Resolved"
    AUDITOR = "auditor", "Auditor"


class PageEvent(models.Model):
    """The page's own record: what the engine did and when, flags included."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=PageEventKind.choices)
    text = models.TextField()
    flagged = models.BooleanField(default=False, help_text="Needs a human's attention.")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.page_id} {self.kind} {when(self.at)}"


class Notice(Delivery, ProviderStatus):
    """A message to one person on one contact method that is not a page: no escalation,
    no acknowledgement (handoff notes, reminders). Sent at most once per `key` and
    method, with the same claim-before-send and retry rules as page notifications."""

    key = models.CharField(max_length=200, help_text="The sender's idempotency key, e.g. "
                                                     "handoff:42:handed-off.")
    subject = models.CharField(max_length=300)
    text = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notices")
    contact_method = models.ForeignKey(ContactMethod, null=True, on_delete=models.SET_NULL,
                                       related_name="notices")

    class Meta(Delivery.Meta):
        constraints = [models.UniqueConstraint(fields=["key", "contact_method"],
                                               name="notice_once_per_method")]
        indexes = [models.Index(fields=["key"])]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.user}: {self.subject}"


class EngineHeartbeat(models.Model):
    """One paging engine process (`manage.py run_paging_engine`): when it last looped.

    Several engines may run; each keeps its own row (host:pid), removes it on a clean
    stop, and drops rows silent for a day. A stale `last_loop_at` means no engine runs.
    """

    name = models.CharField(max_length=200, unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_loop_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"paging engine {self.name}, last loop {self.last_loop_at:%Y-%m-%d %H:%M:%S}"
