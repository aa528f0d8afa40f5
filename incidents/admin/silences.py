"""Admin for silences: Managers write them as JSON here, or one matcher a line on
/incidents/silences/; expiring goes through the service (nothing is re-fired)."""


from django.contrib import admin
from django.db.models import Count

from oncall.roles import ManagerAdminMixin

from .. import services
from ..models import Silence


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
