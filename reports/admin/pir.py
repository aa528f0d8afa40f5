"""The post-incident review admin and its inlines."""

import io
import zipfile

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from mindweave_ir.templatetags.mw import when
from oncall.roles import ManagerAdminMixin, ReadOnlyTabularInline

from ..models import (
    ActionItem,
    ActionStatus,
    ContributingFactor,
    PIRChange,
    PIRState,
    PostIncidentReview,
    PreventionMeasure,
    Why,
)
from ..pdf import PDFUnavailable
from ..pdf.store import pdf_for
from ..reminders import send_pir_reminder
from ..services import pir as services
from .common import (
    EDITABLE_FIELDS,
    HTTPS_LINKS,
    MAX_PDF_EXPORT,
    REFUSALS,
    SMALL_TEXT,
    ActionItemForm,
    ActionItemFormSet,
    LabelledRowsFormSet,
    OverdueFilter,
    PIRAdminForm,
    ServiceSaveMixin,
    active_users,
    review_approved,
    shown_time,
)

# --- the review's inlines ------------------------------------------------------------------

class ReviewInline(ManagerAdminMixin, admin.TabularInline):
    """Editable while the review is not approved; saved by PostIncidentReviewAdmin."""

    extra = 0
    formset = LabelledRowsFormSet
    formfield_overrides = {**SMALL_TEXT, **HTTPS_LINKS}

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not review_approved(obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not review_approved(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not review_approved(obj)


class FixedRowsInline(ReviewInline):
    """The five whys and the seven factors: the rows are fixed, only their text changes."""

    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class WhyInline(FixedRowsInline):
    model = Why
    fields = ["position", "answer"]
    readonly_fields = ["position"]
    max_num = 5
    verbose_name_plural = "5 whys (the fifth is the root cause)"


class ContributingFactorInline(FixedRowsInline):
    model = ContributingFactor
    fields = ["category", "contributed", "note"]
    readonly_fields = ["category"]
    max_num = 7


class ActionItemInline(ReviewInline):
    model = ActionItem
    form = ActionItemForm
    formset = ActionItemFormSet
    fields = ["priority", "kind", "action", "owner", "due_date", "status", "link"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = active_users()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class PreventionMeasureInline(ReviewInline):
    model = PreventionMeasure
    fields = ["text", "done"]


class PIRChangeInline(ReadOnlyTabularInline):
    """The audit trail, newest first."""

    model = PIRChange
    fields = ["at_shown", "by", "what"]
    readonly_fields = fields
    verbose_name_plural = "audit trail"

    def get_queryset(self, request):
        # pir__incident: the tabular template prints each row's str(), which names it.
        return super().get_queryset(request).select_related("by", "pir__incident")

    at_shown = shown_time("at", "At")


# --- the review ----------------------------------------------------------------------------

@admin.register(PostIncidentReview)
class PostIncidentReviewAdmin(ServiceSaveMixin, ManagerAdminMixin, admin.ModelAdmin):
    form = PIRAdminForm
    list_display = ["incident_ref", "incident_title", "severity", "state", "due",
                    "approved_by", "action_count"]
    list_display_links = ["incident_ref", "incident_title"]
    list_filter = ["state", OverdueFilter, "incident__severity", "incident__services",
                   "root_cause_category"]
    list_select_related = ["incident", "approved_by"]
    search_fields = ["incident__ref", "incident__title", "what_happened"]
    date_hierarchy = "due_at"
    ordering = ["-due_at"]
    view_on_site = False  # the change form links the dashboard page and the PDF itself
    actions = ["send_for_review", "approve_selected", "export_pdf", "send_reminder"]
    inlines = [WhyInline, ContributingFactorInline, ActionItemInline, PreventionMeasureInline,
               PIRChangeInline]
    fieldsets = [
        ("Incident summary", {"fields": [
            "incident_link", "severity", "duration", "state", "due_shown", "impact"]}),
        ("Timeline", {"fields": ["milestones", "key_entries"]}),
        ("Root cause analysis", {"fields": [
            "what_happened", "why_it_happened", "root_cause_category"]}),
        ("Impact assessment", {"fields": [
            "customers_affected", "revenue_impact", "sla_downtime_minutes"]}),
        ("Lessons learned", {"fields": ["went_well", "could_improve"]}),
        ("Workflow", {"fields": [
            "submitted_shown", "approved_shown", "approved_by", "reminded_on", "version",
            "created_shown", "updated_shown"]}),
    ]
    readonly_fields = [field for field in flatten_fieldsets(fieldsets)
                       if field not in EDITABLE_FIELDS]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("incident", "approved_by") \
            .annotate(action_count=Count("action_items", distinct=True))

    def get_readonly_fields(self, request, obj=None):
        if review_approved(obj):
            return flatten_fieldsets(self.fieldsets)
        return self.readonly_fields

    def has_add_permission(self, request):
        return False  # resolving an incident opens its review

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not review_approved(obj)

    def has_delete_permission(self, request, obj=None):
        return False  # the review and its audit trail stay

    # columns and read-only fields

    due_shown = shown_time("due_at", "Due at")
    submitted_shown = shown_time("submitted_at", "Submitted at")
    approved_shown = shown_time("approved_at", "Approved at")
    created_shown = shown_time("created_at", "Created at")
    updated_shown = shown_time("updated_at", "Updated at")

    @admin.display(description="Incident", ordering="incident__ref")
    def incident_ref(self, obj):
        return obj.incident.ref

    @admin.display(description="Title", ordering="incident__title")
    def incident_title(self, obj):
        return obj.incident.title

    @admin.display(description="Severity", ordering="incident__severity")
    def severity(self, obj):
        return obj.incident.get_severity_display()

    @admin.display(description="Due", ordering="due_at")
    def due(self, obj):
        text = f"{timezone.localtime(obj.due_at):%Y-%m-%d}"
        if obj.is_overdue():
            return format_html("{} <strong>overdue</strong>", text)
        return text

    @admin.display(description="Action items", ordering="action_count")
    def action_count(self, obj):
        return obj.action_count

    @admin.display(description="Incident")
    def incident_link(self, obj):
        url = reverse("admin:incidents_incident_change", args=[obj.incident_id])
        return format_html('<a href="{}">{}</a>', url, obj.incident)

    @admin.display(description="Duration (HH:MM)")
    def duration(self, obj):
        incident = obj.incident
        if incident.resolved_at is None:
            return "—"
        minutes = int((incident.resolved_at - incident.started_at).total_seconds() // 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    @admin.display(description="Key timeline")
    def milestones(self, obj):
        # In the viewer's zone, named, like the key entries below it and the app.
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td></tr>",
            ((when(at), label) for label, at in obj.milestones()),
        )
        return format_html("<table>{}</table>", rows)

    # saving through the services

    def save_model(self, request, obj, form, change):
        """Each touched section is one update_section call, so one audit row each."""
        obj.version = form.cleaned_data["loaded_version"]
        for section, fields in services.SECTIONS.items():
            touched = [field for field in fields if field in form.changed_data]
            if touched and not self._call(
                    request, obj, services.update_section, section=section,
                    data={field: form.cleaned_data[field] for field in touched}):
                return

    def save_related(self, request, form, formsets, change):
        # Not the form's many-to-many saving: key entries are saved (and audited) by their
        # service.
        if "key_entries" in form.changed_data and not self._refused(request):
            self._call(request, form.instance, services.set_key_entries,
                       entry_ids=[entry.pk for entry in form.cleaned_data["key_entries"]])
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change):
        # What construct_change_message reads; saving the formset itself would have set them.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if self._refused(request) or not formset.has_changed():
            return
        save = {Why: self._save_whys, ContributingFactor: self._save_factors,
                ActionItem: self._save_action_items,
                PreventionMeasure: self._save_prevention}.get(formset.model)
        if save is not None:
            save(request, form.instance, formset)

    def _call(self, request, pir, service, **kwargs):
        """Run one versioned service call; keep `pir.version` current for the next one."""
        try:
            result = service(pir, expected_version=pir.version, by=request.user, **kwargs)
        except REFUSALS as exc:
            self._refuse(request, exc)
            return None
        pir.version = result.version
        return result

    def _unversioned(self, request, pir, service, *args, **kwargs):
        """Action-item services lock the review themselves and take no version."""
        try:
            result = service(*args, by=request.user, **kwargs)
        except REFUSALS as exc:
            self._refuse(request, exc)
            return None
        pir.refresh_from_db(fields=["version"])
        return result or True

    @staticmethod
    def _changed(formset):
        return [form for form in formset.initial_forms if form.has_changed()]

    def _save_whys(self, request, pir, formset):
        rows = sorted(formset.initial_forms, key=lambda form: form.instance.position)
        if self._call(request, pir, services.set_whys,
                      answers=[form.cleaned_data["answer"] for form in rows]):
            formset.changed_objects = [(f.instance, f.changed_data)
                                       for f in self._changed(formset)]

    def _save_factors(self, request, pir, formset):
        changed = self._changed(formset)
        factors = {form.instance.category: (form.cleaned_data["contributed"],
                                            form.cleaned_data["note"]) for form in changed}
        if self._call(request, pir, services.set_factors, factors=factors):
            formset.changed_objects = [(f.instance, f.changed_data) for f in changed]

    def _save_prevention(self, request, pir, formset):
        """The whole list in order: the kept rows, then the new ones."""
        deleted = formset.deleted_forms
        kept = [form for form in formset.initial_forms if form not in deleted]
        added = [form for form in formset.extra_forms
                 if form.has_changed() and form not in deleted]
        measures = [(form.cleaned_data["text"], form.cleaned_data["done"])
                    for form in kept + added]
        if self._call(request, pir, services.set_prevention, measures=measures):
            formset.new_objects = [form.instance for form in added]
            formset.deleted_objects = [form.instance for form in deleted
                                       if form in formset.initial_forms]
            formset.changed_objects = [(f.instance, f.changed_data) for f in kept
                                       if f.has_changed()]

    def _save_action_items(self, request, pir, formset):
        deleted = formset.deleted_forms
        for form in formset.initial_forms:
            item = form.instance
            if form in deleted:
                if not self._unversioned(request, pir, services.delete_action_item, item):
                    return
                formset.deleted_objects.append(item)
            elif form.has_changed():
                fields = {name: form.cleaned_data[name] for name in form.changed_data}
                if not self._unversioned(request, pir, services.update_action_item, item,
                                         **fields):
                    return
                formset.changed_objects.append((item, form.changed_data))
        for form in formset.extra_forms:
            if not form.has_changed() or form in deleted:
                continue
            data = form.cleaned_data
            item = self._unversioned(
                request, pir, services.add_action_item, pir, action=data["action"],
                owner=data["owner"], due_date=data["due_date"], priority=data["priority"],
                kind=data["kind"], link=data["link"])
            if not item:
                return
            if data["status"] != ActionStatus.OPEN and not self._unversioned(
                    request, pir, services.update_action_item, item, status=data["status"]):
                return
            formset.new_objects.append(item)

    # the workflow: change-form buttons

    def get_urls(self):
        def view(method):
            return self.admin_site.admin_view(require_POST(method))

        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/submit/", view(self.submit_view), name=f"{name}_submit"),
            path("<path:object_id>/approve/", view(self.approve_view), name=f"{name}_approve"),
            path("<path:object_id>/reopen/", view(self.reopen_view), name=f"{name}_reopen"),
            *super().get_urls(),
        ]

    # Each button: (service, what the message says was done). Run after the change form
    # is saved (response_change) when the review is editable, else from its own URL.
    WORKFLOW = {
        "submit": (services.submit_for_review, "sent for review"),
        "approve": (services.approve, "approved"),
        "reopen": (services.reopen, "reopened"),
    }

    def submit_view(self, request, object_id):
        return self._workflow(request, object_id, "submit")

    def approve_view(self, request, object_id):
        return self._workflow(request, object_id, "approve")

    def reopen_view(self, request, object_id):
        return self._workflow(request, object_id, "reopen")

    def _workflow(self, request, object_id, action):
        if not self.has_view_permission(request):
            raise PermissionDenied
        pir = self.get_object(request, unquote(object_id))
        if pir is None:
            raise Http404("No such post-incident review.")
        self._transition(request, pir, action)
        return HttpResponseRedirect(
            reverse("admin:reports_postincidentreview_change", args=[pir.pk]))

    def _transition(self, request, pir, action, *, saved=False):
        """Run one workflow service and say how it went (after a save: that it saved)."""
        service, done = self.WORKFLOW[action]
        kwargs = {"reason": request.POST.get("reason", "")} if action == "reopen" else {}
        first = "Your changes were saved, but " if saved else ""
        try:
            service(pir, by=request.user, **kwargs)
        except (services.PIRError, PermissionDenied) as exc:
            what = f"it was not {done}: {exc}" if saved else str(exc)
            self.message_user(request, f"{pir.incident.ref}: {first}{what}", messages.ERROR)
            return False
        saved_too = "saved and " if saved else ""
        self.message_user(request, f"The review of {pir.incident.ref} was {saved_too}{done}.",
                          messages.SUCCESS)
        return True

    def response_change(self, request, obj):
        """A workflow button of an editable review submits the change form: the edits are
        saved first (as by Save), then the transition runs on what was saved. A refused
        save runs nothing; a refused transition keeps the saved edits and says why."""
        action = request.POST.get("_pir_workflow")
        if action not in self.WORKFLOW or self._refused(request):
            return super().response_change(request, obj)
        self._transition(request, obj, action, saved=True)
        return HttpResponseRedirect(
            reverse("admin:reports_postincidentreview_change", args=[obj.pk]))

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        if obj is not None:
            manager = services.can_approve(request.user)
            context |= {
                "pir_can_submit": obj.state == PIRState.DRAFT,
                "pir_can_approve": manager and obj.state == PIRState.IN_REVIEW,
                "pir_can_reopen": manager and obj.state != PIRState.DRAFT,
                "pir_dashboard_url": reverse("reports:pir", args=[obj.incident.ref]),
                "pir_pdf_url": reverse("reports:pir-pdf", args=[obj.incident.ref]),
            }
        return super().render_change_form(request, context, add=add, change=change,
                                          form_url=form_url, obj=obj)

    # the workflow: changelist actions

    @admin.action(description="Send selected reviews for review")
    def send_for_review(self, request, queryset):
        self._each(request, queryset, services.submit_for_review, done="Sent for review")

    @admin.action(description="Approve selected reviews")
    def approve_selected(self, request, queryset):
        self._each(request, queryset, services.approve, done="Approved")

    @admin.action(description="Send a reminder about selected reviews")
    def send_reminder(self, request, queryset):
        self._each(request, queryset, send_pir_reminder, done="Reminded")

    def _each(self, request, queryset, service, *, done):
        """One service call (one transaction) per review; say which were refused and why."""
        ok = []
        for pir in queryset.select_related("incident__commander").order_by("incident__ref"):
            try:
                service(pir, by=request.user)
            except (services.PIRError, PermissionDenied) as exc:
                self.message_user(request, f"{pir.incident.ref}: {exc}", messages.ERROR)
            else:
                ok.append(pir.incident.ref)
        if ok:
            self.message_user(request, f"{done}: {', '.join(ok)}.", messages.SUCCESS)

    @admin.action(description="Export selected reviews as PDF")
    def export_pdf(self, request, queryset):
        """The stored PDFs (rendered in the background after each change); only a review
        changed since its last render (e.g. its incident) is rendered in the request."""
        pirs = list(queryset.select_related("incident", "incident__commander", "approved_by")
                    .order_by("incident__ref"))
        if len(pirs) > MAX_PDF_EXPORT:
            self.message_user(request, f"Select at most {MAX_PDF_EXPORT} reviews to export.",
                              messages.ERROR)
            return None
        try:
            if len(pirs) == 1:
                response = HttpResponse(pdf_for(pirs[0]), content_type="application/pdf")
                filename = f"{pirs[0].incident.ref}-pir.pdf"
            else:
                buffer = io.BytesIO()
                with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                    for pir in pirs:
                        archive.writestr(f"{pir.incident.ref}-pir.pdf", pdf_for(pir))
                response = HttpResponse(buffer.getvalue(), content_type="application/zip")
                filename = f"pir-export-{timezone.localdate():%Y-%m-%d}.zip"
        except PDFUnavailable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


