"""Automation rules (handbook §6.2): when an alert matches for long enough, call a
webhook or page a policy, and say so on the incident's timeline. Logic in
incidents/automation.py."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from oncall.tokens import new_token

from .. import matchers as matching
from .incident import Incident, Severity


class AutomationAction(models.TextChoices):
    WEBHOOK = "webhook", "Outbound webhook (JSON, HMAC-signed)"
    PAGE = "page", "Page an escalation policy"


class AutomationRule(models.Model):
    """Trigger: an open alert named `alert_name` (its `alertname` label, else its summary)
    whose labels match `matchers`, at `max_severity` or worse, firing for at least
    `duration_minutes`. Action: the webhook or the page, once per alert, at most
    `max_per_hour` times an hour. `message` is templated from the alert's labels and
    annotations, Alertmanager-style: `{{ .Labels.pod }}`, `{{ .Annotations.summary }}`."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=False)
    alert_name = models.CharField(max_length=200, blank=True,
                                  help_text="Exact alert name; blank: any alert.")
    matchers = models.JSONField(default=list, blank=True,
                                help_text="Label matchers, as for silences.")
    max_severity = models.PositiveSmallIntegerField(
        choices=Severity.choices, null=True, blank=True,
        help_text="Only alerts of this severity or worse (blank: any).")
    duration_minutes = models.PositiveIntegerField(
        default=0, help_text="How long the alert must have been firing.")
    action = models.CharField(max_length=20, choices=AutomationAction.choices,
                              default=AutomationAction.WEBHOOK)
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_secret = models.CharField(max_length=64, default=new_token, editable=False,
                                      help_text="Signs the webhook body (HMAC-SHA256).")
    policy = models.ForeignKey("oncall.EscalationPolicy", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    message = models.TextField(help_text="E.g. Deleted crash-looping pod: {{ .Labels.pod }}")
    max_per_hour = models.PositiveSmallIntegerField(default=6)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.matchers:
            try:
                self.matchers = matching.validate(self.matchers)
            except matching.MatcherError as exc:
                errors["matchers"] = exc.errors
        if not self.alert_name and not self.matchers:
            errors["alert_name"] = "Name the alert, or give label matchers (or both)."
        if self.enabled and self.action == AutomationAction.WEBHOOK and not self.webhook_url:
            errors["webhook_url"] = "An enabled webhook rule needs a URL."
        if self.enabled and self.action == AutomationAction.PAGE and not self.policy_id:
            errors["policy"] = "An enabled paging rule needs a policy."
        if not self.max_per_hour:
            errors["max_per_hour"] = "At least 1."
        if errors:
            raise ValidationError(errors)


class FiringResult(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    RATE_LIMITED = "rate_limited", "Skipped: rate limit"


class AutomationFiring(models.Model):
    """One rule acting on one alert (at most once: the unique constraint)."""

    rule = models.ForeignKey(AutomationRule, on_delete=models.CASCADE, related_name="firings")
    alert = models.ForeignKey("incidents.Alert", on_delete=models.CASCADE,
                              related_name="automation_firings")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="automation_firings")
    fired_at = models.DateTimeField(default=timezone.now, db_index=True)
    result = models.CharField(max_length=20, choices=FiringResult.choices,
                              default=FiringResult.RUNNING)
    message = models.TextField(blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["rule", "alert"],
                                               name="one_firing_per_rule_and_alert")]

    def __str__(self):
        return f"{self.rule} on alert {self.alert_id}: {self.get_result_display()}"
