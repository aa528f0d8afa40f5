"""Thin Celery wrappers around reports' reminders. Safe to run twice."""

from celery import shared_task
from django.db import OperationalError

from . import reminders
from .pdf import store


@shared_task(acks_late=True)
def send_reminders():
    """Beat, hourly: the day's action-item and review reminders (each at most once a day)."""
    return f"sent {reminders.send_reminders()} reminder e-mails"


@shared_task(acks_late=True)
def handoff_tick():
    """Beat, every minute: handoff drafts before shifts end, and their reminders."""
    drafts, unacknowledged = reminders.handoff_tick()
    return f"prepare reminders {drafts}, acknowledgement reminders {unacknowledged}"


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True,
             max_retries=3)
def render_review_pdf(pir_id):
    """After a change to the review: render and store its PDF (nothing if current)."""
    return store.refresh(pir_id)
