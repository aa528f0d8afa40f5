"""Writing and editing timeline entries by hand."""

from django import forms

from ..models import MANUAL_KINDS, TimelineKind
from .common import LocalDateTimeInput


class TimelineEntryForm(forms.Form):
    body = forms.CharField(
        label="Entry", widget=forms.Textarea(attrs={"rows": 3, "placeholder":
                                                    "What happened? Markdown welcome."}),
    )
    kind = forms.ChoiceField(
        choices=[(k.value, k.label) for k in MANUAL_KINDS], initial=TimelineKind.NOTE
    )
    occurred_at = forms.DateTimeField(
        required=False, widget=LocalDateTimeInput, label="When",
        help_text="Leave empty for now; set it to back-fill.",
    )


class TimelineEditForm(TimelineEntryForm):
    version = forms.IntegerField(widget=forms.HiddenInput)
