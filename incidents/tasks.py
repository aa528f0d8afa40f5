from celery import shared_task

from . import automation, heartbeats, services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def note_sla_breaches():
    """Beat, every minute: write a timeline entry for each newly breached SLA target."""
    return f"noted {services.note_sla_breaches()} SLA breaches"


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def check_heartbeats():
    """Beat, every minute: raise one alert for each heartbeat that missed its ping."""
    return f"raised {heartbeats.check_heartbeats()} missed heartbeats"


@shared_task(acks_late=True)
def run_automations():
    """Beat, every 30 s: automation rules against open alerts (each acts once per alert)."""
    return f"{automation.evaluate()} automation firings"


from . import comms_tasks  # noqa: E402,F401  (communications: sends and cadence)
