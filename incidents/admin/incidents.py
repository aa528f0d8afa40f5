"""The managers' admin for incidents.

Managers look things up and fix wording here; they do not run incidents from it.
Status, severity, roles and every timestamp change only through services/ (the
dashboard), so those fields are read-only, incidents cannot be added here (they
would skip numbering, checklists and the "declared" entry), and audit data
(timeline, revisions, checklists, the id sequence) can be read but never edited.
"""


from django.contrib import admin
from django.db.models import Count
from django.utils.text import Truncator

from oncall.roles import ManagerAdminMixin, ReadOnlyAdmin, ReadOnlyTabularInline

from .. import services
from ..models import (
    ChecklistItem,
    Incident,
    IncidentSequence,
    Service,
    TimelineEntry,
    TimelineRevision,
)


def _short(text, words=16):
    return Truncator(text).words(words)


@admin.register(Service)
class ServiceAdmin(ManagerAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "incident_count"]
    search_fields = ["name", "slug", "description"]
    ordering = ["name"]  # the count annotation's GROUP BY drops Meta.ordering
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(incident_count=Count("incidents"))

    @admin.display(description="Incidents", ordering="incident_count")
    def incident_count(self, obj):
        return obj.incident_count


@admin.register(IncidentSequence)
class IncidentSequenceAdmin(ReadOnlyAdmin):
    """Kept by declare_incident under a row lock; editing it would hand out ids twice."""

    list_display = ["year", "last"]
    ordering = ["-year"]


