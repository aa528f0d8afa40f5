"""Problem reports (§3.1): the short report, and dismissing one."""

from django import forms
from django.utils import timezone

from mindweave_ir.inputs import BoundedDateTimeField

from ..models import Service
from .common import LocalDateTimeInput


class ReportForm(forms.Form):
    """What is broken, who is affected, since when: all a reporter needs to say."""

    what = forms.CharField(label="What is broken", max_length=200,
                           widget=forms.TextInput(attrs={"autofocus": True}))
    who_affected = forms.CharField(label="Who is affected",
                                   widget=forms.Textarea(attrs={"rows": 2}),
                                   help_text="Which customers or teams, and how many.")
    since = BoundedDateTimeField(label="Since when", widget=LocalDateTimeInput,
                                help_text="Your best guess; in your time zone.")
    service = forms.ModelChoiceField(queryset=Service.objects.all(), required=False,
                                     empty_label="Not sure")

    def clean_since(self):
        since = self.cleaned_data["since"]
        if since > timezone.now():
            raise forms.ValidationError("'Since when' cannot be in the future.")
        return since


class DismissForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Why no incident: duplicate, expected behaviour ...")
