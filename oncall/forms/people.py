from django import forms
from django.core.exceptions import ValidationError

from .. import channels
from ..models import Profile, known_timezones

MAX_NOTIFY_DELAY_MINUTES = 24 * 60
# Targets whose URL path is the secret: never echoed back into the page.
SECRET_TARGETS = (channels.SlackChannel.kind, channels.WebhookChannel.kind)


class ProfileForm(forms.ModelForm):
    timezone = forms.ChoiceField(
        choices=lambda: [(tz, tz) for tz in sorted(known_timezones())],
        help_text="Times everywhere in MindWeave IR are shown in this zone.",
    )

    class Meta:
        model = Profile
        fields = ["timezone"]


class ContactMethodForm(forms.Form):
    """Add or edit one contact method; the channel itself judges the target.

    Editing (`instance` given): the kind is fixed (a different kind is a different
    method), and a webhook URL is not echoed back into the page: its path is the
    secret, so a blank target keeps the current one.
    """

    kind = forms.ChoiceField(choices=channels.KIND_CHOICES, label="Kind")
    target = forms.CharField(
        max_length=500, label="Address or URL",
        help_text="E-mail address; the https:// URL of a Slack incoming webhook or your own "
                  "webhook receiver; or, for SMS and voice, a phone number in international "
                  "format (+15551234567).",
    )
    label = forms.CharField(max_length=100, required=False,
                            help_text="Optional, e.g. “work phone” or “#sre-pages”.")
    notify_after_minutes = forms.IntegerField(
        min_value=0, max_value=MAX_NOTIFY_DELAY_MINUTES, initial=0, label="Notify after (minutes)",
        help_text="0: at once when paged. N: only if the page is still unacknowledged "
                  "N minutes later.",
    )
    enabled = forms.BooleanField(required=False, initial=True,
                                 help_text="Untick to pause this method without deleting it.")

    def __init__(self, *args, instance=None, prefix=None, **kwargs):
        self.instance = instance
        if instance is not None:
            kwargs.setdefault("initial", {
                "kind": instance.kind, "label": instance.label,
                "notify_after_minutes": instance.notify_after_minutes,
                "enabled": instance.is_enabled,
                "target": "" if instance.kind in SECRET_TARGETS else instance.target,
            })
            prefix = prefix or f"cm{instance.pk}"
        super().__init__(*args, prefix=prefix, **kwargs)
        if instance is not None:
            self.fields["kind"].disabled = True
            if instance.kind in SECRET_TARGETS:
                self.fields["target"].required = False
                self.fields["target"].help_text = (
                    f"Now {instance.display_target} (the rest is kept secret). "
                    "Leave blank to keep it; paste a new URL to replace it.")

    def clean(self):
        data = super().clean()
        if self.instance is not None and not data.get("target"):
            data["target"] = self.instance.target  # blank keeps the secret URL
        return clean_target(self, data)


def clean_target(form, data):
    """Let the channel judge and normalise `target`; its message goes beside the field.
    Shared by the owner's form and the admin's, so both accept the same targets."""
    kind, target = data.get("kind"), data.get("target")
    if kind and target:
        try:
            data["target"] = channels.channel_for(kind).validate_target(target)
        except ValidationError as exc:
            form.add_error("target", exc)
    return data
