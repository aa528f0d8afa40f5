from celery import shared_task

from . import services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def note_sla_breaches():
    """Beat, every minute: write a timeline entry for each newly breached SLA target."""
    return f"noted {services.note_sla_breaches()} SLA breaches"


from . import comms_tasks  # noqa: E402,F401  (communications: sends and cadence)
