"""Writing and editing timeline entries by hand."""

from django import forms

from mindweave_ir.inputs import BoundedDateTimeField

from ..models import MANUAL_KINDS, MAX_ENTRY_LENGTH, TimelineKind
from .common import LocalDateTimeInput


class TimelineEntryForm(forms.Form):
    body = forms.CharField(
        label="Entry", max_length=MAX_ENTRY_LENGTH,
        # data-focus-default: static/js/focus.js lands here after the form is swapped.
        widget=forms.Textarea(attrs={"rows": 3, "data-focus-default": "",
                                     "placeholder": "What happened? Markdown welcome."}),
    )
    kind = forms.ChoiceField(
        choices=[(k.value, k.label) for k in MANUAL_KINDS], initial=TimelineKind.NOTE
    )
    # The service narrows this to 30 days before the incident's start.
    occurred_at = BoundedDateTimeField(
        required=False, widget=LocalDateTimeInput, label="When",
        help_text="Leave empty for now; set it to back-fill (up to 30 days before the start).",
    )


class TimelineEditForm(TimelineEntryForm):
    """An entry's edit form. Its ids carry the entry (`entry-7-body`): it sits on the
    incident page beside the Add form, whose ids (`id_body`) must stay unique."""

    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, entry_pk, **kwargs):
        kwargs.setdefault("auto_id", f"entry-{entry_pk}-%s")
        super().__init__(*args, **kwargs)
