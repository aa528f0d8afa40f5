"""Heartbeat monitors (issue 6 item 5): a job pings its URL; a missed ping is an alert.

1. A ping records `last_ping_at`; if the heartbeat was down, it is up again and its
   alert (key `heartbeat:<id>`) is resolved through the ingest path.
2. The beat (`check_heartbeats`, every minute) takes each up heartbeat whose last
   ping (or creation, before the first) is older than interval + grace, locks it,
   and raises one firing alert through its integration exactly like an inbound one
   (raw body kept, dedup, grouping, silences, paging), then marks it down. A second
   run, or a second beat process, finds it down or locked and does nothing; the
   alert's dedup key backs this up.
The alert's severity is the integration's default severity (no source severity).
"""

import json

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from mindweave_ir.errors import Refused
from oncall.tokens import hash_token, issue_token, reissue_token

from . import ingest
from .models import Heartbeat, HeartbeatState, Integration


class HeartbeatError(Refused):
    """A request about heartbeats the rules refuse (duplicate name, bad interval)."""


def ping_url(token):
    return settings.SITE_URL + reverse("heartbeat-ping", args=[token])


@transaction.atomic
def create_heartbeat(*, name, integration, interval_minutes, grace_minutes=5):
    """Make a heartbeat; returns (heartbeat, token). The token is never stored."""
    name = (name or "").strip()
    if not name or len(name) > Heartbeat._meta.get_field("name").max_length:
        raise HeartbeatError("A heartbeat needs a name of 1 to 100 characters.")
    if Heartbeat.objects.filter(name__iexact=name).exists():
        raise HeartbeatError(f"A heartbeat named {name!r} already exists.")
    if not isinstance(interval_minutes, int) or interval_minutes < 1:
        raise HeartbeatError("The interval is a whole number of minutes, at least 1.")
    if not isinstance(grace_minutes, int) or grace_minutes < 0:
        raise HeartbeatError("The grace period is a whole number of minutes, 0 or more.")
    heartbeat = Heartbeat(name=name, integration=integration,
                          interval_minutes=interval_minutes, grace_minutes=grace_minutes)
    token = issue_token(heartbeat)
    heartbeat.save()
    return heartbeat, token


def regenerate_token(heartbeat):
    """Replace the ping token (the old URL stops working at once); returns the new one."""
    return reissue_token(heartbeat)


def heartbeat_for_token(token):
    """The heartbeat with this ping token, or None (looked up by hash)."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    return Heartbeat.objects.select_related("integration").filter(
        token_hash=hash_token(token)).first()


def _body(heartbeat, event, now):
    return json.dumps({"heartbeat": heartbeat.name, "id": heartbeat.pk, "event": event,
                       "at": now.isoformat(),
                       "last_ping_at": heartbeat.last_ping_at.isoformat()
                       if heartbeat.last_ping_at else None,
                       "interval_minutes": heartbeat.interval_minutes,
                       "grace_minutes": heartbeat.grace_minutes})


@transaction.atomic
def ping(heartbeat):
    """Record a ping; a down heartbeat comes back up and its alert is resolved."""
    heartbeat = Heartbeat.objects.select_for_update().select_related("integration") \
        .get(pk=heartbeat.pk)
    now = timezone.now()
    was_down = heartbeat.state == HeartbeatState.DOWN
    heartbeat.last_ping_at, heartbeat.state = now, HeartbeatState.UP
    heartbeat.save(update_fields=["last_ping_at", "state"])
    if was_down:
        message = ingest.Message(action="resolve", key=heartbeat.alert_key, ended_at=now)
        ingest.raise_internal(heartbeat.integration, [message],
                              _body(heartbeat, "ping after a miss", now))
    return heartbeat


def _missed_message(heartbeat, now):
    labels = {"alertname": "HeartbeatMissed", "heartbeat": heartbeat.name}
    details = {"description": f"No ping for {heartbeat.name} within "
                              f"{heartbeat.interval_minutes} min + "
                              f"{heartbeat.grace_minutes} min grace.",
               "last_ping_at": heartbeat.last_ping_at.isoformat()
               if heartbeat.last_ping_at else "never"}
    return ingest.Message(action="trigger", key=heartbeat.alert_key,
                          group_key=heartbeat.alert_key,
                          summary=f"Heartbeat {heartbeat.name} missed", source="heartbeat",
                          labels=labels, details=details, started_at=heartbeat.due_at())


def check_heartbeats(*, now=None):
    """Beat: raise one alert for each heartbeat newly overdue; returns how many.

    A heartbeat whose integration is disabled raises nothing (as the integration
    accepts nothing); re-enabled, a heartbeat still without a recent ping raises then.
    """
    now = now or timezone.now()
    raised = 0
    for candidate in Heartbeat.objects.filter(state=HeartbeatState.UP,
                                              integration__enabled=True).only(
            "pk", "last_ping_at", "created_at", "interval_minutes", "grace_minutes"):
        if candidate.due_at() >= now:
            continue
        with transaction.atomic():
            heartbeat = (Heartbeat.objects.select_for_update(skip_locked=True)
                         .filter(pk=candidate.pk, state=HeartbeatState.UP).first())
            if heartbeat is None or heartbeat.due_at() >= now:
                continue  # pinged, or taken by another beat, since the first read
            heartbeat.state = HeartbeatState.DOWN
            heartbeat.save(update_fields=["state"])
            integration = Integration.objects.get(pk=heartbeat.integration_id)
            ingest.raise_internal(integration, [_missed_message(heartbeat, now)],
                                  _body(heartbeat, "missed", now))
            raised += 1
    return raised
