"""Communications (handbook §3.3, §5, §6.1): send an update, resend a failed one, set
the incident's Slack webhook, resolve with the resolution updates.

Sending stores the update (and one delivery row per recipient) before any network
call, writes the timeline, and wakes the delivery task after commit (comms/delivery.py
sends). The status page is a channel with no recipients: an update is published the
moment it is stored.
"""

from django.db import transaction
from django.utils import timezone

from mindweave_ir.queue import enqueue_on_commit
from oncall import channels
from oncall.models import DeliveryStatus

from .. import checklists, permissions, templating
from ..comms.compose import CONTACT_KIND, recipients
from ..models import (
    CommsDelivery,
    CommsKind,
    CommsStatus,
    CommsUpdate,
    ComponentState,
    IncidentComms,
    PublicState,
    TimelineKind,
)
from ..slack import outbox as slack_outbox
from .checklists import tick_observed
from .common import IncidentError, lock, name, require, write_entry
from .incidents import resolve_incident

# Sends an update's due deliveries; the beat tick is the safety net if it is lost.
DELIVER_TASK = "incidents.tasks.deliver_update"


class NothingToSend(IncidentError):
    """The update has nobody to go to (no subscribers, no webhook): nothing was sent."""


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
def send_update(incident, *, channel, subject, body, by, template=None, state="",
                component_state=""):
    """Store one update and queue it to its recipients (§5).

    1. Check `by` may send, the text is complete (no `[[... fill in]]` left) and a
       status-page update announces a state and what its components show publicly
       (`component_state`; by default from the severity, operational once resolved).
    2. Find the recipients; none (no confirmed subscribers, no webhook, a drill's
       customer email) raises NothingToSend and stores nothing.
    3. Store the update and one delivery row per recipient; a status-page update is
       published at once.
    4. Write the timeline entry; wake the sender task after commit.
    """
    incident = lock(incident)
    require(permissions.can_send_updates(by, incident),
            "Only the incident's Communications Lead or commander, Incident Commanders "
            "and Managers send updates.")
    channel = CommsKind(channel)
    subject, body = _check_text(channel, subject, body)
    if channel == CommsKind.STATUS_PAGE:
        state = state or (template.state if template else "")
        if state not in PublicState.values:
            raise IncidentError("Say which state the status-page update announces.")
        component_state = _component_state(incident, state, component_state)
    else:
        state = component_state = ""
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
        incident=incident, channel=channel, template=template, state=state,
        component_state=component_state, subject=subject,
        body=body, sent_by=by, created_at=now, recipients=len(targets),
        status=CommsStatus.SENT if published else CommsStatus.QUEUED,
    )
    CommsDelivery.objects.bulk_create(
        CommsDelivery(update=update, target=t, kind=CONTACT_KIND[channel], due_at=now,
                      queued_at=now) for t in targets)
    write_entry(incident, TimelineKind.COMMS, _timeline_text(update, by), by=by)
    _tick_observed_comms(incident, update, by)
    if published:
        slack_outbox.update_published(incident, update)
    else:
        enqueue_on_commit(DELIVER_TASK, update.pk)
    return update


def _component_state(incident, state, chosen):
    """What the affected components show publicly after this update: as chosen, else
    operational for a resolved update and the severity's state otherwise."""
    if not chosen:
        return ComponentState.default(incident.severity, state)
    if chosen not in ComponentState.values:
        raise IncidentError("Choose what the affected components show: "
                            + ", ".join(ComponentState.labels) + ".")
    return ComponentState(chosen)


def _tick_observed_comms(incident, update, by):
    """The checklist items this update fulfils (item 9): the first one is the initial
    status update (§3.2 step 5); a resolved status-page update is §3.4's closure item."""
    what = f"{update.get_channel_display().lower()} update “{update.subject or update.body[:60]}”"
    if not incident.comms_updates.exclude(pk=update.pk).exists():
        tick_observed(incident, checklists.POST_INITIAL_UPDATE, now=update.created_at,
                      because=f"{name(by)} sent the first {what}")
    if update.channel == CommsKind.STATUS_PAGE and update.state == PublicState.RESOLVED:
        tick_observed(incident, checklists.UPDATE_STATUS_PAGE, now=update.created_at,
                      because=f"{name(by)} published the resolved status-page update")


