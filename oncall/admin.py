"""The managers' admin for on-call: people, schedules, policies; pages to read.

Pages, notifications and page events are the engine's record (what was sent to
whom, and when): they are read here, never edited, since a hand edit would lie
about an escalation or make the engine notify someone twice. Webhook targets hold
their secret in the URL path, so lists show `display_target` only, and a contact
method's signing secret is never shown at all.
"""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from . import services, slack
from .forms.people import clean_target
from .forms.policies import EscalationPolicyForm
from .models import (
    ApiToken,
    ContactMethod,
    EscalationLevel,
    EscalationPolicy,
    Notice,
    Notification,
    Override,
    Page,
    PageEvent,
    Profile,
    Schedule,
    ScheduleMember,
    SlackIdentity,
    SlackWorkspace,
    Team,
    TeamMember,
)
from .roles import ManagerAdminMixin, ReadOnlyAdmin, ReadOnlyTabularInline


@admin.register(Profile)
class ProfileAdmin(ManagerAdminMixin, admin.ModelAdmin):
    list_display = ["user", "timezone"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "timezone"]
    list_select_related = ["user"]
    exclude = ["calendar_token"]  # a secret; the owner regenerates it on their page


class ContactMethodAdminForm(forms.ModelForm):
    """The channel judges the target here too, as it does on the owner's page."""

    class Meta:
        model = ContactMethod
        fields = ["user", "kind", "target", "label", "notify_after_minutes", "disabled_at",
                  "disabled_reason"]

    def clean(self):
        return clean_target(self, super().clean())


@admin.register(ContactMethod)
class ContactMethodAdmin(ManagerAdminMixin, admin.ModelAdmin):
    form = ContactMethodAdminForm
    list_display = ["user", "kind", "display_target", "label", "notify_after_minutes",
                    "enabled", "last_test_ok", "last_test_at"]
    list_filter = ["kind", ("disabled_at", admin.EmptyFieldListFilter), "last_test_ok"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "label"]
    list_select_related = ["user"]
    fields = ["user", "kind", "target", "label", "notify_after_minutes", "disabled_at",
              "disabled_reason", "last_test_at", "last_test_ok", "last_test_error", "created_at"]
    readonly_fields = ["last_test_at", "last_test_ok", "last_test_error", "created_at"]

    @admin.display(description="Target")
    def display_target(self, obj):
        return obj.display_target

    @admin.display(description="Enabled", boolean=True, ordering="disabled_at")
    def enabled(self, obj):
        return obj.is_enabled


class ScheduleMemberInline(ManagerAdminMixin, admin.TabularInline):
    model = ScheduleMember
    extra = 0
    ordering = ["position"]


class OverrideInlineFormSet(BaseInlineFormSet):
    """New overrides go through services.create_override (overlap check under a lock);
    its refusal is shown beside the field, like on the schedule page."""

    def clean(self):
        super().clean()
        new = [f for f in self.extra_forms if f.has_changed() and f.is_valid()
               and not self._should_delete_form(f)]
        for form in new:
            data = form.cleaned_data
            try:
                services.check_override(self.instance, start=data["start"], end=data["end"])
            except ValidationError as exc:
                form.add_error(None, exc)


class OverrideInline(ManagerAdminMixin, admin.TabularInline):
    """Existing overrides are read-only here: delete one and add another, as on the
    schedule page, so every override passes the same checks."""

    model = Override
    formset = OverrideInlineFormSet
    fk_name = "schedule"
    extra = 0
    fields = ["user", "start", "end", "reason", "created_by"]
    readonly_fields = ["created_by"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Schedule)
class ScheduleAdmin(ManagerAdminMixin, admin.ModelAdmin):
    list_display = ["name", "team", "rotation_kind", "timezone", "coverage", "handoff_time",
                    "escalation_timeout_minutes"]
    list_filter = ["rotation_kind", "coverage", "timezone", "team"]
    list_select_related = ["team"]
    search_fields = ["name", "description"]
    inlines = [ScheduleMemberInline, OverrideInline]

    def save_formset(self, request, form, formset, change):
        if formset.model is not Override:
            return super().save_formset(request, form, formset, change)
        for obj in formset.save(commit=False):
            services.create_override(obj.schedule, user=obj.user, start=obj.start,
                                     end=obj.end, reason=obj.reason, by=request.user)
        for obj in formset.deleted_objects:
            services.delete_override(obj, by=request.user)
        return None


class TeamMemberInline(ManagerAdminMixin, admin.TabularInline):
    model = TeamMember
    extra = 0
    ordering = ["position"]


