"""Schedules: rotations, their members and overrides (handbook §2.1)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from mindweave_ir.inputs import PLANNING_HORIZON, SafeDateTimeField
from mindweave_ir.templatetags.mw import when

from .. import rotation
from .people import validate_timezone
from .teams import Team


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
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="schedules",
        help_text="Take the rotation's members from this team: its order kept, new members "
                  "appended, leavers dropped from future shifts.")
    # Member changes that keep the past (services.update_schedule(keep_shift=True)):
    # turn k is members[(k - rotation_offset) % n]; earlier lists are kept as
    # [{"until": ISO instant, "members": [user ids], "offset": n}] for older turns.
    rotation_offset = models.IntegerField(default=0, editable=False)
    rotation_history = models.JSONField(default=list, blank=True, editable=False)

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
        eras = tuple(rotation.Era(datetime.fromisoformat(e["until"]), tuple(e["members"]),
                                  e.get("offset", 0)) for e in self.rotation_history or ())
        return rotation.Rotation(members=tuple(member_ids), tz=self.timezone,
                                 start=self.first_handoff(), period=self.period(),
                                 coverage=coverage, offset=self.rotation_offset or 0,
                                 eras=eras)

    def history_member_ids(self):
        """User ids named only by earlier member lists (for labelling past shifts)."""
        return {uid for era in self.rotation_history or () for uid in era["members"]}


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
    start = SafeDateTimeField(ahead=PLANNING_HORIZON)
    end = SafeDateTimeField(ahead=PLANNING_HORIZON)
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["start"]
        constraints = [models.CheckConstraint(condition=Q(end__gt=models.F("start")),
                                              name="override_ends_after_start")]

    def __str__(self):
        return f"{self.user} on {self.schedule} {when(self.start)} – {when(self.end)}"
