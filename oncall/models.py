"""People: per-user settings. Schedules, policies and pages arrive with the on-call issue."""

import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


@functools.cache
def known_timezones():
    """Every IANA zone name this machine knows (read once: the scan is slow)."""
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value):
    if value not in known_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/Berlin).")


class Profile(models.Model):
    """What the product knows about a person beyond the auth user: their time zone.

    All times are stored in UTC; pages show them in this zone, named.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])

    def __str__(self):
        return f"{self.user} ({self.timezone})"
