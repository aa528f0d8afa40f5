"""Which Slack calls an incident's change asks for, stored as delivery rows inside the
change's own transaction; the sync task makes them after commit.

The services call `entry_written` for every timeline entry (services/common.py) and
`update_published` for each status-page update: the channel says what the timeline
says. With Slack not connected (no bot token) nothing is stored and nothing is sent.
"""

from django.utils import timezone

from mindweave_ir.queue import enqueue_on_commit
from oncall import slack

from ..models import SlackAction, SlackCall, SlackChannel, TimelineKind
from .messages import mrkdwn, slack_name

SYNC_TASK = "incidents.tasks.slack_sync"

# What each kind of timeline entry asks of an existing channel (after posting it).
FOLLOW_UPS = {
    TimelineKind.STATUS: (SlackAction.TOPIC,),
    TimelineKind.SEVERITY: (SlackAction.TOPIC,),
    TimelineKind.ROLE: (SlackAction.INVITE, SlackAction.TOPIC),
    TimelineKind.RESOLVED: (SlackAction.TOPIC, SlackAction.ARCHIVE),
}


def entry_written(incident, entry):
    """A timeline entry was written: a declaration opens the channel; a status,
    severity, role or resolution is posted to it (and its topic, invitations or
    archiving follow)."""
    if entry.kind == TimelineKind.DECLARED:
        if slack.config().connected and not SlackChannel.objects.filter(
                incident_id=incident.pk).exists():
            _open_channel(incident)
        return
    if entry.kind not in FOLLOW_UPS:
        return
    channel = SlackChannel.objects.filter(incident_id=incident.pk,
                                          archived_at__isnull=True).first()
    if channel is not None:
        _queue(channel, (SlackAction.POST, mrkdwn(entry.body)),
               *((action, "") for action in FOLLOW_UPS[entry.kind]))


def update_published(incident, update):
    """A status-page update was published: the channel sees what the public sees."""
    channel = SlackChannel.objects.filter(incident_id=incident.pk,
                                          archived_at__isnull=True).first()
    if channel is not None:
        text = f"*Status page update published* ({update.get_state_display()})"
        if update.subject:
            text += f"\n*{update.subject}*"
        _queue(channel, (SlackAction.POST, f"{text}\n{mrkdwn(update.body)}"))


def _open_channel(incident):
    """Create the channel, set its topic, invite the people, post and pin the declaration."""
    channel = SlackChannel.objects.create(incident=incident,
                                          name=slack_name(incident.channel_name))
    _queue(channel, (SlackAction.CREATE, ""), (SlackAction.TOPIC, ""), (SlackAction.INVITE, ""),
           (SlackAction.POST, None), (SlackAction.PIN, ""))


def _queue(channel, *calls):
    """Store the calls in order (`None` text: the declaration) and wake the sync task
    once the transaction commits."""
    now = timezone.now()
    SlackCall.objects.bulk_create(
        SlackCall(channel=channel, action=action, text=text or "", declaration=text is None,
                  kind="slack", due_at=now, queued_at=now) for action, text in calls)
    enqueue_on_commit(SYNC_TASK, channel.pk)

