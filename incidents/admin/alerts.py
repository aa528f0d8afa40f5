"""Admin for inbound alerts: integrations (with token regeneration), alerts and raw
payloads, heartbeats. Managers only, like the rest; alerts and payloads are audit data
and read-only. A token (or a heartbeat's ping URL) is shown once, in a message, when
made or regenerated."""


from django.contrib import admin, messages
from django.urls import reverse
from django.utils.text import Truncator

from oncall.roles import ManagerAdminMixin, ReadOnlyAdmin
from oncall.tokens import issue_token

from .. import heartbeats, ingest
from ..models import Alert, Heartbeat, InboundPayload, Integration, IntegrationKind


def _show_token(modeladmin, request, integration, token):
    where = ""
    if integration.kind == IntegrationKind.CLOUDWATCH:
        url = request.build_absolute_uri(reverse("cloudwatch-sns", args=[token]))
        where = f"; SNS HTTPS subscription endpoint: {url}"
    modeladmin.message_user(
        request, f"Token for {integration.name} (shown only now; store it in your "
                 f"monitoring tool's config): {token}{where}", level=messages.WARNING)


@admin.register(Integration)
class IntegrationAdmin(ManagerAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "service", "escalation_policy", "enabled", "subscription",
                    "last_error_short", "token_prefix", "created_at"]
    list_filter = ["kind", "enabled", "subscription_state"]
    list_select_related = ["service", "escalation_policy"]
    search_fields = ["name", "token_prefix"]
    fields = ["name", "kind", "service", "escalation_policy", "severity_map",
              "default_severity", "enabled", "token_prefix", "created_at",
              "subscription_state", "topic_arn", "subscription_arn",
              "subscription_changed_at", "last_error", "last_error_at"]
    readonly_fields = ["token_prefix", "created_at", "subscription_state", "topic_arn",
                       "subscription_arn", "subscription_changed_at", "last_error",
                       "last_error_at"]
    actions = ["regenerate_tokens", "confirm_subscriptions"]

    @admin.display(description="Subscription", ordering="subscription_state")
    def subscription(self, obj):
        """SNS's subscription state; other kinds have none."""
        if obj.kind != IntegrationKind.CLOUDWATCH:
            return "—"
        return obj.get_subscription_state_display()

    @admin.display(description="Last error")
    def last_error_short(self, obj):
        return Truncator(obj.last_error).chars(80) or "—"

    def has_delete_permission(self, request, obj=None):
        # Its alerts and payloads are the audit trail: disable it instead.
        return False

    def save_model(self, request, obj, form, change):
        token = None if change else issue_token(obj)
        super().save_model(request, obj, form, change)
        if token:
            _show_token(self, request, obj, token)

    @admin.action(description="Regenerate the token (the old one stops working)")
    def regenerate_tokens(self, request, queryset):
        for integration in queryset:
            _show_token(self, request, integration, ingest.regenerate_token(integration))

    @admin.action(description="Confirm the SNS subscription again (CloudWatch)")
    def confirm_subscriptions(self, request, queryset):
        for integration in queryset:
            if integration.kind != IntegrationKind.CLOUDWATCH:
                self.message_user(request, f"{integration.name} is not fed by SNS.",
                                  level=messages.WARNING)
            elif ingest.confirm_again(integration):
                self.message_user(request, f"Confirming {integration.name}'s subscription "
                                           "again.")
            else:
                self.message_user(request, f"{integration.name} has received no "
                                           "subscription confirmation; request one in SNS.",
                                  level=messages.WARNING)


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
        token = None if change else issue_token(obj)
        super().save_model(request, obj, form, change)
        if token:
            _show_ping_url(self, request, obj, token)

    @admin.action(description="Regenerate the ping URL (the old one stops working)")
    def regenerate_tokens(self, request, queryset):
        for heartbeat in queryset:
            _show_ping_url(self, request, heartbeat, heartbeats.regenerate_token(heartbeat))
