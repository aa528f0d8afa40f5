"""Communications (handbook §3.3, §5, §6.1): compose from templates, send, remind.

Every write is here. Sending an update stores it (and one delivery row per recipient)
before any network call, writes the timeline, and wakes a Celery task after commit;
the task claims each row before sending (oncall/delivery.py), so a retry or a second
worker never sends the same update to the same recipient twice. The status page is
a channel with no recipients: an update is published the moment it is stored.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.urls import reverse
from django.utils import timezone

from mindweave_ir.queue import enqueue_on_commit
from oncall import channels, delivery, notices
from oncall.models import DeliveryStatus

from . import permissions, templating
from .models import (
    CommsDelivery,
    CommsKind,
    CommsStatus,
    CommsUpdate,
    Incident,
    IncidentComms,
    PublicState,
    Severity,
    Status,
    Subscriber,
    TimelineKind,
)
from .services import IncidentError, _locked, _log, _name, _require

log = logging.getLogger(__name__)

# §5.3: "Status Update (Every 30 min for SEV-1/2)". Other severities have no cadence.
CADENCE = {Severity.SEV1: timedelta(minutes=30), Severity.SEV2: timedelta(minutes=30)}
# What each channel sends as: the channel registry's kind (oncall/channels.py).
CONTACT_KIND = {CommsKind.CUSTOMER_EMAIL: "email", CommsKind.SLACK: "slack"}
# Sends an update's due deliveries; the beat tick is the safety net if it is lost.
DELIVER_TASK = "incidents.comms_tasks.deliver_update"


class NothingToSend(IncidentError):
    """The update has nobody to go to (no subscribers, no webhook): nothing was sent."""


def can_send(user, incident):
    """The incident's Communications Lead, its commander, Incident Commanders, Managers."""
    if permissions.can_command(user, incident):
        return True
    return user.is_authenticated and incident.communications_lead_id == user.pk


def status_page_url():
    return f"{settings.SITE_URL}{reverse('status')}"


# --- Composing ------------------------------------------------------------------------

def last_update_at(incident):
    """When the last update that was not a failure went out (any channel), or None."""
    return (incident.comms_updates.exclude(status=CommsStatus.FAILED)
            .aggregate(last=Max("created_at"))["last"])


def next_update_due(incident, *, last=None):
    """When the next update is due under §5.3, or None (no cadence, or resolved)."""
    interval = CADENCE.get(incident.severity)
    if interval is None or not incident.is_open:
        return None
    return (last or last_update_at(incident) or incident.declared_at) + interval


