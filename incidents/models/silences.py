"""Silences (issue 6 item 5): maintenance windows that keep matching alerts from
opening incidents. Matching itself is matchers.py (pure)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from mindweave_ir.inputs import PLANNING_HORIZON, SafeDateTimeField

from .. import matchers as matching
from .alerts import Integration


class SilenceQuerySet(models.QuerySet):
    def active(self, now=None):
        now = now or timezone.now()
        return self.filter(starts_at__lte=now, ends_at__gt=now)

    def expired(self, now=None):
        return self.filter(ends_at__lte=now or timezone.now())


class Silence(models.Model):
    """A maintenance window: firing alerts whose labels match it, while it is active,
    are stored and deduplicated as usual but open no incident and page nobody.

    Expiring re-fires nothing: alerts it suppressed stay as they were. The next
    message about a still-firing one is routed as usual (ingest/apply.py).
    `matchers` is a list of {name, value, is_regex, is_equal}; see matchers.py.
    """

    matchers = models.JSONField(help_text='A list of {"name", "value", "is_regex", '
                                          '"is_equal"}, all of which must match.')
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.CASCADE, related_name="silences",
        help_text="Only this integration's alerts; empty: every integration's.",
    )
    starts_at = SafeDateTimeField(default=timezone.now, ahead=PLANNING_HORIZON)
    ends_at = SafeDateTimeField(ahead=PLANNING_HORIZON)
    comment = models.CharField(max_length=500)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = SilenceQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["ends_at", "starts_at"])]

    def __str__(self):
        return f"Silence #{self.pk}: {self.comment[:60]}"

    def clean(self):
        errors = {}
        try:
            self.matchers = matching.validate(self.matchers)
        except matching.MatcherError as exc:
            errors["matchers"] = exc.errors
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "A silence must end after it starts."
        if not (self.comment or "").strip():
            errors["comment"] = "Say why (e.g. the maintenance it covers)."
        if errors:
            raise ValidationError(errors)

    def is_active(self, now=None):
        now = now or timezone.now()
        return self.starts_at <= now < self.ends_at

    def state(self, now=None):
        now = now or timezone.now()
        if self.ends_at <= now:
            return "expired"
        return "active" if self.starts_at <= now else "pending"

    @property
    def matchers_text(self):
        return matching.describe(self.matchers)
