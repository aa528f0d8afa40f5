"""Fields and widgets every incidents form uses: local date-times, people who can hold
an incident role."""

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from oncall.roles import Role


class LocalDateTimeInput(forms.DateTimeInput):
    """A native date-time picker; values are read in the viewer's active time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        # Seconds are kept (step=1) so saving an edit never moves an entry in time.
        super().__init__(attrs={"step": "1", **(attrs or {})}, format="%Y-%m-%dT%H:%M:%S")


def responder_users():
    """People who can hold an incident role: anyone but pure Viewers."""
    roles = [Role.RESPONDER, Role.INCIDENT_COMMANDER, Role.MANAGER]
    return (
        get_user_model().objects.filter(is_active=True)
        .filter(Q(groups__name__in=roles) | Q(is_superuser=True))
        .distinct().order_by("first_name", "username")
    )


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.get_username()
