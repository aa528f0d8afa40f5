from celery import shared_task

from . import automation, heartbeats, ingest, services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def note_sla_breaches():
    """Beat, every minute: write a timeline entry for each newly breached SLA target."""
    return f"noted {services.note_sla_breaches()} SLA breaches"


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def check_heartbeats():
    """Beat, every minute: raise one alert for each heartbeat that missed its ping."""
    return f"raised {heartbeats.check_heartbeats()} missed heartbeats"


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def drain_inbound(integration_id):
    """Apply an integration's received alert bodies (enqueued by a request that found its
    lock taken, or by a drain out of time); waits for the lock. Idempotent: a body is
    applied once, under the lock, and nothing pending is a no-op."""
    return f"settled {ingest.drain(integration_id)} inbound payloads"


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def drain_stale_inbound():
    """Beat, every 10 s: drain integrations with bodies pending for more than a few
    seconds (a lost task, a flushed broker): no stored alert is ever left unapplied."""
    return f"settled {ingest.drain_stale()} stale inbound payloads"


@shared_task(acks_late=True)
def run_automations():
    """Beat, every 30 s: automation rules against open alerts (each acts once per alert)."""
    return f"{automation.evaluate()} automation firings"


from . import comms_tasks  # noqa: E402,F401  (communications: sends and cadence)
