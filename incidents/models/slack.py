"""An incident's Slack channel and the Web API calls made for it (handbook §6.1: the
channel is created on declaration, kept up to date, archived on resolution).

Every call is a delivery row written before the network call (oncall/delivery.py's
rules: claimed, sent at most once, retried with backoff, a 429 after its
Retry-After) and made in order per channel by incidents/slack/sync.py; failures stay
on the incident page until they are sent.
"""

from django.db import models
from django.utils import timezone

from oncall.models import Delivery

from .incident import Incident


class SlackChannel(models.Model):
    """The incident's channel in the connected workspace: its name (the incident's
    channel name, with a `-N` suffix if Slack had it taken), its id once created, the
    pinned declaration and who was invited."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="slack")
    name = models.CharField(max_length=80)
    channel_id = models.CharField(max_length=32, blank=True, db_index=True)
    declaration_ts = models.CharField(max_length=32, blank=True)
    invited = models.JSONField(default=list, blank=True,
                               help_text="Slack user ids invited so far.")
    created_at = models.DateTimeField(default=timezone.now)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"#{self.name}"


class SlackAction(models.TextChoices):
    CREATE = "create", "Create the channel"
    TOPIC = "topic", "Set the topic"
    INVITE = "invite", "Invite people"
    POST = "post", "Post a message"
    PIN = "pin", "Pin the declaration"
    ARCHIVE = "archive", "Archive the channel"


class SlackCall(Delivery):
    """One call to make for a channel. A post keeps its text (what happened, as the
    timeline said it); the topic, invitations and the declaration are worked out
    from the incident when sent, so a late retry says what is true then."""

    channel = models.ForeignKey(SlackChannel, on_delete=models.CASCADE, related_name="calls")
    action = models.CharField(max_length=10, choices=SlackAction.choices)
    text = models.TextField(blank=True)
    declaration = models.BooleanField(default=False,
                                      help_text="The declaration, with its buttons, to pin.")

    class Meta(Delivery.Meta):
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "due_at"], name="slackcall_due")]

    def __str__(self):
        return f"{self.channel} {self.get_action_display()} ({self.get_status_display()})"
