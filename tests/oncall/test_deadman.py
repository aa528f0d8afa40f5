"""The dead-man's switch (oncall/deadman.py): the real paging engine loop, in a thread
and as `manage.py run_paging_engine`, pings a real HTTP receiver on 127.0.0.1 while it
is healthy, and stops when the engine stops, its database fails or escalation is late.
Intervals are shortened through DEADMAN_INTERVAL so each test takes seconds."""

import json
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.db.utils import OperationalError
from django.utils import timezone

from oncall import paging
from oncall.models import Page
from tests.oncall.conftest import Receiver
from tests.oncall.test_paging_engine import _engine_process, policy, running, trigger, webhook
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
INTERVAL = 0.2  # seconds between pings in these tests (60 in production)


@pytest.fixture
def deadman(settings, receiver):
    """DEADMAN_URL pointed at the receiver; returns the pings it got (path /ping)."""
    settings.DEADMAN_URL = receiver.url("/ping")
    settings.DEADMAN_INTERVAL = INTERVAL
    settings.DEADMAN_TIMEOUT = 2

    def pings():
        return [r for r in list(receiver.requests) if r["path"] == "/ping"]
    return pings


def quiet_for(pings, seconds):
    """No new ping arrives for `seconds`."""
    before = len(pings())
    time.sleep(seconds)
    return len(pings()) == before


def test_a_healthy_engine_pings_every_interval_and_stops_when_stopped(deadman):
    with running(interval=0.05) as engine:
        assert wait_for(lambda: len(deadman()) >= 3, 10)
        first = deadman()[0]
        assert engine.deadman.last_outcome == "HTTP 200 OK"
    stopped_at = time.time()
    assert quiet_for(deadman, 10 * INTERVAL)
    assert all(ping["at"] <= stopped_at + 1 for ping in deadman())
    alert = json.loads(first["body"])[0]  # an Alertmanager v2 alert list
    assert alert["labels"] == {"alertname": "MindWeaveIRPagerAlive", "service": "mindweave-ir",
                               "engine": engine.name}
    assert first["headers"]["Content-Type"] == "application/json"
    times = [ping["at"] for ping in deadman()]
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= INTERVAL * 0.8


def test_stopping_the_engine_process_stops_the_pings(settings, receiver):
    """`manage.py run_paging_engine` with DEADMAN_URL from the environment (1 s, the
    shortest the setting takes), then SIGTERM: the pings stop at once."""
    process = _engine_process({"DEADMAN_URL": receiver.url("/ping"), "DEADMAN_INTERVAL": "1"})
    try:
        assert wait_for(lambda: len(receiver.requests) >= 2, 60)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
    count = len(receiver.requests)
    time.sleep(3)
    assert len(receiver.requests) == count
    assert {r["path"] for r in receiver.requests} == {"/ping"}


def test_an_overdue_escalation_step_stops_the_pings_until_it_runs(deadman, ic, receiver,
                                                                  monkeypatch):
    webhook(ic, receiver)
    real, stuck = paging.run_page, threading.Event()
    stuck.set()

    def broken(page_id, **kwargs):
        if stuck.is_set():
            raise RuntimeError("this page's step cannot run")
        return real(page_id, **kwargs)

    monkeypatch.setattr(paging, "run_page", broken)
    with running(interval=0.05):
        assert wait_for(lambda: len(deadman()) >= 2, 10)
        page = trigger(policy(([ic], 5)), "overdue")
        Page.objects.filter(pk=page.pk).update(
            next_step_at=timezone.now() - timedelta(seconds=61))
        time.sleep(3 * INTERVAL)  # a ping already on its way may still land
        assert quiet_for(deadman, 10 * INTERVAL)
        stuck.clear()  # the step runs, late; the person is paged; pings resume
        assert wait_for(lambda: any(r["path"] == f"/{ic.username}"
                                    for r in receiver.requests), 10)
        before = len(deadman())
        assert wait_for(lambda: len(deadman()) > before, 10)


def test_a_step_due_less_than_a_minute_ago_does_not_stop_the_pings(deadman, ic, receiver,
                                                                   monkeypatch):
    monkeypatch.setattr(paging, "run_page", lambda page_id, **kwargs: "not due")
    with running(interval=0.05):
        page = trigger(policy(([ic], 5)), "recent")
        Page.objects.filter(pk=page.pk).update(
            next_step_at=timezone.now() - timedelta(seconds=30))
        before = len(deadman())
        assert wait_for(lambda: len(deadman()) >= before + 3, 10)


def test_database_errors_stop_the_pings(deadman, monkeypatch):
    failing = threading.Event()
    real = paging.due_page_ids

    def flaky(now):
        if failing.is_set():
            raise OperationalError("server closed the connection unexpectedly")
        return real(now)

    monkeypatch.setattr(paging, "due_page_ids", flaky)
    with running(interval=0.05):
        assert wait_for(lambda: len(deadman()) >= 2, 10)
        failing.set()
        time.sleep(3 * INTERVAL)
        assert quiet_for(deadman, 10 * INTERVAL)
        failing.clear()
        before = len(deadman())
        assert wait_for(lambda: len(deadman()) > before, 15)


def test_a_hanging_receiver_never_delays_a_page_and_pings_do_not_pile_up(
        settings, ic, receiver):
    hanging = Receiver()
    threading.Thread(target=hanging.serve_forever, args=(0.02,), daemon=True).start()
    hanging.answer(200, delay=30)
    settings.DEADMAN_URL = hanging.url("/ping")
    settings.DEADMAN_INTERVAL = INTERVAL
    settings.DEADMAN_TIMEOUT = 3
    webhook(ic, receiver)
    try:
        with running(interval=0.05):
            assert wait_for(lambda: hanging.requests, 10)
            started = time.monotonic()
            trigger(policy(([ic], 5)), "while-hanging")
            assert wait_for(lambda: receiver.requests, 10)
            assert time.monotonic() - started < 2  # DESIGN.md: first page <= 2 s
            time.sleep(10 * INTERVAL)
            assert len(hanging.requests) == 1  # one in flight at a time, until its timeout
    finally:
        hanging.release.set()
        hanging.shutdown()
        hanging.server_close()


def test_pings_follow_the_outbound_rules(settings, receiver):
    """Without OUTBOUND_ALLOWED_NETWORKS a receiver on 127.0.0.1 is an internal address:
    refused, like any webhook, and the engine carries on."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.DEADMAN_URL = receiver.url("/ping")
    settings.DEADMAN_INTERVAL = INTERVAL
    with running(interval=0.05) as engine:
        assert wait_for(lambda: engine.deadman.last_outcome.startswith("not delivered"), 10)
        assert "loopback" in engine.deadman.last_outcome
        time.sleep(3 * INTERVAL)
    assert not receiver.requests


def test_no_url_no_pings(settings, receiver):
    settings.DEADMAN_URL = ""
    with running(interval=0.05) as engine:
        assert engine.deadman.after_loop() == "off"
        time.sleep(5 * INTERVAL)
    assert not receiver.requests
