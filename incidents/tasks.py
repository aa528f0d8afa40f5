"""The incidents app's Celery tasks: thin wrappers that take ids and call a service or
an engine, each safe to run twice. Beat schedules the periodic ones (settings.py)."""

from celery import shared_task

from . import automation, heartbeats, ingest, services
from .comms import cadence, delivery
from .slack import sync as slack_sync_engine

RETRY = {"acks_late": True, "autoretry_for": (Exception,), "retry_backoff": True,
         "max_retries": 5}
TICK = {**RETRY, "max_retries": 3}


def _also_registered_as(old_name, **options):
    """Register the task under the name it had before issue 15 too, beside its own.

    deliver_update and the comms tick lived in incidents/comms_tasks.py; messages
    already queued under those names (and a beat still running the old schedule)
    must not be refused as unknown tasks by a worker running this code.
    """
    def register(function):
        shared_task(name=old_name, **options)(function)
        return function
    return register


@shared_task(**RETRY)
def note_sla_breaches():
    """Beat, every minute: write a timeline entry for each newly breached SLA target."""
    return f"noted {services.note_sla_breaches()} SLA breaches"


@shared_task(**RETRY)
def check_heartbeats():
    """Beat, every minute: raise one alert for each heartbeat that missed its ping."""
    return f"raised {heartbeats.check_heartbeats()} missed heartbeats"


@shared_task(**RETRY)
def drain_inbound(integration_id):
    """Apply an integration's received alert bodies (enqueued by a request that found its
    lock taken, or by a drain out of time); waits for the lock. Idempotent: a body is
    applied once, under the lock, and nothing pending is a no-op."""
    return f"settled {ingest.drain(integration_id)} inbound payloads"


@shared_task(**RETRY)
def drain_stale_inbound():
    """Beat, every 10 s: drain integrations with bodies pending for more than a few
    seconds (a lost task, a flushed broker): no stored alert is ever left unapplied."""
    return f"settled {ingest.drain_stale()} stale inbound payloads"


@shared_task(**RETRY)
def confirm_sns_subscription(payload_id):
    """Visit a stored SNS SubscriptionConfirmation's SubscribeURL (enqueued when it is
    received). Idempotent: a confirmed one is not sent again; SNS's 4xx fails it for
    good, no answer or a 5xx is retried with backoff."""
    return ingest.confirm_subscription(payload_id)


@shared_task(acks_late=True)
def run_automations():
    """Beat, every 30 s: automation rules against open alerts (each acts once per alert)."""
    return f"{automation.evaluate()} automation firings"


@shared_task(**RETRY)
@_also_registered_as("incidents.comms_tasks.deliver_update", **RETRY)
def deliver_update(update_id):
    """Send an update's due deliveries (each claimed first, so a redelivered task sends
    nothing twice); a transient failure comes back after its backoff, and the beat
    tick is there if this wake-up is lost."""
    delay = delivery.deliver_update(update_id)
    if delay:
        deliver_update.apply_async((update_id,), countdown=delay)
    return f"update {update_id}: " + (f"retry in {delay}s" if delay else "done")


@shared_task(**TICK)
@_also_registered_as("incidents.comms_tasks.tick", **TICK)
def comms_tick():
    """Beat, every minute: send due or retried deliveries; remind overdue updates (§5.3)."""
    sent = delivery.deliver_due()
    overdue = cadence.remind_overdue()
    return f"sent {sent}, {overdue} incident(s) overdue for an update"


@shared_task(**RETRY)
def slack_sync(channel_id):
    """Make an incident channel's due Slack calls in order (each claimed first, so a
    redelivered task makes none twice); comes back when the next is due (a backoff,
    or the Retry-After of a 429). The beat tick is there if this wake-up is lost."""
    delay = slack_sync_engine.run(channel_id)
    if delay:
        slack_sync.apply_async((channel_id,), countdown=delay)
    return f"slack channel {channel_id}: " + (f"next in {delay}s" if delay else "done")


@shared_task(**TICK)
def slack_tick():
    """Beat, every 30 s: make the Slack calls whose wake-up was lost or whose retry is due."""
    channels = slack_sync_engine.due_channels()
    for channel_id in channels:
        slack_sync_engine.run(channel_id)
    return f"{len(channels)} slack channel(s) with due calls"
