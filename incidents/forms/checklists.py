"""Ticking and waiving checklist items."""

from django import forms


class WaiveForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.TextInput(
        attrs={"placeholder": "Why is this item skipped?"}))


class ChecklistToggleForm(forms.Form):
    done = forms.BooleanField(required=False)
