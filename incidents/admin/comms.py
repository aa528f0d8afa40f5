"""The managers' admin for communications: templates and subscribers are edited here;
sent updates and their deliveries are audit data, read-only."""


from django.contrib import admin
from django.utils.html import format_html_join

from oncall.channels import redact_url
from oncall.roles import ManagerAdminMixin, ReadOnlyAdmin, ReadOnlyTabularInline

from .. import templating
from ..models import CommsDelivery, CommsTemplate, CommsUpdate, Subscriber


@admin.register(CommsTemplate)
class CommsTemplateAdmin(ManagerAdminMixin, admin.ModelAdmin):
    """Saving runs the model's clean(): an unknown placeholder is refused by name."""

    list_display = ["name", "kind", "state", "subject", "position", "is_active"]
    list_filter = ["kind", "is_active"]
    list_editable = ["position", "is_active"]
    search_fields = ["name", "subject", "body"]
    readonly_fields = ["known_placeholders"]

    @admin.display(description="Placeholders you can use")
    def known_placeholders(self, obj):
        return format_html_join(
            ", ", "<code>{{{}}}</code> ({})",
            ((name, help_text) for name, (help_text, _) in templating.PLACEHOLDERS.items()))


@admin.register(Subscriber)
class SubscriberAdmin(ManagerAdminMixin, admin.ModelAdmin):
    list_display = ["email", "service", "confirmed", "created_at"]
    list_filter = ["confirmed", "service"]
    list_editable = ["confirmed"]
    search_fields = ["email"]
    list_select_related = ["service"]


class CommsDeliveryInline(ReadOnlyTabularInline):
    model = CommsDelivery
    fields = ["recipient", "kind", "status", "attempts", "sent_at", "error"]
    readonly_fields = fields

    @admin.display(description="Recipient")
    def recipient(self, obj):
        # Slack targets are webhook URLs with a token in the path.
        return redact_url(obj.target) if obj.kind == "slack" else obj.target


@admin.register(CommsUpdate)
class CommsUpdateAdmin(ReadOnlyAdmin):
    list_display = ["incident", "channel", "state", "component_state", "subject", "status",
                    "sent_by", "created_at"]
    list_filter = ["channel", "status"]
    list_select_related = ["incident", "sent_by"]
    search_fields = ["incident__ref", "subject"]
    inlines = [CommsDeliveryInline]
