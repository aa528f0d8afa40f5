"""The Slack workspace this site is connected to, and which Slack user each person is.

The bot token and signing secret may come from the environment (SLACK_BOT_TOKEN,
SLACK_SIGNING_SECRET), which wins, or from this row, which Managers edit in the admin.
Neither is ever shown back: the admin says "set" or "not set" and the last error.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class SlackWorkspace(models.Model):
    """The one Slack connection (pk 1): secrets unless the environment has them, and
    what the last call to Slack that failed said."""

    bot_token = models.CharField(max_length=255, blank=True,
                                 help_text="The app's Bot User OAuth Token (xoxb-...). "
                                           "SLACK_BOT_TOKEN in the environment wins.")
    signing_secret = models.CharField(max_length=255, blank=True,
                                      help_text="The app's Signing Secret (Basic Information). "
                                                "SLACK_SIGNING_SECRET in the environment wins.")
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_ok_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "Slack workspace"

    def __str__(self):
        return "Slack workspace"


class SlackIdentity(models.Model):
    """A person's Slack user, found by their e-mail address (users.lookupByEmail).

    Found is not enough: only a link the person confirmed on their profile page lets
    Slack requests act as them."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="slack_identity")
    slack_user_id = models.CharField(max_length=32, unique=True)
    slack_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(help_text="The address it was found by.")
    found_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "Slack identities"

    def __str__(self):
        return f"{self.user} = Slack {self.slack_user_id}"

    @property
    def is_confirmed(self):
        return self.confirmed_at is not None
