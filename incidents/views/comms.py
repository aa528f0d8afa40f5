"""The incident page's communications section (HTMX fragment): the updates sent, the
templates to compose from, sending, resending, the Slack webhook, and the resolve
form's update options (§6.1).

The incident page includes the section once and loads it with hx-get; without
JavaScript it is a page of its own (the include links to it). Refusals come back
as 4xx inside the fragment, with the form as typed.
"""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from mindweave_ir.inputs import MAX_ID, parse_int
from oncall.models import DeliveryStatus

from .. import permissions, services
from ..comms import cadence, compose
from ..forms import ComposeForm, ResolveCommsForm, SlackWebhookForm, resolution_templates
from ..models import CommsKind, CommsTemplate, CommsUpdate, ComponentState, SlackChannel
from .common import refusal, respond
from .detail import incident_for_section

PANEL = "incidents/comms/comms_panel.html"


def comms_context(request, incident, **overrides):
    """The section's context (also rendered by the live update, views/live.py)."""
    last = cadence.last_update_at(incident)
    templates = list(CommsTemplate.objects.filter(is_active=True))
    context = {
        "incident": incident,
        "can_send": permissions.can_send_updates(request.user, incident),
        "templates_by_kind": [(label, [t for t in templates if t.kind == kind])
                              for kind, label in CommsKind.choices],
        "updates": incident.comms_updates.select_related("sent_by").order_by("-created_at")[:50],
        "last_update_at": last,
        "next_update_at": cadence.next_update_due(incident, last=last),
        "slack_webhook": compose.slack_webhook(incident),
        "slack_channel": _slack_channel(incident),
    }
    return context | overrides


def _slack_channel(incident):
    """The incident's Slack channel (the Slack app, issue 20) with its calls still
    pending and those that failed, or None when Slack did not open one."""
    channel = SlackChannel.objects.filter(incident=incident).first()
    if channel is not None:
        calls = list(channel.calls.exclude(status=DeliveryStatus.SENT).order_by("id"))
        channel.pending = [c for c in calls if c.status != DeliveryStatus.FAILED]
        channel.failed = [c for c in calls if c.status == DeliveryStatus.FAILED]
    return channel


def _respond(request, incident, partial, *, status=200, changed=False, **context):
    """A fragment for HTMX; otherwise the section as a page (a good POST redirects)."""
    return respond(request, PANEL, lambda: comms_context(request, incident, **context),
                   partial=partial, page="incidents/comms/comms_page.html", status=status,
                   redirect_to=reverse("incidents:comms", args=[incident.ref]),
                   timeline_changed=changed)


@require_GET
def comms_panel(request, ref):
    return _respond(request, incident_for_section(ref), "incident-comms")


@require_GET
def comms_compose(request, ref):
    """The chosen template filled for this incident, ready to edit and send."""
    incident = incident_for_section(ref)
    # parse_int, not str.isdigit ('²'.isdigit() is True) nor bare int (bigint overflow).
    chosen = parse_int(request.GET.get("template"), low=1, high=MAX_ID, default=0)
    template = get_object_or_404(CommsTemplate, pk=chosen, is_active=True)
    subject, body = compose.preview(template, incident)
    shown = ComponentState.default(incident.severity, template.state)
    form = ComposeForm(initial={"template": template.pk, "subject": subject, "body": body,
                                "component_state": shown})
    return _respond(request, incident, "incident-comms", compose_form=form, chosen=template)


@require_POST
def comms_send(request, ref):
    incident = incident_for_section(ref)
    form = ComposeForm(request.POST)
    if not form.is_valid():
        return _respond(request, incident, "incident-comms", status=400, compose_form=form,
                        chosen=form.cleaned_data.get("template"))
    template = form.cleaned_data["template"]
    try:
        services.send_update(incident, channel=template.kind, subject=form.cleaned_data["subject"],
                             body=form.cleaned_data["body"], template=template, by=request.user,
                             component_state=form.cleaned_data["component_state"])
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = refusal(exc)
        return _respond(request, incident, "incident-comms", status=status, compose_form=form,
                        chosen=template, comms_error=message,
                        nothing_sent=isinstance(exc, services.NothingToSend))
    return _respond(request, incident, "incident-comms", changed=True,
                    comms_notice=f"{template.get_kind_display()} update sent.")


@require_POST
def comms_resend(request, ref, pk):
    incident = incident_for_section(ref)
    update = get_object_or_404(CommsUpdate, pk=pk, incident=incident)
    try:
        services.resend_update(update, by=request.user)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = refusal(exc)
        return _respond(request, incident, "incident-comms", status=status, comms_error=message)
    return _respond(request, incident, "incident-comms", changed=True,
                    comms_notice="Queued again.")


@require_POST
def comms_slack(request, ref):
    incident = incident_for_section(ref)
    form = SlackWebhookForm(request.POST)
    try:
        if not form.is_valid():
            raise services.IncidentError("Enter the webhook URL.")
        services.set_slack_webhook(incident, url=form.cleaned_data["url"], by=request.user)
    except (services.IncidentError, PermissionDenied) as exc:
        status, message = refusal(exc)
        return _respond(request, incident, "incident-comms", status=status, comms_error=message)
    return _respond(request, incident, "incident-comms", changed=True,
                    comms_notice="Slack webhook saved.")


@require_GET
def resolve_options(request, ref):
    """The resolve form's update checkboxes with their previews (§6.1)."""
    incident = incident_for_section(ref)
    if not permissions.can_send_updates(request.user, incident):
        return render(request, "incidents/comms/_resolve_options.html", {"form": None})
    templates = resolution_templates(incident)
    now = timezone.now()
    previews = {kind: compose.preview(t, incident, now=now, resolved_at=now)
                for kind, t in templates.items() if t is not None}
    form = ResolveCommsForm(templates=templates, previews=previews)
    return render(request, "incidents/comms/_resolve_options.html", {"form": form})
