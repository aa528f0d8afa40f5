"""The incident's timeline (§6.1 TimelineEntry) and the revisions its edits keep."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from mindweave_ir.inputs import SafeDateTimeField
from mindweave_ir.templatetags.mw import when

from .incident import Incident


class TimelineKind(models.TextChoices):
    NOTE = "note", "Note"
    ACTION = "action", "Action taken"
    FINDING = "finding", "Finding"
    DECLARED = "declared", "Incident declared"
    STATUS = "status", "Status change"
    SEVERITY = "severity", "Severity change"
    ROLE = "role", "Role assignment"
    CHECKLIST = "checklist", "Checklist"
    SLA = "sla", "SLA"
    PAGE = "page", "Paging"
    RESOLVED = "resolved", "Incident resolved"
    ALERT = "alert", "Alert"
    COMMS = "comms", "Communication"
    AUTOMATION = "automation", "Automation"


# The longest hand-written entry: the form, the JSON API and the service all use this.
MAX_ENTRY_LENGTH = 20_000
# How far before the incident's start an entry may be back-filled.
ENTRY_LOOKBACK = timedelta(days=30)

# Kinds a person may write by hand; the others are written by the system.
MANUAL_KINDS = (TimelineKind.NOTE, TimelineKind.ACTION, TimelineKind.FINDING)


class TimelineEntry(models.Model):
    """One line of the incident's story (§6.1 TimelineEntry).

    `occurred_at` is when it happened (back-fillable), `created_at` when it was
    written. `version` rises with every edit so a stale edit is refused; the text
    before each edit is kept in TimelineRevision. Deleting only marks the entry.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    occurred_at = SafeDateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(max_length=20, choices=TimelineKind.choices, default=TimelineKind.NOTE)
    body = models.TextField(help_text="Markdown.")
    body_html = models.TextField(editable=False, help_text="body rendered and sanitised.")
    version = models.PositiveIntegerField(default=1, editable=False)
    edited_at = models.DateTimeField(null=True, blank=True, editable=False)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["incident", "occurred_at", "id"])]
        verbose_name_plural = "timeline entries"

    def __str__(self):
        return f"{self.incident_id} {self.get_kind_display()} @ {when(self.occurred_at)}"

    @property
    def is_manual(self):
        return self.kind in MANUAL_KINDS


class TimelineRevision(models.Model):
    """A timeline entry as it was before an edit (or a deletion)."""

    entry = models.ForeignKey(TimelineEntry, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    body = models.TextField()
    occurred_at = SafeDateTimeField()
    kind = models.CharField(max_length=20, choices=TimelineKind.choices)
    replaced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    replaced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "version"], name="uniq_revision_version")
        ]

    def __str__(self):
        return f"entry {self.entry_id} v{self.version}"
