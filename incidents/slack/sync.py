"""Making an incident channel's Slack calls: in the order they were stored, each at
most once (claimed before the call, recorded after: oncall/delivery.py), a transient
failure retried with backoff, a 429 after the Retry-After Slack gave.

1. Take the channel's first unfinished call; stop if it is not due yet (its retry or
   Retry-After is ahead) or another worker holds it.
2. Claim it, make it, record the outcome. A channel that could not be created fails
   the calls after it (they have nowhere to go).
3. Go on with the next; return the seconds until the first call still waiting, or None.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from mindweave_ir.live import versions as live
from oncall import delivery, slack
from oncall.models import DeliveryStatus

from ..models import Incident, SlackAction, SlackCall, SlackChannel, TimelineKind
from ..services.common import write_entry
from .messages import declaration, topic

MAX_NAME_SUFFIX = 20
MAX_RATE_LIMITED = 10  # 429s in a row before a call counts as failed
NO_CHANNEL = "The channel was not created."
PENDING = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


def run(channel_pk, *, now=None):
    """Make the channel's due calls in order; seconds until the next is due, or None."""
    while True:
        now = timezone.now() if now is None else max(now, timezone.now())
        call = (SlackCall.objects.filter(channel_id=channel_pk, status__in=PENDING)
                .order_by("id").first())
        if call is None:
            return None
        if call.status == DeliveryStatus.SENDING:
            return None  # another worker is making it; it wakes this again if need be
        if call.due_at > now:
            return max(1, int((call.due_at - now).total_seconds() + 0.999))
        if not delivery.claim(SlackCall, call.pk, now):
            return None
        call.refresh_from_db()
        _make(call)


def _make(call):
    channel = SlackChannel.objects.select_related("incident__commander").get(pk=call.channel_id)
    if call.action != SlackAction.CREATE and not channel.channel_id:
        SlackCall.objects.filter(pk=call.pk).update(status=DeliveryStatus.FAILED,
                                                    error=NO_CHANNEL)
        return
    try:
        ACTIONS[call.action](channel, call)
    except slack.SlackError as exc:
        _failed(channel, call, exc)
        return
    delivery.record_sent(SlackCall, call.pk)


def _failed(channel, call, exc):
    """Re-queue after Retry-After or the backoff, or fail for good (the incident page's
    Communications section shows either, live)."""
    live.bump(live.incident_key(channel.incident_id))
    if exc.retry_after and call.attempts < MAX_RATE_LIMITED:
        # 429: wait as long as Slack said, not our backoff (and not forever)
        SlackCall.objects.filter(pk=call.pk).update(
            status=DeliveryStatus.QUEUED, error=str(exc)[:1000],
            due_at=timezone.now() + timedelta(seconds=exc.retry_after))
        return
    _, error = delivery.record_failure(call, exc)
    failed = SlackCall.objects.filter(pk=call.pk, status=DeliveryStatus.FAILED).exists()
    if failed and call.action == SlackAction.ARCHIVE:
        _note(channel.incident, f"**Archiving the Slack channel** `#{channel.name}` "
                                f"**failed**: {error}")
    elif failed and call.action == SlackAction.CREATE:
        SlackCall.objects.filter(channel=channel, status=DeliveryStatus.QUEUED).update(
            status=DeliveryStatus.FAILED, error=NO_CHANNEL)
        _note(channel.incident, f"**Creating the Slack channel** `#{channel.name}` "
                                f"**failed**: {error}")


@transaction.atomic
def _note(incident, body):
    write_entry(incident, TimelineKind.COMMS, body, by=None)


# --- the calls ----------------------------------------------------------------------------

def _create(channel, call):
    """conversations.create; a name taken gets the first free `-N` suffix."""
    base, candidate = channel.name, channel.name
    for n in range(2, MAX_NAME_SUFFIX + 2):
        try:
            data = slack.call("conversations.create", name=candidate, is_private=False)
            break
        except slack.SlackError as exc:
            if exc.code != "name_taken" or n > MAX_NAME_SUFFIX:
                raise
            candidate = f"{base[:80 - len(str(n)) - 1]}-{n}"
    channel_id = data["channel"]["id"]
    SlackChannel.objects.filter(pk=channel.pk).update(channel_id=channel_id, name=candidate)
    with transaction.atomic():
        if candidate != base:
            Incident.objects.filter(pk=channel.incident_id).update(
                channel_name=f"#{candidate}", updated_at=timezone.now())
        write_entry(channel.incident, TimelineKind.COMMS,
                    f"Slack channel `#{candidate}` created"
                    + (f" (`#{base}` was taken)." if candidate != base else "."), by=None)
    channel.channel_id, channel.name = channel_id, candidate


def _topic(channel, call):
    incident = Incident.objects.select_related("commander").get(pk=channel.incident_id)
    slack.call("conversations.setTopic", channel=channel.channel_id, topic=topic(incident))


def _invite(channel, call):
    """Invite the commander, the leads and the responders who linked their Slack user
    and were not invited yet."""
    incident = Incident.objects.select_related(
        "commander", "technical_lead", "communications_lead").get(pk=channel.incident_id)
    people = [incident.commander, incident.technical_lead, incident.communications_lead,
              *incident.responders.all()]
    ids = list(dict.fromkeys(slack.slack_ids_for(people).values()))
    fresh = [i for i in ids if i not in set(channel.invited)]
    if not fresh:
        return
    try:
        slack.call("conversations.invite", channel=channel.channel_id, users=",".join(fresh))
    except slack.SlackError as exc:
        if exc.code != "already_in_channel":
            raise
    SlackChannel.objects.filter(pk=channel.pk).update(invited=[*channel.invited, *fresh])


def _post(channel, call):
    if call.declaration:
        incident = Incident.objects.select_related("commander", "declared_by").get(
            pk=channel.incident_id)
        text, blocks = declaration(incident)
        data = slack.call("chat.postMessage", channel=channel.channel_id, text=text,
                          blocks=blocks)
        SlackChannel.objects.filter(pk=channel.pk).update(declaration_ts=data.get("ts", ""))
        return
    slack.call("chat.postMessage", channel=channel.channel_id, text=call.text, mrkdwn=True)


def _pin(channel, call):
    ts = SlackChannel.objects.values_list("declaration_ts", flat=True).get(pk=channel.pk)
    if not ts:
        raise slack.SlackError("The declaration was not posted; nothing to pin.",
                               permanent=True)
    slack.call("pins.add", channel=channel.channel_id, timestamp=ts)


def _archive(channel, call):
    try:
        slack.call("conversations.archive", channel=channel.channel_id)
    except slack.SlackError as exc:
        if exc.code != "already_archived":
            raise
    now = timezone.now()
    SlackChannel.objects.filter(pk=channel.pk).update(archived_at=now)
    _note(channel.incident, f"Slack channel `#{channel.name}` archived.")


ACTIONS = {
    SlackAction.CREATE: _create,
    SlackAction.TOPIC: _topic,
    SlackAction.INVITE: _invite,
    SlackAction.POST: _post,
    SlackAction.PIN: _pin,
    SlackAction.ARCHIVE: _archive,
}


def due_channels(*, now=None):
    """Beat: fail calls stuck mid-call (a dead worker: the call may have been made),
    then the channels with due calls (lost wake-ups, retries). Returns their pks."""
    now = now or timezone.now()
    for row in delivery.stuck(SlackCall.objects, now).only("pk"):
        delivery.fail_if_stuck(SlackCall, row.pk)
    return list(SlackCall.objects.filter(status=DeliveryStatus.QUEUED, due_at__lte=now)
                .values_list("channel_id", flat=True).distinct()[:200])
