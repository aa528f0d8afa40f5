"""Action items across all incidents, and the audit trail."""


from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from oncall.roles import ManagerAdminMixin, ReadOnlyAdmin

from ..models import (
    ActionItem,
    PIRChange,
)
from ..services import pir as services
from .common import (
    HTTPS_LINKS,
    REFUSALS,
    ActionItemForm,
    ActionOverdueFilter,
    ServiceSaveMixin,
    active_users,
    shown_time,
)

# --- action items across incidents ---------------------------------------------------------

ACTION_ITEM_FIELDS = ["priority", "kind", "action", "owner", "due_date", "status", "link"]


@admin.register(ActionItem)
class ActionItemAdmin(ServiceSaveMixin, ManagerAdminMixin, admin.ModelAdmin):
    """Every incident's follow-up work; items are added on their review's page."""

    form = ActionItemForm
    formfield_overrides = HTTPS_LINKS
    list_display = ["summary", "incident_ref", "priority", "kind", "owner", "due_date",
                    "status", "overdue"]
    list_filter = [ActionOverdueFilter, ("owner", admin.RelatedOnlyFieldListFilter),
                   "priority", "status", "kind"]
    list_select_related = ["pir__incident", "owner"]
    search_fields = ["action", "pir__incident__ref", "owner__username", "owner__first_name",
                     "owner__last_name"]
    fields = ["review", *ACTION_ITEM_FIELDS, "created_at", "reminded_on"]
    readonly_fields = ["review", "created_at", "reminded_on"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("pir__incident", "owner")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.pir.is_approved:
            # After approval the work goes on: only its status still changes.
            return [field for field in self.fields if field != "status"]
        return self.readonly_fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = active_users()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # removed on the review's page, where the removal is audited

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        if fields:
            try:
                services.update_action_item(obj, by=request.user, **fields)
            except REFUSALS as exc:
                self._refuse(request, exc)

    @admin.display(description="Action")
    def summary(self, obj):
        return Truncator(obj.action).words(12)

    @admin.display(description="Incident", ordering="pir__incident__ref")
    def incident_ref(self, obj):
        return obj.pir.incident.ref

    @admin.display(description="Overdue", boolean=True)
    def overdue(self, obj):
        return obj.is_overdue()

    @admin.display(description="Review")
    def review(self, obj):
        url = reverse("admin:reports_postincidentreview_change", args=[obj.pir_id])
        return format_html('<a href="{}">{}</a>', url, obj.pir)


@admin.register(PIRChange)
class PIRChangeAdmin(ReadOnlyAdmin):
    """The audit trail across reviews."""

    list_display = ["at_shown", "incident_ref", "by", "what"]
    list_select_related = ["pir__incident", "by"]
    search_fields = ["pir__incident__ref", "what"]
    date_hierarchy = "at"
    fields = ["pir", "at_shown", "by", "what"]
    readonly_fields = fields

    at_shown = shown_time("at", "At")

    @admin.display(description="Incident", ordering="pir__incident__ref")
    def incident_ref(self, obj):
        return obj.pir.incident.ref

