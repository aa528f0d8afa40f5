"""Managers write automation rules in the admin (the form: forms/automation.py); each
rule links to its dry run, and its last firings are listed under it."""


from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from oncall.roles import ManagerAdminMixin, ReadOnlyTabularInline

from ..forms import AutomationRuleForm
from ..models import AutomationFiring, AutomationRule


class FiringInline(ReadOnlyTabularInline):
    model = AutomationFiring
    fields = ["fired_at", "alert", "incident", "result", "detail"]
    ordering = ["-fired_at"]
    max_num = 20


@admin.register(AutomationRule)
class AutomationRuleAdmin(ManagerAdminMixin, admin.ModelAdmin):
    form = AutomationRuleForm
    list_display = ["name", "enabled", "alert_name", "action", "duration_minutes",
                    "max_per_hour", "dry_run"]
    list_filter = ["enabled", "action"]
    search_fields = ["name", "alert_name", "description"]
    inlines = [FiringInline]

    @admin.display(description="Dry run")
    def dry_run(self, obj):
        return format_html('<a href="{}">what it would match</a>',
                           reverse("incidents:automation-dry-run", args=[obj.pk]))
