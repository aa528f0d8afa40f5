"""Automation rules as Managers write them in the admin: matchers typed one per line, as
for silences (`alertname="X"`, `env!=staging`, `pod=~"api-.*"`)."""

from django import forms

from oncall import channels

from .. import matchers as matching
from ..models import AutomationRule


class AutomationRuleForm(forms.ModelForm):
    webhook_url = forms.URLField(required=False, max_length=500, assume_scheme="https",
                                 help_text="Receives the signed JSON (webhook rules).")
    matchers_text = forms.CharField(
        label="Label matchers", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text='One per line: name="value", name!="value", name=~"regex", name!~"regex".')

    class Meta:
        model = AutomationRule
        fields = ["name", "description", "enabled", "alert_name", "max_severity",
                  "duration_minutes", "action", "webhook_url", "policy", "message",
                  "max_per_hour"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.matchers:
            self.initial["matchers_text"] = "\n".join(
                matching.describe([m]) for m in self.instance.matchers)

    def clean_webhook_url(self):
        """Refused on save as on every send: no internal addresses (mindweave_ir.outbound)."""
        url = self.cleaned_data["webhook_url"]
        return channels.channel_for("webhook").validate_target(url) if url else url

    def clean_matchers_text(self):
        text = self.cleaned_data["matchers_text"]
        if not text.strip():
            return []
        try:
            return matching.parse(text)
        except matching.MatcherError as exc:
            raise forms.ValidationError(exc.errors) from None

    def _post_clean(self):
        self.instance.matchers = self.cleaned_data.get("matchers_text") or []
        super()._post_clean()
