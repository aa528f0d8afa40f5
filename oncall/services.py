"""Writes for people's settings."""

from django.db import transaction

from .models import Profile


def profile_for(user):
    """The user's profile, or an unsaved default one (reading never writes)."""
    return Profile.objects.filter(user=user).first() or Profile(user=user)


@transaction.atomic
def set_timezone(user, tzname):
    profile = profile_for(user)
    profile.timezone = tzname
    profile.full_clean()
    profile.save()
    return profile
