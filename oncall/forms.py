from django import forms

from .models import Profile, known_timezones


class ProfileForm(forms.ModelForm):
    timezone = forms.ChoiceField(
        choices=lambda: [(tz, tz) for tz in sorted(known_timezones())],
        help_text="Times everywhere in MindWeave IR are shown in this zone.",
    )

    class Meta:
        model = Profile
        fields = ["timezone"]
