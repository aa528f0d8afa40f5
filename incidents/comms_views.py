"""The incident page's communications and runbook sections (HTMX fragments).

The incident page includes each section once and loads it with hx-get; without
JavaScript each is a page of its own (the include links to it). Refusals come back
as 4xx inside the fragment, with the form as typed.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from mindweave_ir.htmx import is_fragment

from . import permissions, services
from .comms import cadence, compose
from .comms_forms import ComposeForm, ResolveCommsForm, SlackWebhookForm, resolution_templates
from .models import (
    CommsKind,
    CommsTemplate,
    CommsUpdate,
    Incident,
    Runbook,
    RunbookAttachment,
    RunbookStepTick,
)
from .services import IncidentError
from .views import TIMELINE_CHANGED, _refusal

PANEL = "incidents/comms/comms_panel.html"
RUNBOOKS = "incidents/comms/runbooks_panel.html"


def _incident(ref):
    queryset = Incident.objects.select_related("commander", "communications_lead")
    return get_object_or_404(queryset.prefetch_related("services"), ref=ref.upper())


def _comms_context(request, incident, **overrides):
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
        "now": timezone.now(),
    }
    context.update(overrides)
    return context


def _respond(request, incident, partial, *, status=200, changed=False, **context):
    """A fragment for HTMX; otherwise the section as a page (a good POST redirects)."""
    if not is_fragment(request) and request.method == "POST" and status < 400:
        return redirect(reverse("incidents:comms", args=[incident.ref]))
    template = f"{PANEL}#{partial}" if is_fragment(request) else "incidents/comms/comms_page.html"
    response = render(request, template, _comms_context(request, incident, **context),
                      status=status)
    if changed:
        trigger_client_event(response, TIMELINE_CHANGED)
    return response


@require_GET
def comms_panel(request, ref):
    return _respond(request, _incident(ref), "incident-comms")


@require_GET
def comms_compose(request, ref):
    """The chosen template filled for this incident, ready to edit and send."""
    incident = _incident(ref)
    chosen = request.GET.get("template", "")
    template = get_object_or_404(CommsTemplate, pk=int(chosen) if chosen.isdigit() else 0,
                                 is_active=True)
    subject, body = compose.preview(template, incident)
    form = ComposeForm(initial={"template": template.pk, "subject": subject, "body": body})
    return _respond(request, incident, "incident-comms", compose_form=form, chosen=template)


@require_POST
def comms_send(request, ref):
    incident = _incident(ref)
    form = ComposeForm(request.POST)
    if not form.is_valid():
        return _respond(request, incident, "incident-comms", status=400, compose_form=form,
                        chosen=form.cleaned_data.get("template"))
    template = form.cleaned_data["template"]
    try:
        services.send_update(incident, channel=template.kind, subject=form.cleaned_data["subject"],
                          body=form.cleaned_data["body"], template=template, by=request.user)
    except (IncidentError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        return _respond(request, incident, "incident-comms", status=status, compose_form=form,
                        chosen=template, comms_error=message,
                        nothing_sent=isinstance(exc, services.NothingToSend))
    return _respond(request, incident, "incident-comms", changed=True,
                    comms_notice=f"{template.get_kind_display()} update sent.")


@require_POST
def comms_resend(request, ref, pk):
    incident = _incident(ref)
    update = get_object_or_404(CommsUpdate, pk=pk, incident=incident)
    try:
        services.resend_update(update, by=request.user)
    except (IncidentError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        return _respond(request, incident, "incident-comms", status=status, comms_error=message)
    return _respond(request, incident, "incident-comms", changed=True,
                    comms_notice="Queued again.")


@require_POST
def comms_slack(request, ref):
    incident = _incident(ref)
    form = SlackWebhookForm(request.POST)
    try:
        if not form.is_valid():
            raise IncidentError("Enter the webhook URL.")
        services.set_slack_webhook(incident, url=form.cleaned_data["url"], by=request.user)
    except (IncidentError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        return _respond(request, incident, "incident-comms", status=status, comms_error=message)
    return _respond(request, incident, "incident-comms", changed=True,
                    comms_notice="Slack webhook saved.")


@require_GET
def resolve_options(request, ref):
    """The resolve form's update checkboxes with their previews (§6.1)."""
    incident = _incident(ref)
    if not permissions.can_send_updates(request.user, incident):
        return render(request, "incidents/comms/_resolve_options.html", {"form": None})
    templates = resolution_templates()
    now = timezone.now()
    previews = {kind: compose.preview(t, incident, now=now, resolved_at=now)
                for kind, t in templates.items() if t is not None}
    form = ResolveCommsForm(templates=templates, previews=previews)
    return render(request, "incidents/comms/_resolve_options.html", {"form": form})


