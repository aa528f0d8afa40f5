"""Runbooks (handbook §4) and the runbooks attached to an incident, step by step."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from mindweave_ir.markup import render_markdown

from .. import templating
from .incident import Incident, Service


class Runbook(models.Model):
    """A §4 runbook in Markdown, linked to the services and alert names it is for."""

    title = models.CharField(max_length=200, unique=True)
    body = models.TextField(help_text="Markdown; shown sanitised.")
    services = models.ManyToManyField(Service, blank=True, related_name="runbooks")
    alert_names = models.TextField(
        blank=True, help_text="Alert names (alertname label) this runbook is for, one a line."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title

    def alert_name_list(self):
        return [n.strip() for n in self.alert_names.splitlines() if n.strip()]

    def body_html(self):
        return render_markdown(self.body)

    def steps(self):
        return templating.runbook_steps(self.body)


class RunbookAttachment(models.Model):
    """A runbook an IC attached to an incident; its steps are ticked one by one."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="runbooks")
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="attachments")
    attached_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                    on_delete=models.SET_NULL, related_name="+")
    attached_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["attached_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "runbook"], name="uniq_runbook_attach")
        ]

    def __str__(self):
        return f"{self.runbook} on {self.incident_id}"


class RunbookStepTick(models.Model):
    """One ticked step (by position in Runbook.steps(), its text kept as ticked)."""

    attachment = models.ForeignKey(RunbookAttachment, on_delete=models.CASCADE,
                                   related_name="ticks")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=200)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                related_name="+")
    done_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["attachment", "position"], name="uniq_runbook_tick")
        ]

    def __str__(self):
        return self.text
