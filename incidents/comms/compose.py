"""Composing an update: what the incident tells a template, the template filled in, and
where an update on each channel goes."""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from mindweave_ir.templatetags.mw import display_name

from .. import templating
from ..models import CommsKind, IncidentComms, Severity, Status, Subscriber
from .cadence import next_update_due

# What each channel sends as: the channel registry's kind (oncall/channels.py).
CONTACT_KIND = {CommsKind.CUSTOMER_EMAIL: "email", CommsKind.SLACK: "slack"}


def status_page_url():
    return f"{settings.SITE_URL}{reverse('status')}"


def facts(incident, *, now=None, resolved_at=None):
    """What the incident tells a template (see templating.PLACEHOLDERS); `resolved_at`
    previews the resolution updates of an incident about to be resolved."""
    now = now or timezone.now()
    return templating.Facts(
        incident_id=incident.ref, title=incident.title,
        severity=Severity(incident.severity).label, status=Status(incident.status).label,
        services=tuple(s.name for s in incident.services.all()),
        impact=incident.customer_impact.strip() or None,
        commander=display_name(incident.commander, missing=None),
        channel=incident.channel_name or None, started_at=incident.started_at,
        resolved_at=incident.resolved_at or resolved_at,
        resolution=incident.resolution.strip() or None,
        next_update_at=next_update_due(incident), now=now, status_page_url=status_page_url(),
        link=f"{settings.SITE_URL}{incident.get_absolute_url()}",
    )


def preview(template, incident, *, now=None, resolved_at=None):
    """The template filled for this incident: (subject, body), unknowns marked. A template
    without a subject (status-page and Slack ones) gets the incident's public title,
    which the sender may change."""
    f = facts(incident, now=now, resolved_at=resolved_at)
    subject = templating.render(template.subject, f) if template.subject else incident.title
    return subject, templating.render(template.body, f)


def slack_webhook(incident):
    settings_row = IncidentComms.objects.filter(incident=incident).first()
    return settings_row.slack_webhook_url if settings_row else ""


def recipients(incident, channel):
    """Where an update on `channel` goes: confirmed subscriber addresses of the
    incident's services, the incident's Slack webhook, or nobody (status page)."""
    if channel == CommsKind.CUSTOMER_EMAIL:
        emails = (Subscriber.objects.filter(service__incidents=incident, confirmed=True)
                  .values_list("email", flat=True).distinct().order_by("email"))
        return sorted({e.strip().lower() for e in emails})
    if channel == CommsKind.SLACK:
        url = slack_webhook(incident)
        return [url] if url else []
    return []
