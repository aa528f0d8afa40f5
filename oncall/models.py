"""People, schedules, escalation policies and pages (handbook §2).

`oncall` knows nothing of incidents: a page carries its own title, severity, link
and dedup key, and a `source` string its sender understands.
"""

import functools
import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from . import rotation
from .tokens import new_token


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


class ContactMethod(models.Model):
    """One way to reach a person. A permanent delivery error disables it, visibly."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    kind = models.CharField(max_length=20, choices=ContactKind.choices)
    target = models.CharField(max_length=500, help_text="E-mail address or webhook URL.")
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
        """E-mail in full; URLs without their secret path."""
        if self.kind == ContactKind.EMAIL:
            return self.target
        scheme, _, rest = self.target.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}/…"


class RotationKind(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    DAILY = "daily", "Daily"
    CUSTOM = "custom", "Custom length"


class Coverage(models.TextChoices):
    ALWAYS = "24x7", "24x7"
    BUSINESS = "business", "Business hours"


class Weekday(models.IntegerChoices):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


class Schedule(models.Model):
    """An on-call rotation (§2.1): who is on call when, in the schedule's own zone."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    rotation_kind = models.CharField(max_length=10, choices=RotationKind.choices,
                                     default=RotationKind.WEEKLY)
    custom_length_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Shift length for a custom rotation, in hours."
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    handoff_time = models.TimeField(default=datetime.strptime("09:00", "%H:%M").time())
    handoff_day = models.PositiveSmallIntegerField(choices=Weekday.choices,
                                                   default=Weekday.MONDAY,
                                                   help_text="Weekly rotations only.")
    starts_on = models.DateField(help_text="The rotation's first handoff is on or after "
                                           "this date.")
    coverage = models.CharField(max_length=10, choices=Coverage.choices, default=Coverage.ALWAYS)
    business_days = models.JSONField(default=list, blank=True,
                                     help_text="Weekdays covered (0 = Monday).")
    business_start = models.TimeField(null=True, blank=True)
    business_end = models.TimeField(null=True, blank=True)
    escalation_timeout_minutes = models.PositiveIntegerField(default=5)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("oncall:schedule", args=[self.pk])

    def period(self):
        if self.rotation_kind == RotationKind.WEEKLY:
            return timedelta(days=7)
        if self.rotation_kind == RotationKind.DAILY:
            return timedelta(days=1)
        return timedelta(hours=self.custom_length_hours or 24)

    def first_handoff(self):
        """Local (naive) wall time of the first handoff."""
        day = self.starts_on
        if self.rotation_kind == RotationKind.WEEKLY:
            day += timedelta(days=(self.handoff_day - day.weekday()) % 7)
        return datetime.combine(day, self.handoff_time)

    def member_ids(self):
        return list(self.members.order_by("position").values_list("user_id", flat=True))

    def override_spans(self, start, end):
        return [rotation.OverrideSpan(o.start, o.end, o.user_id)
                for o in self.overrides.filter(start__lt=end, end__gt=start).order_by("created_at")]

    def on_call_at(self, at):
        """The user id on call at `at` (overrides applied), or None."""
        spans = self.override_spans(at, at + timedelta(microseconds=1))
        members = self.member_ids()
        if not members:
            return spans[-1].member if spans else None
        return rotation.on_call_at(self.as_rotation(members), spans, at)

    def shifts(self, start, end):
        """rotation.Shift list for [start, end), overrides applied."""
        spans = self.override_spans(start, end)
        members = self.member_ids()
        if not members:
            return [rotation.Shift(max(o.start, start), min(o.end, end), o.member, True)
                    for o in spans]
        return rotation.shifts(self.as_rotation(members), spans, start, end)

    def as_rotation(self, member_ids):
        """This schedule as a pure rotation.Rotation over `member_ids` (in order)."""
        coverage = None
        if self.coverage == Coverage.BUSINESS:
            coverage = rotation.Coverage(days=frozenset(self.business_days),
                                         start=self.business_start, end=self.business_end)
        return rotation.Rotation(members=tuple(member_ids), tz=self.timezone,
                                 start=self.first_handoff(), period=self.period(),
                                 coverage=coverage)


class ScheduleMember(models.Model):
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="schedule_memberships")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "position"], name="uniq_member_pos"),
            models.UniqueConstraint(fields=["schedule", "user"], name="uniq_member_user"),
        ]

    def __str__(self):
        return f"{self.schedule}: {self.position}. {self.user}"


