"""The four roles of the product, kept as Django groups (made by a data migration).

Every permission check in the services asks these helpers, so what a role may do
is decided in one place.
"""

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import models
from django.utils import timezone

from mindweave_ir.inputs import MAX_ID, parse_int

# The date hierarchy's parts a changelist URL may carry: Django catches a ValueError
# there but not the OverflowError of twenty digits, nor year 9999's "next year".
_DATE_PARTS = {"year": (1, 9998), "month": (1, 12), "day": (1, 31)}


class Role(models.TextChoices):
    VIEWER = "Viewer"
    RESPONDER = "Responder"
    INCIDENT_COMMANDER = "Incident Commander"
    MANAGER = "Manager"


def role_names(user):
    """The set of role names a user holds (cached on the user object per request)."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_mindweave_roles", None)
    if cached is None:
        # .all(): the groups the cached user came with (usercache), else one query.
        cached = frozenset(group.name for group in user.groups.all())
        user._mindweave_roles = cached
    return cached


def has_role(user, *roles):
    if user.is_authenticated and user.is_superuser:
        return True
    return bool(role_names(user) & {str(r) for r in roles})


class ManagerAdminMixin:
    """Admin access by role: staff Managers (and superusers) run the product's admin.

    Model permissions are not handed out one by one; the Manager role is the grant.
    """

    def _is_manager(self, request):
        return request.user.is_active and request.user.is_staff and has_role(
            request.user, Role.MANAGER
        )

    def has_module_permission(self, request):
        return self._is_manager(request)

    def has_view_permission(self, request, obj=None):
        return self._is_manager(request)

    def has_add_permission(self, request, *args):
        return self._is_manager(request)

    def has_change_permission(self, request, obj=None):
        return self._is_manager(request)

    def has_delete_permission(self, request, obj=None):
        return self._is_manager(request)

    def get_changelist_instance(self, request):
        """Refuse a date-hierarchy part out of range as Django refuses a bad lookup
        (the list again, with its "?e=1" notice), instead of a 500."""
        for part, (low, high) in _DATE_PARTS.items():
            value = request.GET.get(f"{self.date_hierarchy}__{part}")
            if self.date_hierarchy and value is not None and parse_int(
                    value, low=low, high=high) is None:
                raise IncorrectLookupParameters(f"{part} {value!r} is out of range")
        return super().get_changelist_instance(request)

    def response_action(self, request, queryset):
        """An action on rows named by ids that cannot be row ids (a forged form) does
        nothing and says so; Django would pass twenty digits to the database."""
        if isinstance(self.model._meta.pk, models.IntegerField) and any(
                parse_int(pk, low=1, high=MAX_ID) is None
                for pk in request.POST.getlist(ACTION_CHECKBOX_NAME)):
            self.message_user(request, "No action was run: the selected rows were not "
                              "recognised. Select them again.", messages.WARNING)
            return None
        return super().response_action(request, queryset)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        """A date-time typed in the admin is in the viewer's zone (the middleware's):
        say which, as the read-only ones do."""
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(db_field, models.DateTimeField) and field is not None:
            note = f"In your time zone, {timezone.get_current_timezone_name()}."
            field.help_text = f"{field.help_text} {note}".strip()
        return field


class ReadOnlyAdmin(ManagerAdminMixin, admin.ModelAdmin):
    """Managers may view; nobody adds, changes or deletes here (audit data, engine state).

    The overrides sit in the class body so they win over ManagerAdminMixin's grant.
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyTabularInline(ManagerAdminMixin, admin.TabularInline):
    """The same for rows shown inside another object's admin page."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
