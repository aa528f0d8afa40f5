"""Heartbeat monitors (issue 6 item 5): a job that must ping its URL in time; the
engine is heartbeats.py."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .alerts import Integration


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
