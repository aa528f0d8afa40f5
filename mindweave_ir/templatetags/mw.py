"""Template helpers shared by every app: times shown in the viewer's zone, named."""

from django import template
from django.utils import timezone

from mindweave_ir.inputs import safe_localtime

register = template.Library()


@register.filter
def when(value):
    """`2026-11-27 09:05 EST`: always with the date (incidents span days) and zone."""
    if not value:
        return "—"
    local = safe_localtime(value)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def display_name(user, missing="—"):
    """A person as people see them: full name, else username; `missing` for nobody."""
    if not user:
        return missing
    return user.get_full_name() or user.get_username()


@register.filter
def person(user):
    return display_name(user)


@register.simple_tag
def current_timezone_name():
    return timezone.get_current_timezone_name()


@register.filter
def duration_s(seconds):
    """Seconds as `45 s`, `4 min 10 s` or `2 h 05 min`."""
    if seconds is None or seconds == "":
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
