"""Declaring an incident (the §1.2 tree, then the details) and the incident page's
header actions: status, resolution, severity, roles."""

from django import forms

from mindweave_ir.inputs import BoundedDateTimeField, RowsChoiceField

from .. import classification
from ..models import DetectionSource, Exercise, Service, Severity, Status
from .common import LocalDateTimeInput, UserChoiceField, responder_users


class ClassificationForm(forms.Form):
    """The answers given so far to the §1.2 tree, carried from step to step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for question in classification.QUESTIONS:
            self.fields[f"q_{question.key}"] = forms.ChoiceField(
                label=question.text, required=False,
                choices=[("", "—"), (classification.YES, "Yes"), (classification.NO, "No")],
                widget=forms.HiddenInput,
            )

    def answers(self):
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {q.key: data.get(f"q_{q.key}") for q in classification.QUESTIONS
                if data.get(f"q_{q.key}")}


class DeclareForm(forms.Form):
    """The incident's details, once the tree has given a severity."""

    title = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"autofocus": True}))
    severity = forms.TypedChoiceField(choices=Severity.choices, coerce=int)
    override_reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed only when you choose a severity other than the tree's.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    customer_impact = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    services = RowsChoiceField(
        queryset=Service.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    detection_source = forms.ChoiceField(choices=DetectionSource.choices,
                                         initial=DetectionSource.OTHER)
    started_at = BoundedDateTimeField(
        required=False, widget=LocalDateTimeInput, help_text="Leave empty for now."
    )
    detected_at = BoundedDateTimeField(
        required=False, widget=LocalDateTimeInput, help_text="Leave empty for now."
    )
    exercise = forms.ChoiceField(
        choices=Exercise.choices, required=False, initial=Exercise.REAL,
        label="Real or drill",
        help_text="A test or game day is run like any incident but left out of the metrics.",
    )

    def __init__(self, *args, classified_severity=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.classified_severity = classified_severity
        if classified_severity is not None:
            self.fields["severity"].initial = classified_severity

    def clean(self):
        data = super().clean()
        severity = data.get("severity")
        if (self.classified_severity is not None and severity is not None
                and severity != self.classified_severity
                and not data.get("override_reason", "").strip()):
            self.add_error("override_reason", "Say why you chose "
                           f"{Severity(severity).label} over the tree's "
                           f"{Severity(self.classified_severity).label}.")
        started, detected = data.get("started_at"), data.get("detected_at")
        if started and detected and detected < started:
            self.add_error("detected_at", "Detection cannot come before the start.")
        return data


class TransitionForm(forms.Form):
    to = forms.ChoiceField(choices=Status.choices)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ResolveForm(forms.Form):
    resolution = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="What fixed it (Markdown)."
    )


class SeverityForm(forms.Form):
    to = forms.TypedChoiceField(choices=Severity.choices, coerce=int, label="New severity")
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when lowering the severity.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=[("commander", "Incident Commander"),
                                      ("technical_lead", "Technical Lead"),
                                      ("communications_lead", "Communications Lead")])
    user = UserChoiceField(queryset=None, required=False, empty_label="— unassigned —")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = responder_users()
