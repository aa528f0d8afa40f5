"""A drain task under a storm (issue 19 item 2): it stays while bodies keep coming,
applying what gathered meanwhile in one transaction; it holds the wake flag meanwhile,
so requests answer "queued" without trying the lock; a web process that saw the flag
held trusts that task for wake.TRUST without asking the cache again; and the task's
last read comes after every such trust ran out, so no body it trusted is left behind.

Runs on any database, in one thread: what "arrives while the task waits" is posted
through the real request path from the task's wait (receive._gather) itself.
"""

import pytest
from django.core.cache import cache
from django.test import Client

from incidents import ingest
from incidents.ingest import apply, receive, wake
from incidents.models import Alert, InboundPayload, Incident, IntegrationKind, PayloadOutcome
from tests.incidents.test_ingest_queue import am_body

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def shared_flag(monkeypatch):
    """The wake flag as Redis keeps it: one for every process (here, the cache)."""
    monkeypatch.setattr(wake, "shared", lambda: True)


@pytest.fixture
def long_trust(monkeypatch):
    """TRUST long enough for no trust to run out during a test on a slow machine, and
    the task's wait for it (time.sleep) cut short; the waits are recorded."""
    monkeypatch.setattr(wake, "TRUST", 60.0)
    waits, real_sleep = [], wake.time.sleep

    def sleep(seconds):
        waits.append(seconds)
        real_sleep(min(seconds, 0.01))

    monkeypatch.setattr(receive.time, "sleep", sleep)
    return waits


@pytest.fixture
def prometheus():
    return ingest.create_integration(name="Prometheus", kind=IntegrationKind.ALERTMANAGER)


@pytest.fixture
def batches(monkeypatch):
    """The number of bodies of each transaction a drain applied, in order."""
    sizes = []
    real = receive._apply_batch

    def apply_batch(integration, batch, own):
        sizes.append(len(batch))
        return real(integration, batch, own)

    monkeypatch.setattr(receive, "_apply_batch", apply_batch)
    return sizes


@pytest.fixture
def cache_asked(monkeypatch):
    """How requests asked the cache about the wake flag: "get" (is it set?), "add"
    (claim it)."""
    asked = []
    seen, claim = wake.seen, wake.claim
    monkeypatch.setattr(wake, "seen", lambda pk: asked.append("get") or seen(pk))
    monkeypatch.setattr(wake, "claim", lambda pk: asked.append("add") or claim(pk))
    return asked


def post(token, *keys):
    return Client().post(f"/api/v1/integrations/{token}/alertmanager",
                         am_body(*((key, "firing") for key in keys)),
                         content_type="application/json")


def arrivals(monkeypatch, token, rounds):
    """While the task waits for bodies to gather, post the next round's bodies (one
    request each); the answers are kept. No round left: nothing more arrives."""
    answers, left = [], list(rounds)

    def gather(integration_id, *, until):
        if left:
            answers.extend(post(token, key).json()["message"] for key in left.pop(0))

    monkeypatch.setattr(receive, "_gather", gather)
    return answers


def flag(integration):
    return cache.get(wake.key(integration.pk))


def test_a_task_stays_while_bodies_come_and_applies_each_gathering_in_one_transaction(
        prometheus, default_policy, monkeypatch, batches, cache_asked, long_trust):
    integration, token = prometheus
    for key in ("web-1", "web-2", "web-3"):
        ingest.store_payload(integration, am_body((key, "firing")))
    rounds = [[f"web-{r}-{n}" for n in range(5)] for r in range(3)]
    answers = arrivals(monkeypatch, token, rounds)

    assert receive.drain(integration.pk) == 18

    assert batches == [3, 5, 5, 5]  # each gathering in one transaction, then nothing
    assert answers == ["Payload queued"] * 15  # the task held the flag: nobody tried the lock
    # The first request read the flag (held by a draining task) and trusted the task;
    # the other 14 answered without a round trip.
    assert cache_asked == ["get"]
    assert flag(integration) is None  # given back
    assert long_trust == [wake.TRUST + wake.MARGIN]  # then the last read
    assert not InboundPayload.objects.exclude(outcome=PayloadOutcome.PROCESSED).exists()
    assert Alert.objects.count() == 18
    assert Incident.objects.count() == 1