def facts(incident, *, now=None, resolved_at=None):
    """What the incident tells a template (see templating.PLACEHOLDERS); `resolved_at`
    previews the resolution updates of an incident about to be resolved."""
    now = now or timezone.now()
    return templating.Facts(
        incident_id=incident.ref, title=incident.title,
        severity=Severity(incident.severity).label, status=Status(incident.status).label,
        services=tuple(s.name for s in incident.services.all()),
        impact=incident.customer_impact.strip() or None,
        commander=_name(incident.commander) if incident.commander else None,
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


# --- Sending --------------------------------------------------------------------------

def _check_text(channel, subject, body):
    subject = " ".join((subject or "").split())  # one line: it becomes a header or a title
    body = (body or "").strip()
    if not body:
        raise IncidentError("An update needs some text.")
    if channel != CommsKind.SLACK and not subject:
        raise IncidentError("An update needs a subject (the email subject or status title).")
    missing = templating.unfilled(subject, body)
    if missing:
        raise IncidentError("Fill in before sending: " + ", ".join(missing) + ".")
    if len(subject) > CommsUpdate._meta.get_field("subject").max_length:
        raise IncidentError("The subject is too long (200 characters at most).")
    return subject, body


@transaction.atomic
def send_update(incident, *, channel, subject, body, by, template=None, state=""):
    """Store one update and queue it to its recipients (§5).

    1. Check `by` may send, the text is complete (no `[[... fill in]]` left) and a
       status-page update announces a state.
    2. Find the recipients; none (no confirmed subscribers, no webhook, a drill's
       customer email) raises NothingToSend and stores nothing.
    3. Store the update and one delivery row per recipient; a status-page update is
       published at once.
    4. Write the timeline entry; wake the sender task after commit.
    """
    incident = _locked(incident)
    _require(can_send(by, incident), "Only the incident's Communications Lead or commander, "
                                     "Incident Commanders and Managers send updates.")
    channel = CommsKind(channel)
    subject, body = _check_text(channel, subject, body)
    if channel == CommsKind.STATUS_PAGE:
        state = state or (template.state if template else "")
        if state not in PublicState.values:
            raise IncidentError("Say which state the status-page update announces.")
    else:
        state = ""
    if channel == CommsKind.CUSTOMER_EMAIL and incident.exercise:
        raise NothingToSend(f"Nothing sent: this is a drill ({incident.get_exercise_display()}); "
                            "customers are not emailed about drills.")
    targets = recipients(incident, channel)
    if channel == CommsKind.CUSTOMER_EMAIL and not targets:
        names = ", ".join(s.name for s in incident.services.all()) or "no services"
        raise NothingToSend(f"Nothing sent: the affected services ({names}) have no "
                            "confirmed subscribers.")
    if channel == CommsKind.SLACK and not targets:
        raise NothingToSend("Nothing sent: set the incident's Slack webhook first.")
    now = timezone.now()
    published = channel == CommsKind.STATUS_PAGE
    update = CommsUpdate.objects.create(
        incident=incident, channel=channel, template=template, state=state, subject=subject,
        body=body, sent_by=by, created_at=now, recipients=len(targets),
        status=CommsStatus.SENT if published else CommsStatus.QUEUED,
    )
    CommsDelivery.objects.bulk_create(
        CommsDelivery(update=update, target=t, kind=CONTACT_KIND[channel], due_at=now,
                      queued_at=now) for t in targets)
    _log(incident, TimelineKind.COMMS, _timeline_text(update, by), by=by)
    if not published:
        enqueue_on_commit(DELIVER_TASK, update.pk)
    return update


def _timeline_text(update, by):
    what = {
        CommsKind.STATUS_PAGE: f"**Status page update published** ({update.get_state_display()})",
        CommsKind.CUSTOMER_EMAIL: f"**Customer email queued** to {update.recipients} "
                                  f"subscriber{'s' if update.recipients != 1 else ''}",
        CommsKind.SLACK: "**Slack update queued** to the incident channel",
    }[update.channel]
    quoted = "\n".join(f"> {line}" for line in update.body.splitlines())
    heading = f"> **{update.subject}**\n>\n" if update.subject else ""
    return f"{what} by {_name(by)}.\n\n{heading}{quoted}"


def _message(row):
    update = row.update
    if update.channel == CommsKind.SLACK:
        link = f"{settings.SITE_URL}{update.incident.get_absolute_url()}"
    else:
        link = ""  # customers get no link into the internal app
    return channels.Message(subject=update.subject, text=update.body, link=link, ack_url="",
                            severity="", dedup_key="", kind="notice")


def deliver(delivery_id, *, now=None):
    """Send one queued delivery at most once; returns (outcome text, retry delay or None)."""
    now = now or timezone.now()
    if not delivery.claim(CommsDelivery, delivery_id, now):
        return "not mine", None
    row = CommsDelivery.objects.select_related("update__incident").get(pk=delivery_id)
    try:
        summary = channels.channel_for(row.kind).send(row.target, _message(row))
    except channels.ChannelError as exc:
        delay, _ = delivery.record_failure(row, exc)
        refresh_status(row.update_id)
        return (f"retry in {delay}s" if delay else "failed"), delay
    delivery.record_sent(CommsDelivery, delivery_id)
    refresh_status(row.update_id)
    return f"sent: {summary}", None


def deliver_update(update_id, *, now=None):
    """Send every due delivery of one update; the shortest retry delay, or None."""
    now = now or timezone.now()
    ids = list(CommsDelivery.objects.filter(update_id=update_id, status=DeliveryStatus.QUEUED,
                                            due_at__lte=now).values_list("pk", flat=True))
    delays = [d for _, d in (deliver(pk, now=now) for pk in ids) if d]
    return min(delays) if delays else None


def refresh_status(update_id):
    """Sum the deliveries up onto the update: queued while any is pending, else failed
    if any failed (with the first error), else delivered."""
    rows = CommsDelivery.objects.filter(update_id=update_id)
    pending = Q(status__in=[DeliveryStatus.QUEUED, DeliveryStatus.SENDING])
    totals = rows.aggregate(pending=Count("id", filter=pending), attempts=Sum("attempts"),
                            failed=Count("id", filter=Q(status=DeliveryStatus.FAILED)))
    error = ""
    if totals["pending"]:
        status = CommsStatus.QUEUED
    elif totals["failed"]:
        status = CommsStatus.FAILED
        first = rows.filter(status=DeliveryStatus.FAILED).order_by("id").first()
        error = f"{totals['failed']} of {rows.count()} failed. {first.error}"[:1000]
    else:
        status = CommsStatus.SENT
    CommsUpdate.objects.filter(pk=update_id).update(status=status, error=error,
                                                    attempts=totals["attempts"] or 0)


@transaction.atomic
def resend_update(update, *, by):
    """Queue a failed update's failed deliveries again (the delivered ones stay sent)."""
    incident = _locked(update.incident)
    _require(can_send(by, incident), "Only the incident's Communications Lead or commander, "
                                     "Incident Commanders and Managers resend updates.")
    update = CommsUpdate.objects.select_for_update().get(pk=update.pk)
    if update.status != CommsStatus.FAILED:
        raise IncidentError("Only a failed update can be resent.")
    again = update.deliveries.filter(status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.QUEUED, due_at=timezone.now(), attempts=0, error="")
    update.status, update.error = CommsStatus.QUEUED, ""
    update.save(update_fields=["status", "error"])
    _log(incident, TimelineKind.COMMS, f"**{update.get_channel_display()} update resent** to "
         f"{again} recipient{'s' if again != 1 else ''} by {_name(by)}: {update.subject}", by=by)
    enqueue_on_commit(DELIVER_TASK, update.pk)
    return update


def deliver_due(*, now=None):
    """Beat: fail deliveries stuck mid-send, then send every due queued one (lost
    wake-ups, retries). Returns how many were sent."""
    now = now or timezone.now()
    for row in delivery.stuck(CommsDelivery.objects, now).only("pk", "update_id"):
        if delivery.fail_if_stuck(CommsDelivery, row.pk):
            refresh_status(row.update_id)
    ids = list(CommsDelivery.objects.filter(status=DeliveryStatus.QUEUED, due_at__lte=now)
               .values_list("pk", flat=True)[:500])
    return sum(deliver(pk, now=now)[0].startswith("sent") for pk in ids)


@transaction.atomic
def set_slack_webhook(incident, *, url, by):
    """Point the incident's Slack posts at `url` (validated like any Slack target)."""
    incident = _locked(incident)
    _require(can_send(by, incident), "Only the incident's Communications Lead or commander, "
                                     "Incident Commanders and Managers set the webhook.")
    url = (url or "").strip()
    if url:
        try:
            url = channels.channel_for("slack").validate_target(url)
        except Exception as exc:  # ValidationError: say what is wrong with it
            raise IncidentError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
    row, _ = IncidentComms.objects.get_or_create(incident=incident)
    row.slack_webhook_url = url
    row.save(update_fields=["slack_webhook_url"])
    _log(incident, TimelineKind.COMMS, f"Slack webhook {'set' if url else 'cleared'} by "
         f"{_name(by)}" + (f" ({channels.redact_url(url)})." if url else "."), by=by)
    return row


# --- Cadence (§5.3) -------------------------------------------------------------------

def remind_overdue(*, now=None):
    """Beat: remind the Communications Lead (or the commander when none) of each open
    SEV-1/2 incident whose update is overdue, once per 30-minute interval.

    The reminder's key names the interval's due time (the last update or declaration
    plus a whole number of intervals), so each interval reminds once however often
    this runs; a new update moves the due time on. Returns how many are overdue.
    """
    now = now or timezone.now()
    overdue = 0
    open_incidents = (Incident.objects.exclude(status=Status.RESOLVED)
                      .filter(severity__in=list(CADENCE))
                      .annotate(last=Max("comms_updates__created_at",
                                         filter=~Q(comms_updates__status=CommsStatus.FAILED)))
                      .select_related("communications_lead", "commander"))
    for incident in open_incidents:
        interval = CADENCE[incident.severity]
        base = incident.last or incident.declared_at
        if now < base + interval:
            continue
        due_at = base + interval * int((now - base) / interval)
        person = incident.communications_lead or incident.commander
        if person is None:
            continue
        late = templating.format_duration(now - (base + interval))
        link = incident.get_absolute_url()
        made = notices.notify(
            person, key=f"comms:{incident.pk}:{due_at:%Y%m%dT%H%M}",
            subject=f"[{Severity(incident.severity).label}] {incident.ref}: update overdue",
            text=f"The next status update for {incident.ref} {incident.title} was due "
                 f"{late} ago (every {int(interval.total_seconds() // 60)} minutes for "
                 f"SEV-1/2, handbook §5.3). Post one from the incident page.", link=link)
        overdue += 1
        log.debug("comms reminder %s: %d notice(s)", incident.ref, len(made))
    return overdue


# --- Resolve flow (§6.1 resolveIncident) ----------------------------------------------

def send_resolution_updates(incident, *, items, by):
    """Inside the resolve transaction: send each chosen (channel, subject, body,
    template) update, then mark the incident's channel archived."""
    for channel, subject, body, template in items:
        send_update(incident, channel=channel, subject=subject, body=body, by=by,
                    template=template, state=PublicState.RESOLVED)
    row, _ = IncidentComms.objects.get_or_create(incident=incident)
    if row.channel_archived_at is None:
        row.channel_archived_at = timezone.now()
        row.save(update_fields=["channel_archived_at"])
        _log(incident, TimelineKind.COMMS, f"Channel `{incident.channel_name}` marked archived.",
             by=by)
    return row
