"""Problem reports (issue 6 item 6, handbook §3.1) waiting for triage: someone says
something is broken; an IC or Manager declares an incident from it or dismisses it."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from mindweave_ir.inputs import SafeDateTimeField

from .incident import Incident, Service


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
    since = SafeDateTimeField("Since when")
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
