"""Forms for the post-incident review page: one per section, action items, workflow.

A section form knows its initial values (`initial_for`) and how to save itself
through reports.services.pir (`apply`); the services check permission, state and the
hidden `version`, so a form never writes to a model directly.
"""

import re

from django import forms
from django.contrib.auth import get_user_model
from django.db import models

from incidents.forms import UserChoiceField
from mindweave_ir.inputs import BoundedDateField, RowsChoiceField
from mindweave_ir.templatetags.mw import when

from .models import (
    ActionKind,
    ActionStatus,
    FactorCategory,
    Priority,
    RootCauseCategory,
)
from .services import pir as services


def _text(rows, placeholder=""):
    attrs = {"rows": rows}
    if placeholder:
        attrs["placeholder"] = placeholder
    return forms.Textarea(attrs=attrs)


class SectionForm(forms.Form):
    """A review section. `version` is the review's version when the form was read."""

    section = ""
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, pir=None, **kwargs):
        self.pir = pir
        # Several sections may be open at once on one page: keep their ids apart.
        kwargs.setdefault("auto_id", f"id_{self.section}_%s")
        super().__init__(*args, **kwargs)

    @classmethod
    def initial_for(cls, pir):
        return {"version": pir.version}

    def apply(self, pir, *, by):
        raise NotImplementedError


class FieldsSectionForm(SectionForm):
    """A section made of the review's own columns (services.SECTIONS)."""

    @classmethod
    def initial_for(cls, pir):
        initial = super().initial_for(pir)
        initial |= {name: getattr(pir, name) for name in services.SECTIONS[cls.section]}
        return initial

    def apply(self, pir, *, by):
        data = {name: self.cleaned_data[name] for name in services.SECTIONS[self.section]}
        return services.update_section(pir, section=self.section, data=data,
                                       expected_version=self.cleaned_data["version"], by=by)


class SummaryForm(FieldsSectionForm):
    section = "summary"
    impact = forms.CharField(required=False, widget=_text(4, "Who was affected, and how?"),
                             help_text="Customer and business impact (Markdown).")


class RootCauseForm(FieldsSectionForm):
    section = "root_cause"
    what_happened = forms.CharField(required=False, widget=_text(5),
                                    help_text="A detailed description of the failure (Markdown).")
    why_it_happened = forms.CharField(required=False, widget=_text(4),
                                      help_text="The cause, in a few sentences (Markdown).")
    root_cause_category = forms.ChoiceField(choices=RootCauseCategory.choices,
                                            label="Kind of cause")


class ImpactForm(FieldsSectionForm):
    section = "impact"
    customers_affected = forms.IntegerField(required=False, min_value=0)
    revenue_impact = forms.DecimalField(required=False, min_value=0, max_digits=14,
                                        decimal_places=2, label="Revenue impact ($)")
    sla_downtime_minutes = forms.IntegerField(required=False, min_value=0,
                                              label="SLA impact (minutes of downtime)")


class LessonsForm(FieldsSectionForm):
    section = "lessons"
    went_well = forms.CharField(required=False, widget=_text(4), label="What went well?",
                                help_text="Markdown.")
    could_improve = forms.CharField(required=False, widget=_text(4),
                                    label="What could be improved?", help_text="Markdown.")


WHY_COUNT = 5


class WhysForm(SectionForm):
    section = "whys"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for n in range(1, WHY_COUNT + 1):
            label = f"{n}. Why?" + (" (root cause)" if n == WHY_COUNT else "")
            self.fields[f"why_{n}"] = forms.CharField(required=False, label=label,
                                                      widget=_text(2))

    @classmethod
    def initial_for(cls, pir):
        initial = super().initial_for(pir)
        initial |= {f"why_{w.position}": w.answer for w in pir.whys.all()}
        return initial

    def apply(self, pir, *, by):
        answers = [self.cleaned_data[f"why_{n}"] for n in range(1, WHY_COUNT + 1)]
        return services.set_whys(pir, answers=answers,
                                 expected_version=self.cleaned_data["version"], by=by)


class FactorsForm(SectionForm):
    """A checkbox and a note for each of §3.5's seven contributing factors."""

    section = "factors"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for category in FactorCategory:
            self.fields[category.value] = forms.BooleanField(required=False,
                                                             label=category.label)
            self.fields[f"{category.value}_note"] = forms.CharField(
                required=False, label=f"{category.label}: note",
                widget=forms.TextInput(attrs={"placeholder": "How it contributed"}))

    @classmethod
    def initial_for(cls, pir):
        initial = super().initial_for(pir)
        for factor in pir.factors.all():
            initial[factor.category] = factor.contributed
            initial[f"{factor.category}_note"] = factor.note
        return initial

    def apply(self, pir, *, by):
        factors = {c.value: (self.cleaned_data[c.value],
                             self.cleaned_data[f"{c.value}_note"].strip())
                   for c in FactorCategory}
        return services.set_factors(pir, factors=factors,
                                    expected_version=self.cleaned_data["version"], by=by)


class TimelineEntryChoiceField(RowsChoiceField):
    def label_from_instance(self, obj):
        body = " ".join(obj.body.split())
        body = body[:117] + "…" if len(body) > 120 else body
        return f"{when(obj.occurred_at)} · {obj.get_kind_display()}: {body}"


