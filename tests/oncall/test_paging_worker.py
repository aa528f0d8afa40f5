"""The paging engine end to end: real Celery workers and broker, a real SMTP server
(aiosmtpd) and a real HTTP receiver, all on 127.0.0.1."""

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.utils import timezone

from incidents import services
from incidents.models import Severity
from mindweave_ir.celery import app
from oncall import paging, tasks
from oncall.models import (
    ContactMethod,
    DeliveryStatus,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    Page,
    PageStatus,
)
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
ROOT = Path(__file__).resolve().parents[2]




@pytest.fixture
def production(ic, responder, receiver):
    ContactMethod.objects.create(user=ic, kind="email", target="ic@example.com")
    ContactMethod.objects.create(user=responder, kind="webhook", target=receiver.url())
    policy = EscalationPolicy.objects.create(name="Production Incidents", is_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5).users.set([ic])
    EscalationLevel.objects.create(policy=policy, position=2, timeout_minutes=10) \
        .users.set([responder])
    return policy


def time_out(page):
    """The level's timeout has passed (the clock is real, so move the deadline)."""
    Page.objects.filter(pk=page.pk).update(next_step_at=timezone.now() - timedelta(seconds=1))


def purge_broker():
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")


def test_declare_pages_level_one_then_timeout_reaches_level_two_then_ack_stops(
        production, ic, smtp_server, receiver):
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        incident = services.declare_incident(title="Checkout down", severity=Severity.SEV1,
                                             by=ic)
        page = Page.objects.get(source=f"incident:{incident.pk}")
        # Fast path: the first notification needs no beat tick.
        assert wait_for(lambda: smtp_server.messages), "level 1 e-mail never arrived"
        rcpt, message = smtp_server.messages[0]
        assert rcpt == ["ic@example.com"]
        assert "Checkout down" in message["Subject"]
        assert "/oncall/ack/" in message.get_body(("plain",)).get_content()

        time_out(page)
        tasks.tick.delay()
        assert wait_for(lambda: receiver.requests), "level 2 webhook never arrived"
        headers, body = receiver.requests[0]["headers"], receiver.requests[0]["body"]
        secret = ContactMethod.objects.get(kind="webhook").secret
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-MindWeave-Signature"] == f"sha256={expected}"
        assert json.loads(body)["subject"].endswith("Checkout down")

        paging.acknowledge_page(page, by=ic)
        time_out(page)
        tasks.tick.delay()
        time.sleep(2)

    assert len(smtp_server.messages) == 1
    assert len(receiver.requests) == 1
    incident.refresh_from_db()
    assert incident.acknowledged_at is not None


def test_escalation_fires_after_worker_dies_and_broker_is_flushed(production, ic, smtp_server,
                                                                   receiver):
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        incident = services.declare_incident(title="DB down", severity=Severity.SEV2, by=ic)
        assert wait_for(lambda: smtp_server.messages)
    # The worker is gone; whatever was in flight is lost with the broker's queue.
    page = Page.objects.get(source=f"incident:{incident.pk}")
    time_out(page)
    purge_broker()

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        tasks.tick.delay()  # what beat sends every few seconds
        assert wait_for(lambda: receiver.requests), "the new worker never escalated"

    page.refresh_from_db()
    assert page.current_level == 2
    assert page.status == PageStatus.TRIGGERED


def _worker_process(name):
    db = connection.settings_dict
    # The receivers are on 127.0.0.1, which only OUTBOUND_ALLOWED_NETWORKS lets through
    # (tests/conftest.py sets it for this process; a worker process reads the env).
    env = {**os.environ, "DEBUG": "true", "MINDWEAVE_ENV_FILE": "",
           "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32,::1/128",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
                           f"{db['PORT'] or 5432}/{db['NAME']}"}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "mindweave_ir", "worker", "--pool=solo",
         "--without-mingle", "--without-gossip", "--loglevel=WARNING", "-n", f"{name}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


@pytest.mark.postgres
def test_two_worker_processes_never_notify_anyone_twice(django_user_model, receiver):
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL: separate worker processes share a Redis broker (CI does)")
    people = [django_user_model.objects.create_user(f"oncall{i}") for i in range(6)]
    for person in people:
        ContactMethod.objects.create(user=person, kind="webhook", target=receiver.url())
    policy = EscalationPolicy.objects.create(name="Everyone")
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5) \
        .users.set(people)

    workers = [_worker_process("w1"), _worker_process("w2")]
    try:
        page = paging.trigger_page(title="Fan-out", dedup_key="fan-out", policy=policy)
        for _ in range(5):  # beat ticks and duplicate wake-ups racing the fast path
            tasks.tick.delay()
        assert wait_for(lambda: Notification.objects.filter(page=page).count() == 6, 30)
        for notification in Notification.objects.filter(page=page):
            tasks.deliver.delay(notification.pk)
            tasks.deliver.delay(notification.pk)
        assert wait_for(lambda: len(receiver.requests) >= 6, 30)
        time.sleep(3)  # let any duplicate arrive
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=20)

    assert len(receiver.requests) == 6
    assert set(Notification.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
