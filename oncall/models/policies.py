"""Escalation policies and their levels (handbook §2.1)."""


from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from .schedules import Schedule


class EscalationPolicy(models.Model):
    """Ordered levels, each a schedule or named people, with a timeout (§2.1)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    repeat_count = models.PositiveSmallIntegerField(
        default=0, help_text="How many more times to run all levels if nobody acknowledges."
    )
    major_incident_schedule = models.ForeignKey(
        Schedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Also paged at once for SEV-1 (e.g. Engineering Manager On-Call).",
    )
    is_default = models.BooleanField(
        default=False, help_text="Used for incidents whose services map to no policy."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"
        constraints = [models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True),
                                               name="one_default_policy")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("oncall:policy", args=[self.pk])


class EscalationLevel(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField()
    schedule = models.ForeignKey(Schedule, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="escalation_levels")
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    timeout_minutes = models.PositiveIntegerField(default=5)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["policy", "position"],
                                               name="uniq_level_pos")]

    def __str__(self):
        return f"{self.policy} level {self.position}"
