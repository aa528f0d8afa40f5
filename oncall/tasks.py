"""Thin Celery wrappers around oncall.paging. Each takes ids and is safe to run twice."""

from celery import shared_task

from . import notices, paging

RETRY = {"acks_late": True, "autoretry_for": (Exception,), "retry_backoff": True,
         "max_retries": 5}


@shared_task(**RETRY)
def run_page(page_id):
    """Fast path: the first step right after a page is triggered."""
    return paging.run_page(page_id)


@shared_task(**RETRY)
def deliver(notification_id):
    return paging.deliver(notification_id)


@shared_task(**RETRY)
def deliver_notice(notice_id):
    return notices.deliver(notice_id)


@shared_task(acks_late=True)
def tick():
    """Beat, every few seconds: every due step, notification and notice, from the database."""
    return (f"steps {paging.run_due_pages()}, sent {paging.deliver_due()}, "
            f"notices {notices.deliver_due()}")


@shared_task(acks_late=True)
def audit():
    """Beat, every minute: fire and flag anything overdue."""
    return f"fixed {paging.audit()}"
