"""Template helpers shared by every app: times shown in the viewer's zone, named."""

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def when(value):
    """`2026-11-27 09:05 EST`: always with the date (incidents span days) and zone."""
    if not value:
        return "—"
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


@register.filter
def person(user):
    if not user:
        return "—"
    return user.get_full_name() or user.get_username()


@register.simple_tag
def current_timezone_name():
    return timezone.get_current_timezone_name()
