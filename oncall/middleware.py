import zoneinfo

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from .models import known_timezones


class UserTimezoneMiddleware:
    """Render every page in the signed-in user's own time zone (UTC without a profile)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timezone.activate(zoneinfo.ZoneInfo(user_timezone_name(request.user)))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def user_timezone_name(user):
    if not user.is_authenticated:
        return "UTC"
    try:
        name = user.profile.timezone
    except ObjectDoesNotExist:
        return "UTC"
    return name if name in known_timezones() else "UTC"
