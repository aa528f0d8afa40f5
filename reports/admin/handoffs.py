"""Handoffs in the admin: Managers edit the shift checklist (§2.3) and read the on-call
log. Handoffs themselves change only through their page (the outgoing on-call's
summary, the incoming's acknowledgement), so here they are read-only."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from oncall.roles import ManagerAdminMixin, ReadOnlyAdmin, ReadOnlyTabularInline

from ..models import Handoff, ShiftCheck, ShiftChecklistTemplate


@admin.register(ShiftChecklistTemplate)
class ShiftChecklistTemplateAdmin(ManagerAdminMixin, admin.ModelAdmin):
    """The items each new shift copies; editing them never changes a past shift."""

    list_display = ("text", "phase", "position", "active")
    list_editable = ("phase", "position", "active")
    list_display_links = ("text",)
    list_filter = ("phase", "active")
    ordering = ("phase", "position", "id")


class ShiftCheckInline(ReadOnlyTabularInline):
    model = ShiftCheck
    fields = ("phase", "text", "done_at", "done_by")


@admin.register(Handoff)
class HandoffAdmin(ReadOnlyAdmin):
    list_display = ("schedule_name", "shift_end", "outgoing", "incoming", "state",
                    "acknowledged_at", "open_page")
    list_filter = ("state", "schedule_name")
    search_fields = ("schedule_name", "summary", "unresolved")
    date_hierarchy = "shift_end"
    list_select_related = ("outgoing", "incoming")
    fields = ("schedule_name", "schedule_timezone", "shift_start", "shift_end", "outgoing",
              "incoming", "state", "summary", "unresolved", "handed_off_at", "handed_off_by",
              "acknowledged_at", "acknowledged_by")
    inlines = [ShiftCheckInline]

    @admin.display(description="Page")
    def open_page(self, obj):
        return format_html('<a href="{}">open</a> · <a href="{}">PDF</a>',
                           obj.get_absolute_url(), reverse("reports:handoff-pdf", args=[obj.pk]))