class KeyEntriesForm(SectionForm):
    """Which of the incident's (non-deleted) timeline entries the review shows."""

    section = "key_entries"
    entries = TimelineEntryChoiceField(queryset=None, required=False,
                                       widget=forms.CheckboxSelectMultiple,
                                       label="Key timeline entries")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        queryset = self.pir.incident.timeline.filter(deleted_at__isnull=True) \
            .order_by("occurred_at", "id") if self.pir else None
        self.fields["entries"].queryset = queryset

    @classmethod
    def initial_for(cls, pir):
        initial = super().initial_for(pir)
        initial["entries"] = [entry.pk for entry in pir.key_entries.all()]
        return initial

    def apply(self, pir, *, by):
        return services.set_key_entries(pir, entry_ids=[e.pk for e in self.cleaned_data["entries"]],
                                        expected_version=self.cleaned_data["version"], by=by)


_DONE = re.compile(r"^\[(?P<mark>[ xX]?)\]\s*(?P<text>.*)$")
MEASURE_MAX_CHARS = 300


def parse_measures(text):
    """One measure a line; `[x] ` in front marks it done, `[ ] ` (or nothing) open."""
    measures = []
    for line in (text or "").splitlines():
        line = line.strip()
        match = _DONE.match(line)
        done = bool(match and match["mark"].lower() == "x")
        line = match["text"].strip() if match else line
        if line:
            measures.append((line, done))
    return measures


def format_measures(measures):
    return "\n".join(f"[{'x' if m.done else ' '}] {m.text}" for m in measures)


class PreventionForm(SectionForm):
    section = "prevention"
    measures = forms.CharField(
        required=False, widget=_text(6), label="Prevention measures",
        help_text="One measure a line. Start a line with [x] once it is done.",
    )

    @classmethod
    def initial_for(cls, pir):
        initial = super().initial_for(pir)
        initial["measures"] = format_measures(pir.prevention.all())
        return initial

    def clean_measures(self):
        measures = parse_measures(self.cleaned_data["measures"])
        too_long = [text for text, _ in measures if len(text) > MEASURE_MAX_CHARS]
        if too_long:
            raise forms.ValidationError(
                f"Keep each measure under {MEASURE_MAX_CHARS} characters; this one is "
                f"{len(too_long[0])}: “{too_long[0][:40]}…”")
        return measures

    def apply(self, pir, *, by):
        return services.set_prevention(pir, measures=self.cleaned_data["measures"],
                                       expected_version=self.cleaned_data["version"], by=by)


SECTION_FORMS = {form.section: form for form in (
    SummaryForm, RootCauseForm, ImpactForm, LessonsForm, WhysForm, FactorsForm,
    KeyEntriesForm, PreventionForm,
)}


def owner_choices():
    """Anyone active here may own an action item."""
    return get_user_model().objects.filter(is_active=True).order_by("first_name", "username")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class ActionItemForm(forms.Form):
    """An action item (§3.5): what, who, by when. A new item always starts open."""

    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.P1)
    kind = forms.ChoiceField(choices=ActionKind.choices, initial=ActionKind.CORRECTIVE)
    action = forms.CharField(widget=_text(2, "What will be done?"))
    owner = UserChoiceField(queryset=None, empty_label="— choose an owner —",
                            error_messages={"required": "Every action item needs an owner."})
    due_date = BoundedDateField(widget=DateInput,
                               error_messages={"required": "Every action item needs a due date."})
    status = forms.ChoiceField(choices=ActionStatus.choices, initial=ActionStatus.OPEN)
    link = forms.URLField(required=False, assume_scheme="https",
                          help_text="Ticket or pull request.")

    FIELDS = ("priority", "kind", "action", "owner", "due_date", "status", "link")

    def __init__(self, *args, adding=False, **kwargs):
        # The add form and an item's edit form can be on the page together.
        kwargs.setdefault("auto_id", "id_new_item_%s" if adding else "id_item_%s")
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owner_choices()
        if adding:
            del self.fields["status"]

    @classmethod
    def initial_for(cls, item):
        return {name: getattr(item, name) for name in cls.FIELDS}


class ActionStatusForm(forms.Form):
    """Only the status: what an owner may change, even after approval."""

    status = forms.ChoiceField(choices=ActionStatus.choices)


class WorkflowAction(models.TextChoices):
    SUBMIT = "submit", "Submit for review"
    APPROVE = "approve", "Approve"
    REOPEN = "reopen", "Reopen"


class WorkflowForm(forms.Form):
    action = forms.ChoiceField(choices=WorkflowAction.choices)
    reason = forms.CharField(required=False, max_length=1000,
                             widget=forms.TextInput(attrs={"placeholder": "Why reopen it?"}),
                             help_text="Needed to reopen.")


class HandoffForm(forms.Form):
    """The outgoing on-call's part of a handoff (§2.3 End of Shift)."""

    summary = forms.CharField(
        label="Shift summary", required=False, max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What happened on the shift, for the on-call log. Required to hand off.")
    unresolved = forms.CharField(
        label="Unresolved issues", required=False, max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the next on-call must watch or finish.")
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
