"""The runbook form: the admin edits runbooks with it and `runbooks_apply` checks
Markdown files with it, so both refuse the same things."""

from django import forms

from ..models import Runbook


class RunbookForm(forms.ModelForm):
    class Meta:
        model = Runbook
        fields = ["title", "body", "services", "alert_names"]

    def clean_alert_names(self):
        names = [n.strip() for n in self.cleaned_data["alert_names"].splitlines() if n.strip()]
        too_long = [n for n in names if len(n) > 200]
        if too_long:
            raise forms.ValidationError(f"Alert name too long: {too_long[0][:40]}…")
        return "\n".join(names)
