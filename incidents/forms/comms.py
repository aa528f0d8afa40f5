"""Composing updates, the incident's Slack webhook, and the resolve form's updates (§6.1)."""

from django import forms

from ..models import CommsKind, CommsTemplate, ComponentState

# The §5 templates the resolve form offers, by kind: (template name, checkbox label).
RESOLUTION_TEMPLATES = {
    CommsKind.STATUS_PAGE: ("Resolved", "Publish the resolved status-page update"),
    CommsKind.CUSTOMER_EMAIL: ("Resolution", "Email the customer resolution notice"),
    CommsKind.SLACK: ("Incident resolved", "Post “incident resolved” to Slack"),
}


class ComposeForm(forms.Form):
    """One update from one template, as edited by the sender after the preview."""

    template = forms.ModelChoiceField(queryset=CommsTemplate.objects.filter(is_active=True),
                                      widget=forms.HiddenInput)
    subject = forms.CharField(max_length=200, required=False,
                              widget=forms.TextInput(attrs={"size": 60}))
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}))
    # Status-page updates only: what the affected components show publicly.
    component_state = forms.ChoiceField(
        label="Affected components show", choices=ComponentState.choices, required=False,
        help_text="On the public status page, until the next update. Defaults from the "
                  "severity.")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_comms_%s")  # the page has a timeline "body" too
        super().__init__(*args, **kwargs)


class SlackWebhookForm(forms.Form):
    url = forms.CharField(label="Slack webhook", required=False, max_length=500,
                          help_text="Incoming webhook of this incident's channel.")


def resolution_templates(incident=None):
    """{kind: template or None} for the resolve form. A drill's offers no customer email:
    customers are never emailed about drills, and ticking it would undo the resolve."""
    by_name = {(t.kind, t.name): t for t in CommsTemplate.objects.filter(is_active=True)}
    templates = {kind: by_name.get((kind, name))
                 for kind, (name, _) in RESOLUTION_TEMPLATES.items()}
    if incident is not None and incident.is_exercise:
        templates[CommsKind.CUSTOMER_EMAIL] = None
    return templates


class ResolveCommsForm(forms.Form):
    """The resolve form's optional updates (§6.1): each a checkbox and editable text."""

    def __init__(self, *args, templates=None, previews=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.templates = templates if templates is not None else resolution_templates()
        previews = previews or {}
        for kind, (_, label) in RESOLUTION_TEMPLATES.items():
            if self.templates.get(kind) is None:
                continue
            subject, body = previews.get(kind, ("", ""))
            self.fields[f"{kind}_send"] = forms.BooleanField(label=label, required=False)
            self.fields[f"{kind}_subject"] = forms.CharField(
                label="Subject", required=False, max_length=200, initial=subject)
            self.fields[f"{kind}_body"] = forms.CharField(
                label="Text", required=False, initial=body,
                widget=forms.Textarea(attrs={"rows": 6}))

    def kinds(self):
        """(kind, checkbox, subject, body) bound fields, for the template."""
        return [(kind, self[f"{kind}_send"], self[f"{kind}_subject"], self[f"{kind}_body"])
                for kind in RESOLUTION_TEMPLATES if f"{kind}_send" in self.fields]

    def items(self):
        """The chosen updates as (channel, subject, body, template)."""
        data = self.cleaned_data
        return [(kind, data[f"{kind}_subject"], data[f"{kind}_body"], self.templates[kind])
                for kind in RESOLUTION_TEMPLATES
                if data.get(f"{kind}_send") and self.templates.get(kind) is not None]
