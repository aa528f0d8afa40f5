"""Caches that must not outlive what they hold.

The dashboard's on-call panel is cached per DASHBOARD version (oncall/dashboard.py):
a schedule, member or override saved anywhere — the services bump already, the
admin and data fixes may not — moves that version, so the panel is never stale. The
signed-in user is cached with their profile (mindweave_ir/usercache.py)."""

from django.db.models.signals import post_delete, post_save

from mindweave_ir import usercache
from mindweave_ir.live import versions

from .models import Override, Profile, Schedule, ScheduleMember


def _dashboard(sender, **kwargs):
    versions.bump()


def _profile(sender, instance, **kwargs):
    """The cached signed-in user carries their profile (time zone)."""
    usercache.forget(instance.user_id)


def connect():
    post_save.connect(_profile, sender=Profile, dispatch_uid="usercache-profile")
    post_delete.connect(_profile, sender=Profile, dispatch_uid="usercache-profile-delete")
    for model in (Schedule, ScheduleMember, Override):
        post_save.connect(_dashboard, sender=model, dispatch_uid=f"fresh-{model._meta.label}")
        post_delete.connect(_dashboard, sender=model,
                            dispatch_uid=f"fresh-del-{model._meta.label}")
