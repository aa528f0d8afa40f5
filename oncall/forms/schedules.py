"""Schedule and override forms. The services check the same rules again."""

import functools
import re

from django import forms
from django.contrib.auth import get_user_model
from django.utils.html import format_html, format_html_join

from mindweave_ir.inputs import PLANNING_HORIZON, BoundedDateTimeField
from mindweave_ir.templatetags.mw import person, when

from ..models import (
    Coverage,
    Override,
    RotationKind,
    Schedule,
    Team,
    Weekday,
    known_timezones,
    validate_timezone,
)
from ..services import EARLIEST_START, LATEST_START, MAX_CUSTOM_HOURS, team_rotation_members

ROTATION_FIELDS = ("rotation_kind", "custom_length_hours", "timezone", "handoff_time",
                   "handoff_day", "starts_on")


class LocalDateTimeInput(forms.DateTimeInput):
    """A native date-time picker; Django reads the value in the viewer's active zone."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


@functools.cache
def timezone_datalist():
    """`<datalist id="timezone-names">` of every known zone, built once per process."""
    options = format_html_join("", '<option value="{}">', ((tz,) for tz in
                                                           sorted(known_timezones())))
    return format_html('<datalist id="timezone-names">{}</datalist>', options)


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        name = obj.get_full_name()
        return f"{name} ({obj.get_username()})" if name else obj.get_username()


def active_users():
    return get_user_model().objects.filter(is_active=True).order_by("first_name", "username")


class ScheduleForm(forms.ModelForm):
    """A rotation. Members are usernames in rotation order (works without JavaScript)."""

    # A text box with suggestions: a <select> of ~600 zones is slow to render and to use.
    timezone = forms.CharField(
        max_length=64, initial="UTC", validators=[validate_timezone], label="Time zone",
        widget=forms.TextInput(attrs={"list": "timezone-names", "autocomplete": "off"}),
        help_text="An IANA name such as America/New_York. Handoffs happen at this zone's "
                  "local time, DST included.",
    )
    members = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False,
        help_text="Usernames in rotation order, one per line (or separated by commas). "
                  "The first person takes the first shift. Ignored when a team is chosen.",
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, label="Members from team",
        help_text="The rotation takes its members from this team: the current order is "
                  "kept, new team members are appended, leavers drop out of future shifts.")
    business_days = forms.TypedMultipleChoiceField(
        choices=Weekday.choices, coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple, label="Business days",
    )

    class Meta:
        model = Schedule
        fields = ["name", "description", "rotation_kind", "custom_length_hours", "timezone",
                  "handoff_day", "handoff_time", "starts_on", "coverage", "business_days",
                  "business_start", "business_end", "escalation_timeout_minutes", "team"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "handoff_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "starts_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "business_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "business_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["members"] = "\n".join(
                m.user.get_username()
                for m in self.instance.members.select_related("user").order_by("position")
            )

    def clean_members(self):
        names = [n for n in re.split(r"[\s,;]+", self.cleaned_data["members"]) if n]
        if not names:
            return []
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise forms.ValidationError(f"Listed twice: {', '.join(repeated)}. A person "
                                        "appears once in a rotation.")
        users = {u.get_username(): u for u in active_users().filter(username__in=names)}
        unknown = [n for n in names if n not in users]
        if unknown:
            raise forms.ValidationError(f"No active user named: {', '.join(unknown)}.")
        return [users[n] for n in names]

    def clean(self):
        data = super().clean()
        team = data.get("team")
        if team is not None:
            current = ([m.user for m in self.instance.members.select_related("user")
                        .order_by("position")] if self.instance.pk else [])
            data["members"] = team_rotation_members(current, team.member_users())
            if not data["members"]:
                self.add_error("team", f"Team “{team}” has no members yet.")
        elif not data.get("members") and "members" not in self.errors:
            typed = str(self.data.get(self.add_prefix("members"), "")).strip()
            self.add_error("members", "A schedule needs at least one member (or a team)."
                           if typed else forms.Field.default_error_messages["required"])
        if data.get("rotation_kind") == RotationKind.CUSTOM:
            hours = data.get("custom_length_hours")
            if not hours and "custom_length_hours" not in self.errors:
                self.add_error("custom_length_hours",
                               "A custom rotation needs a shift length of at least 1 hour.")
            elif hours and hours > MAX_CUSTOM_HOURS:
                self.add_error("custom_length_hours",
                               f"At most {MAX_CUSTOM_HOURS} hours (a year).")
        starts_on = data.get("starts_on")
        if starts_on and not EARLIEST_START <= starts_on <= LATEST_START:
            self.add_error("starts_on", f"Choose a date between {EARLIEST_START:%Y} and "
                                        f"{LATEST_START:%Y}.")
        if data.get("coverage") == Coverage.BUSINESS:
            if not data.get("business_days") and "business_days" not in self.errors:
                self.add_error("business_days", "Choose the weekdays that are covered.")
            start, end = data.get("business_start"), data.get("business_end")
            if start is None and "business_start" not in self.errors:
                self.add_error("business_start", "When do business hours start?")
            if end is None and "business_end" not in self.errors:
                self.add_error("business_end", "When do business hours end?")
            if start is not None and end is not None and not start < end:
                self.add_error("business_end", "Business hours must end after they start "
                                               "(windows cannot cross midnight).")
        return data

    def schedule_fields(self):
        """cleaned_data as keyword arguments for services.create/update_schedule."""
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class OverrideForm(forms.Form):
    """Someone covers a stretch of a schedule; times are read in the viewer's zone."""

    user = PersonChoiceField(queryset=active_users(), label="Who covers")
    start = BoundedDateTimeField(ahead=PLANNING_HORIZON, widget=LocalDateTimeInput,
                                 label="From")
    end = BoundedDateTimeField(ahead=PLANNING_HORIZON, widget=LocalDateTimeInput,
                               label="Until")
    reason = forms.CharField(max_length=200, required=False,
                             widget=forms.TextInput(attrs={"placeholder": "e.g. swap with Bob"}))

    def __init__(self, *args, schedule, **kwargs):
        super().__init__(*args, **kwargs)
        self.schedule = schedule
        self.fields["user"].queryset = active_users()

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            return data
        if end <= start:
            self.add_error("end", "The override must end after it starts.")
            return data
        clash = (Override.objects.filter(schedule=self.schedule, start__lt=end, end__gt=start)
                 .select_related("user").order_by("start").first())
        if clash is not None:
            self.add_error("start", f"Overlaps the override for {person(clash.user)} from "
                                    f"{when(clash.start)} to {when(clash.end)}.")
        return data
