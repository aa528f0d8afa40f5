"""People: their time zone, their contact methods and their API tokens."""

import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from ..tokens import new_token


@functools.cache
def known_timezones():
    """Every IANA zone name this machine knows (read once: the scan is slow)."""
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value):
    if value not in known_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/Berlin).")


class Profile(models.Model):
    """What the product knows about a person beyond the auth user.

    All times are stored in UTC; pages show them in `timezone`, named. The
    calendar token authenticates the person's iCal feeds and can be regenerated.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    calendar_token = models.CharField(max_length=64, default=new_token, unique=True)

    def __str__(self):
        return f"{self.user} ({self.timezone})"


class ContactKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    SLACK = "slack", "Slack incoming webhook"
    WEBHOOK = "webhook", "Generic webhook"
    SMS = "sms", "SMS (Twilio)"
    VOICE = "voice", "Voice call (Twilio)"


PHONE_KINDS = (ContactKind.SMS, ContactKind.VOICE)


class ContactMethod(models.Model):
    """One way to reach a person. A permanent delivery error disables it, visibly."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    kind = models.CharField(max_length=20, choices=ContactKind.choices)
    target = models.CharField(max_length=500, help_text="E-mail address, webhook URL, or "
                                                        "phone number (E.164, +15551234567).")
    label = models.CharField(max_length=100, blank=True)
    notify_after_minutes = models.PositiveSmallIntegerField(
        default=0, help_text="0: at once when paged; N: only if the page is still "
                             "unacknowledged N minutes later.",
    )
    secret = models.CharField(max_length=64, default=new_token, editable=False,
                              help_text="Signs generic webhook requests (HMAC-SHA256).")
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True)
    last_test_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["user", "id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.display_target}"

    @property
    def is_enabled(self):
        return self.disabled_at is None

    @property
    def is_working(self):
        """Enabled, and its last test (if any) was delivered."""
        return self.is_enabled and self.last_test_ok is not False

    @property
    def display_target(self):
        """E-mail and phone numbers in full; URLs without their secret path."""
        if self.kind == ContactKind.EMAIL or self.kind in PHONE_KINDS:
            return self.target
        scheme, _, rest = self.target.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}/…"


class ApiToken(models.Model):
    """A person's token for the JSON API (Authorization: Bearer ...). Only its hash is
    stored; the API acts as the person, with exactly their permissions."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What uses it, e.g. \"deploy bot\".")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.prefix}…) of {self.user}"

    @property
    def is_active(self):
        return self.revoked_at is None
