"""Thin Celery wrappers around oncall's engines. Each takes ids and is safe to run twice.

Escalation steps and page notifications are not Celery's: the paging engine
(oncall/engine.py, `manage.py run_paging_engine`) runs them from the database, so a
broker outage or a busy worker never delays a page. `run_page` and `deliver` stay
registered only so messages queued before that change still run (claims make a late
run harmless); nothing enqueues them any more.
"""

from celery import shared_task

from . import engine, metrics, notices, paging

RETRY = {"acks_late": True, "autoretry_for": (Exception,), "retry_backoff": True,
         "max_retries": 5}


@shared_task(**RETRY)
def run_page(page_id):
    return paging.run_page(page_id)


@shared_task(**RETRY)
def deliver(notification_id):
    return paging.deliver(notification_id)


@shared_task(**RETRY)
def deliver_notice(notice_id):
    return notices.deliver(notice_id)


@shared_task(acks_late=True)
def tick():
    """Beat, every few seconds: notices whose wake-up was lost or whose retry is due."""
    return f"notices {notices.deliver_due()}"


@shared_task(acks_late=True)
def audit():
    """Beat, every minute: fire and flag anything overdue; say if no engine is running."""
    running = "" if engine.check_running() else ", no paging engine running"
    return f"fixed {paging.audit()}{running}"


@shared_task(acks_late=True)
def beat_heartbeat():
    """Beat, every 15 s: note that beat and a worker run (/metrics shows when, last)."""
    metrics.note_beat()
    return "noted"
