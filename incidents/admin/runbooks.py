"""Runbooks (handbook §4) are written by Managers here, in Markdown, with the services
and alert names each is for."""


from django.contrib import admin

from oncall.roles import ManagerAdminMixin

from ..forms.runbooks import RunbookForm
from ..models import Runbook


@admin.register(Runbook)
class RunbookAdmin(ManagerAdminMixin, admin.ModelAdmin):
    form = RunbookForm
    list_display = ["title", "updated_at"]
    search_fields = ["title", "body", "alert_names"]
    filter_horizontal = ["services"]