@admin.register(Team)
class TeamAdmin(ManagerAdminMixin, admin.ModelAdmin):
    """Teams; a schedule that takes its members from a team follows its changes."""

    list_display = ["name", "lead", "member_list", "schedule_list"]
    search_fields = ["name", "description", "members__user__username"]
    list_select_related = ["lead"]
    inlines = [TeamMemberInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("members__user", "schedules")

    @admin.display(description="Members")
    def member_list(self, obj):
        return ", ".join(m.user.get_username() for m in obj.members.all())

    @admin.display(description="Schedules")
    def schedule_list(self, obj):
        return ", ".join(s.name for s in obj.schedules.all())

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.sync_team_schedules(form.instance, by=request.user)


class EscalationLevelInline(ManagerAdminMixin, admin.TabularInline):
    model = EscalationLevel
    extra = 0
    ordering = ["position"]
    autocomplete_fields = ["schedule"]
    filter_horizontal = ["users"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(ManagerAdminMixin, admin.ModelAdmin):
    form = EscalationPolicyForm
    list_display = ["name", "is_default", "repeat_count", "major_incident_schedule"]
    list_filter = ["is_default"]
    search_fields = ["name", "description"]
    list_select_related = ["major_incident_schedule"]
    autocomplete_fields = ["major_incident_schedule"]
    inlines = [EscalationLevelInline]


class NotificationInline(ReadOnlyTabularInline):
    model = Notification
    fields = ["level", "cycle", "user", "kind", "status", "attempts", "error", "queued_at",
              "sent_at"]
    readonly_fields = fields
    ordering = ["cycle", "level", "queued_at"]


class PageEventInline(ReadOnlyTabularInline):
    model = PageEvent
    fields = ["at", "kind", "text", "flagged"]
    readonly_fields = fields


@admin.register(Page)
class PageAdmin(ReadOnlyAdmin):
    list_display = ["title", "severity", "status", "current_level", "policy", "created_at",
                    "acknowledged_by", "acknowledged_at"]
    list_filter = ["status", "severity", "source", "policy"]
    search_fields = ["title", "dedup_key", "source"]
    list_select_related = ["policy", "acknowledged_by"]
    date_hierarchy = "created_at"
    inlines = [NotificationInline, PageEventInline]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["page", "level", "cycle", "user", "kind", "status", "attempts", "queued_at",
                    "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["page__title", "user__username", "error"]
    list_select_related = ["page", "user"]
    date_hierarchy = "queued_at"


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ["subject", "user", "kind", "status", "attempts", "queued_at", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["subject", "key", "user__username", "error"]
    list_select_related = ["user"]
    date_hierarchy = "queued_at"


@admin.register(PageEvent)
class PageEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "page", "kind", "flagged", "text"]
    list_filter = ["kind", "flagged"]
    search_fields = ["page__title", "text"]
    list_select_related = ["page"]
    date_hierarchy = "at"


@admin.register(ApiToken)
class ApiTokenAdmin(ManagerAdminMixin, admin.ModelAdmin):
    """Managers see every API token (never its secret: only the hash is stored) and
    revoke them; tokens are made by their owners on /oncall/me/."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            services.revoke_api_token(token, by=request.user)
        self.message_user(request, "Revoked.")



BAD_TOKEN = "A bot token starts with xoxb-."  # nosec B105 - a message, not a secret


class SlackWorkspaceForm(forms.ModelForm):
    """The secrets are typed, never shown back: left empty, the stored one stays."""

    bot_token = forms.CharField(required=False, strip=True,
                                widget=forms.PasswordInput(render_value=False),
                                help_text="xoxb-...; leave empty to keep the stored one.")
    signing_secret = forms.CharField(required=False, strip=True,
                                     widget=forms.PasswordInput(render_value=False),
                                     help_text="Leave empty to keep the stored one.")
    forget = forms.BooleanField(required=False, label="Forget the stored token and secret")

    class Meta:
        model = SlackWorkspace
        fields = ["bot_token", "signing_secret"]

    def clean(self):
        data = super().clean()
        for field in ("bot_token", "signing_secret"):
            if self.cleaned_data.get("forget"):
                data[field] = ""
            elif not data.get(field):
                data[field] = getattr(self.instance, field, "")
        token = data.get("bot_token", "")
        if token and not token.startswith("xox"):
            raise ValidationError({"bot_token": BAD_TOKEN})
        return data


@admin.register(SlackWorkspace)
class SlackWorkspaceAdmin(ManagerAdminMixin, admin.ModelAdmin):
    """The Slack connection: what is configured (set / not set, and whether the
    environment's value wins) and the last error Slack gave; never the secrets."""

    form = SlackWorkspaceForm
    list_display = ["__str__", "token_state", "secret_state", "last_error", "last_error_at"]
    readonly_fields = ["token_state", "secret_state", "api_url", "last_error", "last_error_at",
                       "last_ok_at"]
    fields = ["token_state", "secret_state", "api_url", "bot_token", "signing_secret", "forget",
              "last_error", "last_error_at", "last_ok_at"]

    def has_add_permission(self, request):
        return self._is_manager(request) and not SlackWorkspace.objects.exists()

    @staticmethod
    def _state(stored, from_env):
        if from_env:
            return "set (SLACK_* environment variable; it wins over the admin)"
        return "set (stored here)" if stored else "not set"

    @admin.display(description="Bot token")
    def token_state(self, obj):
        return self._state(obj and obj.bot_token, slack.config().token_from_env)

    @admin.display(description="Signing secret")
    def secret_state(self, obj):
        return self._state(obj and obj.signing_secret, slack.config().secret_from_env)

    @admin.display(description="Slack API")
    def api_url(self, obj):
        return settings.SLACK_API_URL

    def save_model(self, request, obj, form, change):
        obj.pk = 1
        super().save_model(request, obj, form, change)


@admin.register(SlackIdentity)
class SlackIdentityAdmin(ManagerAdminMixin, admin.ModelAdmin):
    """Who is which Slack user; people find and confirm their own on /oncall/me/."""

    list_display = ["user", "slack_user_id", "slack_name", "email", "confirmed_at"]
    search_fields = ["user__username", "slack_user_id", "slack_name", "email"]
    readonly_fields = ["user", "slack_user_id", "slack_name", "email", "found_at"]
    list_select_related = ["user"]

    def has_add_permission(self, request):
        return False