# --- Runbooks -----------------------------------------------------------------------------

def alert_names(incident):
    """The `alertname` labels of the incident's alerts (none when it has no alerts)."""
    alerts = getattr(incident, "alerts", None)
    if alerts is None:
        return set()
    names = set()
    for labels in alerts.values_list("labels", flat=True)[:200]:
        if isinstance(labels, dict) and labels.get("alertname"):
            names.add(str(labels["alertname"]))
    return names


def suggested(incident):
    """Runbooks for the incident's services or its alerts' names, not yet attached;
    those matching both first."""
    service_ids = {s.pk for s in incident.services.all()}
    names = alert_names(incident)
    taken = set(incident.runbooks.values_list("runbook_id", flat=True))
    scored = []
    for runbook in Runbook.objects.prefetch_related("services"):
        if runbook.pk in taken:
            continue
        by_service = bool(service_ids & {s.pk for s in runbook.services.all()})
        by_alert = bool(names & set(runbook.alert_name_list()))
        if by_service or by_alert:
            scored.append((-(by_service + by_alert), runbook.title, runbook))
    return [runbook for *_, runbook in sorted(scored, key=lambda x: x[:2])]


def attached(incident):
    """The incident's runbooks, each with its steps as (position, text, tick or None)."""
    rows = incident.runbooks.select_related("runbook", "attached_by").prefetch_related(
        Prefetch("ticks", queryset=RunbookStepTick.objects.select_related("done_by")))
    result = []
    for attachment in rows:
        ticks = {t.position: t for t in attachment.ticks.all()}
        steps = [(i, text, ticks.get(i)) for i, text in enumerate(attachment.runbook.steps())]
        result.append((attachment, steps))
    return result


def _runbooks_respond(request, incident, *, status=200, **extra):
    if not is_fragment(request) and request.method == "POST" and status < 400:
        return redirect(reverse("incidents:runbooks", args=[incident.ref]))
    context = {
        "incident": incident,
        "can_attach": permissions.can_command(request.user, incident),
        "can_tick": permissions.can_edit(request.user, incident),
        "attached": attached(incident),
        "suggested": suggested(incident),
        **extra,
    }
    template = f"{RUNBOOKS}#incident-runbooks" if is_fragment(request) \
        else "incidents/comms/runbooks_page.html"
    return render(request, template, context, status=status)


@require_GET
def runbooks_panel(request, ref):
    return _runbooks_respond(request, _incident(ref))


@require_POST
def runbook_attach(request, ref):
    incident = _incident(ref)
    try:
        services.attach_runbook(incident, runbook_id=request.POST.get("runbook"),
                              by=request.user)
    except (IncidentError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        return _runbooks_respond(request, incident, status=status, runbook_error=message)
    return _runbooks_respond(request, incident)


@require_POST
def runbook_tick(request, ref, pk, position):
    incident = _incident(ref)
    attachment = get_object_or_404(RunbookAttachment, pk=pk, incident=incident)
    try:
        services.tick_runbook_step(attachment, position=position,
                                   done=bool(request.POST.get("done")), by=request.user)
    except (IncidentError, PermissionDenied) as exc:
        status, message = _refusal(exc)
        return _runbooks_respond(request, incident, status=status, runbook_error=message)
    return _runbooks_respond(request, incident)