class ChecklistItemInline(ReadOnlyTabularInline):
    """Ticks and waivers go through the dashboard, which records who and when."""

    model = ChecklistItem
    fields = ["position", "phase", "text", "done_at", "done_by", "waived_reason"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("done_by")


class TimelineEntryInline(ReadOnlyTabularInline):
    model = TimelineEntry
    fields = ["occurred_at", "kind", "author", "summary", "version", "deleted_at"]
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")

    @admin.display(description="Entry")
    def summary(self, obj):
        return _short(obj.body)


# Wording, the affected services and whether it was a drill (a test or game day, left
# out of the metrics) are all the admin may change on an incident: the rest is state
# that services/ owns and writes a timeline entry for.
INCIDENT_EDITABLE_FIELDS = ("title", "description", "customer_impact", "services", "exercise")


@admin.register(Incident)
class IncidentAdmin(ManagerAdminMixin, admin.ModelAdmin):
    list_display = [
        "ref", "title", "severity", "status", "commander", "detection_source",
        "declared_at", "resolved_at",
    ]
    list_display_links = ["ref", "title"]
    list_filter = ["status", "severity", "services", "detection_source", "exercise",
                   "declared_at"]
    list_select_related = ["commander"]
    search_fields = ["ref", "title", "description", "customer_impact", "channel_name"]
    date_hierarchy = "declared_at"
    ordering = ["-declared_at"]
    autocomplete_fields = ["services"]
    inlines = [ChecklistItemInline, TimelineEntryInline]
    fieldsets = [
        (None, {"fields": ["ref", *INCIDENT_EDITABLE_FIELDS]}),
        ("State (changed from the dashboard)", {"fields": [
            "status", "severity", "classified_severity", "severity_override_reason",
            "classification", "detection_source", "channel_name", "resolution",
        ]}),
        ("Roles", {"fields": [
            "commander", "technical_lead", "communications_lead", "responders",
        ]}),
        ("Timestamps", {"fields": [
            "declared_by", "declared_at", "started_at", "detected_at", "acknowledged_at",
            "identified_at", "mitigated_at", "resolved_at", "response_breach_noted_at",
            "resolution_breach_noted_at", "updated_at",
        ]}),
    ]
    readonly_fields = [
        field for _, options in fieldsets for field in options["fields"]
        if field not in INCIDENT_EDITABLE_FIELDS
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting would take the timeline (the audit trail) with it.
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "commander", "technical_lead", "communications_lead", "declared_by"
        )


class TimelineRevisionInline(ReadOnlyTabularInline):
    model = TimelineRevision
    fields = ["version", "kind", "occurred_at", "body", "replaced_by", "replaced_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("replaced_by")


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", "Deleted"), ("no", "Not deleted")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(deleted_at__isnull=self.value() == "no")
        return queryset


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnlyAdmin):
    """The audit trail: readable, never edited here (edits keep revisions in services)."""

    list_display = ["incident_ref", "occurred_at", "kind", "author", "summary", "version",
                    "deleted_at"]
    list_filter = ["kind", DeletedFilter, "occurred_at"]
    list_select_related = ["incident", "author"]
    search_fields = ["incident__ref", "body"]
    # Half a million rows after seed_demo: newest written first along the primary key
    # (sorting by occurred_at reads the whole table), no date hierarchy (a DISTINCT
    # over every row), and no second, unfiltered COUNT(*).
    ordering = ["-id"]
    show_full_result_count = False
    fields = [
        "incident", "kind", "occurred_at", "created_at", "author", "body", "body_html",
        "version", "edited_at", "edited_by", "deleted_at", "deleted_by",
    ]
    readonly_fields = fields
    inlines = [TimelineRevisionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "incident", "author", "edited_by", "deleted_by"
        )

    @admin.display(description="Incident", ordering="incident__ref")
    def incident_ref(self, obj):
        return obj.incident.ref

    @admin.display(description="Entry")
    def summary(self, obj):
        return _short(obj.body)


@admin.register(TimelineRevision)
class TimelineRevisionAdmin(ReadOnlyAdmin):
    list_display = ["entry", "incident_ref", "version", "kind", "replaced_by", "replaced_at"]
    list_filter = ["kind", "replaced_at"]
    list_select_related = ["entry__incident", "replaced_by"]
    search_fields = ["entry__incident__ref", "body"]
    date_hierarchy = "replaced_at"
    fields = ["entry", "version", "kind", "occurred_at", "body", "replaced_by", "replaced_at"]
    readonly_fields = fields

    @admin.display(description="Incident", ordering="entry__incident__ref")
    def incident_ref(self, obj):
        return obj.entry.incident.ref


class DoneFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("done", "Ticked"), ("waived", "Waived"), ("open", "Open")]

    def queryset(self, request, queryset):
        if self.value() == "done":
            return queryset.filter(done_at__isnull=False)
        if self.value() == "waived":
            return queryset.exclude(waived_reason="")
        if self.value() == "open":
            return queryset.filter(done_at__isnull=True, waived_reason="")
        return queryset


@admin.register(ChecklistItem)
class ChecklistItemAdmin(ReadOnlyAdmin):
    """Read-only, but the tick/untick actions go through the service (who and when)."""

    list_display = ["incident", "position", "phase", "text", "done_at", "done_by",
                    "waived_reason"]
    list_filter = ["phase", DoneFilter]
    list_select_related = ["incident", "done_by"]
    search_fields = ["incident__ref", "text"]
    ordering = ["-incident_id", "-position"]  # walks the (incident, position) unique index
    show_full_result_count = False
    fields = ["incident", "phase", "position", "text", "done_at", "done_by", "waived_reason"]
    readonly_fields = fields
    actions = ["tick", "untick"]

    @admin.action(description="Tick the selected items")
    def tick(self, request, queryset):
        self._set_done(request, queryset, done=True)

    @admin.action(description="Untick the selected items")
    def untick(self, request, queryset):
        self._set_done(request, queryset, done=False)

    def _set_done(self, request, queryset, *, done):
        items = list(queryset.select_related("incident"))
        for item in items:
            services.set_checklist_item(item, done=done, by=request.user)
        self.message_user(request, f"{'Ticked' if done else 'Unticked'} {len(items)} item(s).")