def test_a_body_trusted_to_the_task_after_it_gave_the_flag_back_is_applied_by_its_last_read(
        prometheus, default_policy, monkeypatch, cache_asked):
    """The race the TRUST wait closes: a process saw the flag held, the task then gives it
    back, and that process stores one more body and answers "queued" on its trust
    without asking the cache. The task's last read comes after the trust ran out."""
    integration, token = prometheus
    ingest.store_payload(integration, am_body(("web-1", "firing")))
    arrivals(monkeypatch, token, [["web-2"]])  # seen held: the process trusts the task
    monkeypatch.setattr(wake, "TRUST", 60.0)  # no trust runs out on a slow machine
    late = []
    real_sleep = wake.time.sleep

    def sleep(seconds):
        if seconds >= wake.TRUST and not late:
            assert flag(integration) is None  # given back before the wait
            late.append(post(token, "web-late").json()["message"])
        real_sleep(min(seconds, 0.01))

    monkeypatch.setattr(receive.time, "sleep", sleep)

    assert receive.drain(integration.pk) == 3

    assert late == ["Payload queued"]
    assert cache_asked == ["get"]  # the late request asked nothing: it trusted
    assert Alert.objects.filter(key="web-late").exists()
    assert not InboundPayload.objects.filter(outcome=PayloadOutcome.RECEIVED).exists()


def test_a_process_trusts_only_a_draining_task_and_only_for_trust_seconds(
        prometheus, cache_asked, long_trust):
    integration, token = prometheus
    key = wake.key(integration.pk)

    cache.set(key, 1, timeout=wake.WAKE_TTL)  # a request's claim: a task on its way
    assert post(token, "web-1").json()["message"] == "Payload queued"
    assert post(token, "web-2").json()["message"] == "Payload queued"
    assert cache_asked == ["get", "get"]  # one read each, and no trust in a claim

    cache.set(key, wake.DRAINING, timeout=wake.WAKE_TTL)
    cache_asked.clear()
    assert post(token, "web-3").json()["message"] == "Payload queued"
    assert post(token, "web-4").json()["message"] == "Payload queued"
    assert cache_asked == ["get"]  # trusted from the first on

    wake._trusted[integration.pk] -= wake.TRUST  # TRUST seconds later
    cache_asked.clear()
    assert post(token, "web-5").json()["message"] == "Payload queued"
    assert cache_asked == ["get"]

    cache.delete(key)  # the task gave it back; TRUST later, a request claims the flag
    wake._trusted[integration.pk] -= wake.TRUST
    cache_asked.clear()
    assert post(token, "web-6").json()["message"] == "Payload processed"  # the lock free
    assert cache_asked == ["get", "add"]


def test_a_request_that_drained_and_then_found_the_lock_taken_sends_no_task(
        prometheus, default_policy, monkeypatch, django_capture_on_commit_callbacks):
    """It gave the flag back once it held the lock; whoever took the lock after it reads
    what is pending and drains or sends a task itself: a second task would only wait."""
    integration, token = prometheus
    ingest.store_payload(integration, am_body(("web-0", "firing")))
    real_lock, calls = receive.lock_integration, []

    def lock_once(integration_id, *, wait):
        calls.append(wait)
        return real_lock(integration_id, wait=wait) if len(calls) == 1 else None

    monkeypatch.setattr(receive, "lock_integration", lock_once)
    monkeypatch.setattr(receive, "BATCH", 1)  # a second turn of the lock after the first
    sent = []
    monkeypatch.setattr(wake, "send", lambda name, *args: sent.append((name, args)) or True)

    with django_capture_on_commit_callbacks(execute=True):
        response = post(token, "web-1")

    assert response.json()["message"] == "Payload queued"  # its own body: the next batch
    assert len(calls) == 2 and sent == []
    assert InboundPayload.objects.filter(outcome=PayloadOutcome.RECEIVED).count() == 1
    monkeypatch.setattr(receive, "lock_integration", real_lock)
    assert receive.drain(integration.pk) == 1  # (here no other drain: the test's own)


def test_the_storm_note_is_written_once_across_batches(prometheus, default_policy,
                                                      monkeypatch):
    """Joining alerts are counted up to JOIN_NOTES + 2 only, batch after batch."""
    integration, _ = prometheus
    monkeypatch.setattr(receive, "_gather", lambda integration_id, *, until: None)
    monkeypatch.setattr(wake, "TRUST", 0)
    for key in range(apply.JOIN_NOTES + 5):
        ingest.store_payload(integration, am_body((f"web-{key}", "firing")))
        ingest.drain(integration.pk)  # a batch each

    incident = Incident.objects.get()
    assert incident.alerts.count() == apply.JOIN_NOTES + 5
    assert incident.timeline.filter(body__startswith="Alert joined").count() == \
        apply.JOIN_NOTES - 1
    assert incident.timeline.filter(body__startswith="More than 20 alerts").count() == 1
