"""Admin for problem reports: audit data, read-only (triage happens on /incidents/triage/)."""


from django.contrib import admin

from oncall.roles import ReadOnlyAdmin

from ..models import ManualReport


@admin.register(ManualReport)
class ManualReportAdmin(ReadOnlyAdmin):
    list_display = ["id", "what", "reporter", "since", "state", "decided_by", "incident",
                    "created_at"]
    list_filter = ["state"]
    list_select_related = ["reporter", "decided_by", "incident"]
    search_fields = ["what", "who_affected", "reason", "incident__ref"]
    readonly_fields = [f.name for f in ManualReport._meta.fields]
