"""Shared pieces of the review admin: the service-backed save, list filters, forms."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import F, Q
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.text import Truncator, capfirst

from mindweave_ir.templatetags.mw import when

from ..models import (
    CLOSED_ACTION_STATUSES,
    ActionItem,
    PIRState,
    PostIncidentReview,
)
from ..services import pir as services

DUE_SOON = timedelta(days=2)  # a review due within this is "due soon"
ACTION_DUE_SOON = timedelta(days=7)
MAX_PDF_EXPORT = 50  # stored PDFs; a changed one still renders in the request
# What the change form edits: each section's fields (saved by update_section) and the
# key timeline entries (set_key_entries). Everything else is workflow state.
EDITABLE_FIELDS = (*(f for fields in services.SECTIONS.values() for f in fields),
                   "key_entries")
REFUSALS = (services.PIRError, PermissionDenied, ValidationError)
SMALL_TEXT = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 60})}}
HTTPS_LINKS = {models.URLField: {"assume_scheme": "https"}}  # Django 6's default



def shown_time(field, description):
    """An admin column or read-only field showing a stored time through `when`, not
    Django's DATETIME_FORMAT: Django prints no zone at all for a time in the repeated
    hour of a DST change (02:40 CEST vs 02:40 CET), exactly when it must say which."""

    @admin.display(description=description, ordering=field)
    def show(self, obj):
        return when(getattr(obj, field))
    return show


def review_approved(pir):
    return pir is not None and pir.is_approved


def _reason(exc):
    return "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


def active_users():
    return get_user_model().objects.filter(is_active=True).order_by(
        "first_name", "last_name", "username")


class ServiceSaveMixin:
    """Saving through services: a refusal rolls the whole save back and says why.

    The form's own validation catches what it can beside the field; this is for what
    only the service knows at save time (a race with another save, a state change).
    """

    def _refuse(self, request, exc):
        messages.error(request, f"Nothing was saved: {_reason(exc)}")
        transaction.set_rollback(True)  # the admin wraps the whole save in atomic()
        request._service_refused = True

    @staticmethod
    def _refused(request):
        return getattr(request, "_service_refused", False)

    def response_change(self, request, obj):
        if self._refused(request):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_change(request, obj)


# --- list filters --------------------------------------------------------------------------

class OverdueFilter(admin.SimpleListFilter):
    """Where a review stands against its due date (§7.1: done within 5 business days)."""

    title = "due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("due_soon", "Due within 2 days"),
                ("on_time", "On time"), ("late", "Approved late")]

    def queryset(self, request, queryset):
        now, value = timezone.now(), self.value()
        not_approved = ~Q(state=PIRState.APPROVED)
        approved = Q(state=PIRState.APPROVED)
        if value == "overdue":
            return queryset.filter(not_approved, due_at__lt=now)
        if value == "due_soon":
            return queryset.filter(not_approved, due_at__gte=now, due_at__lt=now + DUE_SOON)
        if value == "on_time":
            return queryset.filter((not_approved & Q(due_at__gte=now + DUE_SOON))
                                   | (approved & Q(approved_at__lte=F("due_at"))))
        if value == "late":
            return queryset.filter(approved, approved_at__gt=F("due_at"))
        return queryset


class ActionOverdueFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("due_soon", "Due within 7 days"),
                ("later", "Due later")]

    def queryset(self, request, queryset):
        today, value = timezone.localdate(), self.value()
        open_items = queryset.exclude(status__in=CLOSED_ACTION_STATUSES)
        if value == "overdue":
            return open_items.filter(due_date__lt=today)
        if value == "due_soon":
            return open_items.filter(due_date__gte=today,
                                     due_date__lte=today + ACTION_DUE_SOON)
        if value == "later":
            return open_items.filter(due_date__gt=today + ACTION_DUE_SOON)
        return queryset


# --- forms ---------------------------------------------------------------------------------

class PIRAdminForm(forms.ModelForm):
    """The review's sections, plus the version the page was loaded with."""

    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = PostIncidentReview
        fields = EDITABLE_FIELDS
        widgets = {"key_entries": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["loaded_version"].initial = self.instance.version
        if "key_entries" in self.fields and self.instance.pk:
            field = self.fields["key_entries"]
            field.queryset = self.instance.incident.timeline.filter(
                deleted_at__isnull=True).order_by("occurred_at", "id")
            field.label_from_instance = _entry_label

    def clean(self):
        data = super().clean()
        loaded = data.get("loaded_version")
        if loaded is None:
            raise ValidationError("This form does not say which version it edits; reload "
                                  "the page and make your changes again.")
        if loaded != self.instance.version:
            raise ValidationError(self._stale_message())
        return data

    def _stale_message(self):
        # The instance was read at POST time, so it (and its audit trail) is current.
        last = self.instance.changes.select_related("by").first()
        who = "Someone"
        if last is not None:
            name = (last.by.get_full_name() or last.by.get_username()) if last.by \
                else "The system"
            who = f"{name} ({when(last.at)}: {last.what})"
        differ = [str(self.fields[name].label) for name in self.changed_data
                  if name != "loaded_version"]
        text = (f"{who} saved this review after you opened it, so nothing was saved. "
                "Your input is kept below. ")
        if differ:
            text += "Where it differs from the saved review: " + ", ".join(differ) + ". "
        return text + ("Open the review again in another tab to see the saved text, merge "
                       "your changes there and save.")


def _entry_label(entry):
    return (f"{when(entry.occurred_at)} · "
            f"{entry.get_kind_display()} · {Truncator(entry.body).words(14)}")


def _https_links(db_field, **kwargs):
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class ActionItemForm(forms.ModelForm):
    """Checks what add/update_action_item check, so errors show beside the field."""

    class Meta:
        model = ActionItem
        formfield_callback = _https_links  # the admin's callback (HTTPS_LINKS) replaces it
        fields = ["priority", "kind", "action", "owner", "due_date", "status", "link"]
        widgets = {"action": forms.Textarea(attrs={"rows": 2, "cols": 40})}

    def __init__(self, *args, pir=None, owner_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.pir = pir
        if owner_choices is not None and "owner" in self.fields:
            # One user query per page, not one per row.
            self.fields["owner"].choices = owner_choices

    def clean(self):
        data = super().clean()
        pir = self.pir or self.instance.pir
        due_date = data.get("due_date")
        if due_date and due_date < timezone.localdate(pir.incident.started_at):
            self.add_error("due_date", "The due date cannot be before the incident.")
        return data


class LabelledRowsFormSet(forms.BaseInlineFormSet):
    """A tabular inline names its columns in headers, not in labels tied to the inputs,
    so screen readers (and axe-core) find each row's inputs nameless: give every input
    an accessible name, "Why 3: Answer". add_fields, not the form: DELETE comes here."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        row = f"{capfirst(self.model._meta.verbose_name)} {'new' if index is None else index + 1}"
        for field in form.fields.values():
            # The admin's RelatedFieldWidgetWrapper renders its inner widget, and its own
            # attrs are the form class's shared dict: name the inner widget (this form's copy).
            widget = getattr(field.widget, "widget", field.widget)
            widget.attrs.setdefault("aria-label", f"{row}: {field.label}")


class ActionItemFormSet(LabelledRowsFormSet):
    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        if not hasattr(self, "_owner_choices"):
            field = self.form.base_fields.get("owner")
            self._owner_choices = list(field.choices) if field is not None else None
        return {**kwargs, "pir": self.instance, "owner_choices": self._owner_choices}