def _timeline_text(update, by):
    what = {
        CommsKind.STATUS_PAGE: f"**Status page update published** ({update.get_state_display()}; "
                               f"components: {update.get_component_state_display()})",
        CommsKind.CUSTOMER_EMAIL: f"**Customer email queued** to {update.recipients} "
                                  f"subscriber{'s' if update.recipients != 1 else ''}",
        CommsKind.SLACK: "**Slack update queued** to the incident channel",
    }[update.channel]
    quoted = "\n".join(f"> {line}" for line in update.body.splitlines())
    heading = f"> **{update.subject}**\n>\n" if update.subject else ""
    return f"{what} by {name(by)}.\n\n{heading}{quoted}"


@transaction.atomic
def resend_update(update, *, by):
    """Queue a failed update's failed deliveries again (the delivered ones stay sent)."""
    incident = lock(update.incident)
    require(permissions.can_send_updates(by, incident),
            "Only the incident's Communications Lead or commander, Incident Commanders "
            "and Managers resend updates.")
    update = CommsUpdate.objects.select_for_update().get(pk=update.pk)
    if update.status != CommsStatus.FAILED:
        raise IncidentError("Only a failed update can be resent.")
    again = update.deliveries.filter(status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.QUEUED, due_at=timezone.now(), attempts=0, error="")
    update.status, update.error = CommsStatus.QUEUED, ""
    update.save(update_fields=["status", "error"])
    write_entry(incident, TimelineKind.COMMS,
                f"**{update.get_channel_display()} update resent** to {again} "
                f"recipient{'s' if again != 1 else ''} by {name(by)}: {update.subject}", by=by)
    enqueue_on_commit(DELIVER_TASK, update.pk)
    return update


@transaction.atomic
def set_slack_webhook(incident, *, url, by):
    """Point the incident's Slack posts at `url` (validated like any Slack target)."""
    incident = lock(incident)
    require(permissions.can_send_updates(by, incident),
            "Only the incident's Communications Lead or commander, Incident Commanders "
            "and Managers set the webhook.")
    url = (url or "").strip()
    if url:
        try:
            url = channels.channel_for("slack").validate_target(url)
        except Exception as exc:  # ValidationError: say what is wrong with it
            raise IncidentError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
    row, _ = IncidentComms.objects.get_or_create(incident=incident)
    row.slack_webhook_url = url
    row.save(update_fields=["slack_webhook_url"])
    write_entry(incident, TimelineKind.COMMS, f"Slack webhook {'set' if url else 'cleared'} by "
         f"{name(by)}" + (f" ({channels.redact_url(url)})." if url else "."), by=by)
    return row


# The closure items (§3.4) a resolution update on a channel fulfils.
FULFILS = {
    CommsKind.STATUS_PAGE: checklists.UPDATE_STATUS_PAGE,
    CommsKind.CUSTOMER_EMAIL: checklists.SEND_FINAL_COMMUNICATION,
}


def send_resolution_updates(incident, *, items, by):
    """Inside the resolve transaction: send each chosen (channel, subject, body,
    template) update, then mark the incident's channel archived; tick the closure
    items these fulfil, as the system."""
    for channel, subject, body, template in items:
        update = send_update(incident, channel=channel, subject=subject, body=body, by=by,
                             template=template, state=PublicState.RESOLVED)
        if channel in FULFILS:
            tick_observed(incident, FULFILS[channel], now=update.created_at,
                          because=f"{name(by)} sent the resolution "
                                  f"{update.get_channel_display().lower()} update with the "
                                  "resolve")
    row, _ = IncidentComms.objects.get_or_create(incident=incident)
    if row.channel_archived_at is None:
        row.channel_archived_at = timezone.now()
        row.save(update_fields=["channel_archived_at"])
        write_entry(incident, TimelineKind.COMMS,
                    f"Channel `{incident.channel_name}` marked archived.", by=by)
    tick_observed(incident, checklists.ARCHIVE_CHANNEL,
                  because=f"the resolve marked `{incident.channel_name}` archived")
    return row


@transaction.atomic
def resolve_with_updates(incident, *, resolution, updates, by):
    """Resolve (§6.1 resolveIncident) and, in the same transaction, send the chosen
    resolution updates ((channel, subject, body, template) each) and mark the channel
    archived: a refusal of any of them undoes all, the resolve included.

    The closure items this same step fulfils (the resolved status-page update, the
    final customer communication, archiving the channel) do not have to be ticked
    first: they are ticked by the system once their send succeeded (issue 17, item 2).
    """
    updates = list(updates)
    fulfilled = {FULFILS[channel] for channel, *_ in updates if channel in FULFILS}
    incident = resolve_incident(incident, resolution=resolution, by=by,
                                fulfilled=fulfilled | {checklists.ARCHIVE_CHANNEL})
    send_resolution_updates(incident, items=updates, by=by)
    return incident
