"""Celery tasks for communications: thin wrappers around comms.py."""

from celery import shared_task

from . import comms


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def deliver_update(update_id):
    """Send an update's due deliveries (each claimed first, so a redelivered task sends
    nothing twice); a transient failure comes back after its backoff, and the beat
    tick is there if this wake-up is lost."""
    delay = comms.deliver_update(update_id)
    if delay:
        deliver_update.apply_async((update_id,), countdown=delay)
    return f"update {update_id}: " + (f"retry in {delay}s" if delay else "done")


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=3)
def tick():
    """Beat, every minute: send due or retried deliveries; remind overdue updates (§5.3)."""
    sent = comms.deliver_due()
    overdue = comms.remind_overdue()
    return f"sent {sent}, {overdue} incident(s) overdue for an update"