class Override(models.Model):
    """`user` covers [start, end) on `schedule`, in place of whoever was on call."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="overrides")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["start"]
        constraints = [models.CheckConstraint(condition=Q(end__gt=models.F("start")),
                                              name="override_ends_after_start")]

    def __str__(self):
        return f"{self.user} on {self.schedule} {self.start:%Y-%m-%d %H:%M}–{self.end:%H:%M}"


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


class PageStatus(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    EXHAUSTED = "exhausted", "Nobody acknowledged"


OPEN_PAGE_STATUSES = (PageStatus.TRIGGERED, PageStatus.ACKNOWLEDGED)


class Page(models.Model):
    """A call for a human: escalates level by level until someone acknowledges.

    State lives here, not in the broker: `next_step_at` says when the engine must
    act next, and `next_level`/`cycle` where it stands. The policy is frozen into
    `snapshot` when the page starts, so editing a policy never reroutes a live page.
    """

    title = models.CharField(max_length=300)
    severity = models.CharField(max_length=10, blank=True)
    link = models.CharField(max_length=500, blank=True)
    dedup_key = models.CharField(max_length=255)
    source = models.CharField(max_length=100, blank=True, db_index=True)
    policy = models.ForeignKey(EscalationPolicy, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="pages")
    escalate = models.BooleanField(default=True,
                                   help_text="False: notify the first level only.")
    snapshot = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=PageStatus.choices,
                              default=PageStatus.TRIGGERED, db_index=True)
    cycle = models.PositiveSmallIntegerField(default=0)
    next_level = models.PositiveSmallIntegerField(default=0)
    current_level = models.PositiveSmallIntegerField(null=True, blank=True)
    next_step_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedup_key"], condition=Q(status__in=["triggered", "acknowledged"]),
                name="one_open_page_per_dedup_key",
            )
        ]

    def __str__(self):
        return f"Page {self.pk}: {self.title}"

    def get_absolute_url(self):
        return reverse("oncall:page", args=[self.pk])

    @property
    def is_open(self):
        return self.status in OPEN_PAGE_STATUSES

    @property
    def levels(self):
        return self.snapshot.get("levels", [])


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled (acknowledged first)"


class Delivery(models.Model):
    """One message to one person on one contact method, sent at most once
    (oncall/delivery.py claims, sends and records it). Rows are written before sending.
    Subclasses add `user` and `contact_method` (each with its own related name)."""

    kind = models.CharField(max_length=20, choices=ContactKind.choices)
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.QUEUED, db_index=True)
    due_at = models.DateTimeField(db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(default=timezone.now)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["queued_at", "id"]


class Notification(Delivery):
    """One attempt to reach one person on one method for one step of a page.

    The unique constraint is the promise: a (page, cycle, level, person, method)
    is notified at most once, however many workers or retries run.
    """

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="notifications")
    cycle = models.PositiveSmallIntegerField()
    level = models.PositiveSmallIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notifications")
    contact_method = models.ForeignKey(ContactMethod, null=True, on_delete=models.SET_NULL,
                                       related_name="notifications")

    class Meta(Delivery.Meta):
        constraints = [
            models.UniqueConstraint(fields=["page", "cycle", "level", "user", "contact_method"],
                                    name="notify_once_per_step")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.user} ({self.get_status_display()})"


class PageEventKind(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    NOTIFIED = "notified", "Level notified"
    SKIPPED = "skipped", "Level skipped"
    REPEATED = "repeated", "Policy repeated"
    EXHAUSTED = "exhausted", "Nobody acknowledged"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Delivery failed"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    AUDITOR = "auditor", "Auditor"


class PageEvent(models.Model):
    """The page's own record: what the engine did and when, flags included."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=PageEventKind.choices)
    text = models.TextField()
    flagged = models.BooleanField(default=False, help_text="Needs a human's attention.")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.page_id} {self.kind} {self.at:%H:%M:%S}"


class Notice(Delivery):
    """A message to one person on one contact method that is not a page: no escalation,
    no acknowledgement (handoff notes, reminders). Sent at most once per `key` and
    method, with the same claim-before-send and retry rules as page notifications."""

    key = models.CharField(max_length=200, help_text="The sender's idempotency key, e.g. "
                                                     "handoff:42:handed-off.")
    subject = models.CharField(max_length=300)
    text = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notices")
    contact_method = models.ForeignKey(ContactMethod, null=True, on_delete=models.SET_NULL,
                                       related_name="notices")

    class Meta(Delivery.Meta):
        constraints = [models.UniqueConstraint(fields=["key", "contact_method"],
                                               name="notice_once_per_method")]
        indexes = [models.Index(fields=["key"])]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.user}: {self.subject}"


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



class EngineHeartbeat(models.Model):
    """One paging engine process (`manage.py run_paging_engine`): when it last looped.

    Several engines may run; each keeps its own row (host:pid), removes it on a clean
    stop, and drops rows silent for a day. A stale `last_loop_at` means no engine runs.
    """

    name = models.CharField(max_length=200, unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_loop_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"paging engine {self.name}, last loop {self.last_loop_at:%Y-%m-%d %H:%M:%S}"
