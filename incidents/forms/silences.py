"""A silence as typed on /incidents/silences/: matchers one per line, as in amtool; a bad
one is a form error and nothing is saved."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from mindweave_ir.inputs import PLANNING_HORIZON, BoundedDateTimeField

from .. import matchers as matching
from ..models import Integration
from .common import LocalDateTimeInput


class SilenceForm(forms.Form):
    matchers = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": 'alertname="DiskFull"\n'
                                                                'instance=~"db-[0-9]+"'}),
        help_text="One per line: name=value, name!=value, name=~regex, name!~regex "
                  "(a regex matches the whole value). An alert is silenced when all match.",
    )
    integration = forms.ModelChoiceField(queryset=Integration.objects.all(), required=False,
                                         empty_label="Every integration")
    starts_at = BoundedDateTimeField(ahead=PLANNING_HORIZON, required=False,
                                     widget=LocalDateTimeInput,
                                     help_text="Leave empty for now.")
    ends_at = BoundedDateTimeField(ahead=PLANNING_HORIZON, widget=LocalDateTimeInput,
                                   label="Expires at")
    comment = forms.CharField(max_length=500, help_text="Why: the maintenance it covers.")

    def clean_matchers(self):
        try:
            return matching.parse(self.cleaned_data["matchers"])
        except matching.MatcherError as exc:
            raise ValidationError(exc.errors) from None

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_at") or timezone.now(), data.get("ends_at")
        if ends and ends <= starts:
            self.add_error("ends_at", "A silence must end after it starts.")
        return data
