"""Escalation policy and level forms: the admin edits policies with these, and
on-call files (oncall_apply) are checked by them, so both refuse the same things."""

from django import forms

from ..models import EscalationLevel, EscalationPolicy


class EscalationPolicyForm(forms.ModelForm):
    class Meta:
        model = EscalationPolicy
        fields = ["name", "description", "repeat_count", "major_incident_schedule",
                  "is_default"]


class EscalationLevelForm(forms.ModelForm):
    """One level: a schedule, named people, or both; paged for `timeout_minutes`."""

    class Meta:
        model = EscalationLevel
        fields = ["schedule", "users", "timeout_minutes"]

    def clean(self):
        data = super().clean()
        if not data.get("schedule") and not data.get("users") and not self.errors:
            raise forms.ValidationError("A level pages a schedule or named people: give one.")
        if data.get("timeout_minutes") == 0:
            self.add_error("timeout_minutes", "A level waits at least one minute.")
        users = data.get("users") or []
        inactive = [u.get_username() for u in users if not u.is_active]
        if inactive:
            self.add_error("users", f"Not active: {', '.join(inactive)}.")
        return data
