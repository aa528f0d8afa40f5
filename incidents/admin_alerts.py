"""Admin for inbound alerts: integrations (with token regeneration), alerts and raw
payloads, silences, heartbeats and manual reports. Managers only, like the rest;
alerts, payloads and reports are audit data and read-only. A token (or a heartbeat's
ping URL) is shown once, in a message, when made or regenerated."""

from django.contrib import admin, messages
from django.db.models import Count
from django.utils.text import Truncator

from oncall.roles import ManagerAdminMixin, ReadOnlyAdmin

from . import heartbeats, ingest, services
from .models import Alert, Heartbeat, InboundPayload, Integration, ManualReport, Silence


def _show_token(modeladmin, request, integration, token):
    modeladmin.message_user(
        request, f"Token for {integration.name} (shown only now; store it in your "
                 f"monitoring tool's config): {token}", level=messages.WARNING)


@admin.register(Integration)
class IntegrationAdmin(ManagerAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "service", "escalation_policy", "enabled", "token_prefix",
                    "created_at"]
    list_filter = ["kind", "enabled"]
    list_select_related = ["service", "escalation_policy"]
    search_fields = ["name", "token_prefix"]
    fields = ["name", "kind", "service", "escalation_policy", "severity_map",
              "default_severity", "enabled", "token_prefix", "created_at"]
    readonly_fields = ["token_prefix", "created_at"]
    actions = ["regenerate_tokens"]

    def has_delete_permission(self, request, obj=None):
        # Its alerts and payloads are the audit trail: disable it instead.
        return False

    def save_model(self, request, obj, form, change):
        token = None if change else ingest.issue_token(obj)
        super().save_model(request, obj, form, change)
        if token:
            _show_token(self, request, obj, token)

    @admin.action(description="Regenerate the token (the old one stops working)")
    def regenerate_tokens(self, request, queryset):
        for integration in queryset:
            _show_token(self, request, integration, ingest.regenerate_token(integration))


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["id", "summary_short", "status", "severity", "integration", "key",
                    "count", "incident", "paged", "last_received_at"]
    list_filter = ["status", "severity", "integration", "paged", "opened_incident"]
    list_select_related = ["integration", "incident"]
    search_fields = ["summary", "key", "source", "incident__ref"]
    readonly_fields = [f.name for f in Alert._meta.fields]

    @admin.display(description="Summary")
    def summary_short(self, obj):
        return Truncator(obj.summary).chars(80)


@admin.register(InboundPayload)
class InboundPayloadAdmin(ReadOnlyAdmin):
    list_display = ["id", "integration", "received_at", "outcome", "error_short"]
    list_filter = ["outcome", "integration"]
    list_select_related = ["integration"]
    search_fields = ["body", "error", "result"]
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in InboundPayload._meta.fields]

    @admin.display(description="Error")
    def error_short(self, obj):
        return Truncator(obj.error).chars(80)


@admin.register(Silence)
class SilenceAdmin(ManagerAdminMixin, admin.ModelAdmin):
    """Matchers as JSON here ([{"name", "value", "is_regex", "is_equal"}]); the
    /incidents/silences/ page takes them one per line."""

    list_display = ["id", "comment", "matchers_text", "integration", "starts_at", "ends_at",
                    "created_by", "suppressed"]
    list_filter = ["integration"]
    list_select_related = ["integration", "created_by"]
    search_fields = ["comment"]
    fields = ["matchers", "integration", "starts_at", "ends_at", "comment", "created_by",
              "created_at"]
    readonly_fields = ["created_by", "created_at"]
    actions = ["expire_now"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(suppressed_count=Count("suppressed_alerts"))

    @admin.display(description="Alerts suppressed", ordering="suppressed_count")
    def suppressed(self, obj):
        return obj.suppressed_count

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Expire now (suppressed alerts are not re-fired)")
    def expire_now(self, request, queryset):
        for silence in queryset:
            services.expire_silence(silence, by=request.user)
        self.message_user(request, f"Expired {queryset.count()} silence(s).")


def _show_ping_url(modeladmin, request, heartbeat, token):
    modeladmin.message_user(
        request, f"Ping URL for {heartbeat.name} (shown only now; put it in the job): "
                 f"{heartbeats.ping_url(token)}", level=messages.WARNING)


@admin.register(Heartbeat)
class HeartbeatAdmin(ManagerAdminMixin, admin.ModelAdmin):
    list_display = ["name", "integration", "interval_minutes", "grace_minutes", "state",
                    "last_ping_at", "token_prefix"]
    list_filter = ["state", "integration"]
    list_select_related = ["integration"]
    search_fields = ["name", "token_prefix"]
    fields = ["name", "integration", "interval_minutes", "grace_minutes", "state",
              "last_ping_at", "token_prefix", "created_at"]
    readonly_fields = ["state", "last_ping_at", "token_prefix", "created_at"]
    actions = ["regenerate_tokens"]

    def save_model(self, request, obj, form, change):
        token = None if change else heartbeats.issue_token(obj)
        super().save_model(request, obj, form, change)
        if token:
            _show_ping_url(self, request, obj, token)

    @admin.action(description="Regenerate the ping URL (the old one stops working)")
    def regenerate_tokens(self, request, queryset):
        for heartbeat in queryset:
            _show_ping_url(self, request, heartbeat, heartbeats.regenerate_token(heartbeat))


@admin.register(ManualReport)
class ManualReportAdmin(ReadOnlyAdmin):
    list_display = ["id", "what", "reporter", "since", "state", "decided_by", "incident",
                    "created_at"]
    list_filter = ["state"]
    list_select_related = ["reporter", "decided_by", "incident"]
    search_fields = ["what", "who_affected", "reason", "incident__ref"]
    readonly_fields = [f.name for f in ManualReport._meta.fields]
