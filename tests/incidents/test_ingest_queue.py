"""The combining lock in front of alert ingestion (ingest rule 2): a request applies
every pending body of its integration when the lock is free, answers "queued" at once
when it is not, and a task or the beat drains what is left; nothing is lost, nothing
applied twice, and an integration's bodies are applied in the order they were stored.

The first tests need no contention and run on any database. The rest hold the lock
from another connection (a real thread) and so only say something on PostgreSQL,
where the conftest runs them (CI) and elsewhere skips them with the reason.
"""

import json
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from celery.signals import before_task_publish
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client

from incidents import ingest, tasks
from incidents.ingest import wake
from incidents.models import (
    Alert,
    AlertStatus,
    InboundPayload,
    Incident,
    Integration,
    IntegrationKind,
    PayloadOutcome,
)
from oncall.models import Page
from tests.incidents.test_concurrency import run_at_once

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
THREADS = 8


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def no_wake_flags():
    """Drain wake-up flags live in the cache (Redis under CI), which outlives a test
    database whose integration ids start again at 1."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def prometheus(db):
    return ingest.create_integration(name="Prometheus", kind=IntegrationKind.ALERTMANAGER)


@pytest.fixture
def datadog(db):
    return ingest.create_integration(name="Datadog", kind=IntegrationKind.EVENTS)


@pytest.fixture
def published():
    """The tasks sent to the broker during the test: [(task name, args)]."""
    sent = []

    def record(sender=None, body=None, **kwargs):
        sent.append((sender, list(body[0])))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)


def am_body(*alerts, status="firing", group="checkout"):
    """An Alertmanager body; each alert is (fingerprint, status)."""
    return json.dumps({
        "version": "4", "groupKey": f'{{}}:{{alertname="{group}"}}', "status": status,
        "receiver": "mindweave", "groupLabels": {"alertname": group},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
        "alerts": [{"status": state, "labels": {"alertname": group, "instance": key},
                    "annotations": {"summary": f"{group} {key}"},
                    "startsAt": "2026-11-27T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": key} for key, state in alerts],
    })


def event(token, action="trigger", key="disk-full"):
    body = {"routing_key": token, "event_action": action,
            "payload": {"summary": "Disk full", "source": "db1", "severity": "critical"}}
    if key is not None:
        body["dedup_key"] = key
    return json.dumps(body)


def post_am(token, body):
    return Client().post(f"/api/v1/integrations/{token}/alertmanager", body,
                         content_type="application/json")


def post_event(body):
    return Client().post("/api/v1/events/v2/enqueue", body, content_type="application/json")


# --- no contention: any database ----------------------------------------------------

@pytest.mark.django_db
def test_a_request_applies_bodies_left_pending_before_its_own_in_order(prometheus, default_policy):
    integration, token = prometheus
    # Stored by a request that was answered "queued" and whose task has not run yet.
    left = ingest.store_payload(integration, am_body(("web-1", "firing")))

    response = post_am(token, am_body(("web-1", "resolved"), status="resolved"))

    assert response.status_code == 200
    assert response.json()["message"] == "Payload processed"
    [result] = response.json()["alerts"]
    alert = Alert.objects.get()
    assert result["outcome"] == f"resolved alert #{alert.pk}"
    assert alert.status == AlertStatus.RESOLVED
    left.refresh_from_db()
    assert left.outcome == PayloadOutcome.PROCESSED
    assert left.result == f"web-1: new alert #{alert.pk} opened {alert.incident.ref}; " \
                          "paged Production Incidents"
    assert not InboundPayload.objects.filter(outcome=PayloadOutcome.RECEIVED).exists()


@pytest.mark.django_db
def test_the_beat_drains_bodies_left_pending_and_leaves_fresh_ones_to_their_request(
        prometheus, datadog, default_policy, clock):
    integration, _ = prometheus
    stale = ingest.store_payload(integration, am_body(("web-1", "firing"), ("web-2", "firing")))
    clock.shift(timedelta(seconds=30))
    fresh = ingest.store_payload(datadog[0], event(datadog[1]))

    assert tasks.drain_stale_inbound() == "settled 1 stale inbound payloads"

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.outcome == PayloadOutcome.PROCESSED
    assert fresh.outcome == PayloadOutcome.RECEIVED
    assert sorted(Alert.objects.values_list("key", flat=True)) == ["web-1", "web-2"]
    assert Incident.objects.count() == 1
    assert tasks.drain_stale_inbound() == "settled 0 stale inbound payloads"


@pytest.mark.django_db
def test_a_pending_body_that_no_longer_parses_is_rejected_not_lost(prometheus):
    integration, _ = prometheus
    broken = ingest.store_payload(integration, '{"version": "4"')  # its request died

    assert tasks.drain_inbound(integration.pk) == "settled 1 inbound payloads"

    broken.refresh_from_db()
    assert broken.outcome == PayloadOutcome.REJECTED
    assert "not valid JSON" in broken.error


@pytest.mark.django_db
def test_draining_delivered_twice_applies_each_body_once(prometheus, default_policy):
    integration, _ = prometheus
    ingest.store_payload(integration, am_body(("web-1", "firing")))

    assert tasks.drain_inbound(integration.pk) == "settled 1 inbound payloads"
    assert tasks.drain_inbound(integration.pk) == "settled 0 inbound payloads"

    assert Alert.objects.get().count == 1


@pytest.mark.django_db
def test_draining_costs_about_one_query_per_new_alert(prometheus, default_policy,
                                                      django_assert_max_num_queries):
    """20 bodies of 10 new alerts of one group: one incident opened, 199 joining it
    (20 of them noted on the timeline), 20 folds; the batch reads silences, open
    alerts and the group once, and settles the bodies in one UPDATE."""
    integration, _ = prometheus
    for body in range(20):
        ingest.store_payload(integration, am_body(
            *((f"web-{body}-{n}", "firing") for n in range(10))))
    ingest.store_payload(integration, am_body(*((f"web-0-{n}", "firing") for n in range(10))))

    # 200 inserts + 10 folds + 21 savepoint pairs + 21 notes + opening the incident
    # (~30) + ~10 for the batch itself: well under two queries an alert.
    with django_assert_max_num_queries(320):
        assert ingest.drain(integration.pk) == 21

    assert Alert.objects.count() == 200
    assert sum(Alert.objects.values_list("count", flat=True)) == 210
    incident = Incident.objects.get()
    assert incident.timeline.filter(body__startswith="Alert joined").count() == 19
    assert incident.timeline.filter(body__startswith="More than 20 alerts").count() == 1


# --- contention: PostgreSQL ---------------------------------------------------------

@contextmanager
def lock_held(integration):
    """Another connection holds the integration's lock (as a drain does) until the
    block ends."""
    ready, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Integration.objects.select_for_update(no_key=True).get(pk=integration.pk)
                ready.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert ready.wait(timeout=10)
    try:
        yield
    finally:
        release.set()
        holder.join(timeout=30)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_request_finding_the_lock_taken_answers_queued_at_once_and_the_task_applies_it(
        prometheus, default_policy, published):
    integration, token = prometheus

    with lock_held(integration):
        started = time.monotonic()
        response = post_am(token, am_body(("web-1", "firing"), ("web-2", "firing")))
        elapsed = time.monotonic() - started
        payload = InboundPayload.objects.get()
        assert payload.outcome == PayloadOutcome.RECEIVED
        assert not Alert.objects.exists()

    assert elapsed < 5  # it did not wait for the lock (held up to 30 s)
    assert response.status_code == 200
    assert response.json() == {
        "status": "success", "message": "Payload queued",
        "alerts": [{"key": "web-1", "alert": None, "outcome": "queued", "action": "trigger"},
                   {"key": "web-2", "alert": None, "outcome": "queued", "action": "trigger"}]}
    assert published == [("incidents.tasks.drain_inbound", [integration.pk])]

    assert tasks.drain_inbound(integration.pk) == "settled 1 inbound payloads"

    payload.refresh_from_db()
    assert payload.outcome == PayloadOutcome.PROCESSED
    first, second = Alert.objects.order_by("id")
    assert first.incident == second.incident == Incident.objects.get()
    assert payload.result.splitlines() == [
        f"web-1: new alert #{first.pk} opened {first.incident.ref}; paged Production Incidents",
        f"web-2: new alert #{second.pk} joined {first.incident.ref}"]
    assert Page.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_queued_event_without_dedup_key_gets_the_key_it_was_answered_with(
        datadog, default_policy, published):
    integration, token = datadog

    with lock_held(integration):
        response = post_event(event(token, key=None))

    assert response.status_code == 202
    assert response.json()["message"] == "Event accepted"
    key = response.json()["dedup_key"]
    assert len(key) == 32
    tasks.drain_inbound(integration.pk)
    assert Alert.objects.get().key == key


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_trigger_queued_behind_the_lock_is_applied_before_a_later_resolve(
        datadog, default_policy, published):
    integration, token = datadog

    with lock_held(integration):
        queued = post_event(event(token, "trigger"))
    # Its task was lost and the wake flag expired: the next request tries the lock (a
    # flag still set would have it answer "queued" and leave both to the task).
    cache.delete(wake.key(integration.pk))
    resolved = post_event(event(token, "resolve"))

    assert queued.json()["message"] == "Event accepted"
    assert resolved.json()["message"] == "Event processed"
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.incident.timeline.filter(body__startswith="Alert resolved").count() == 1
    assert list(InboundPayload.objects.order_by("id").values_list("result", flat=True)) == [
        f"disk-full: new alert #{alert.pk} opened {alert.incident.ref}; "
        "paged Production Incidents",
        f"disk-full: resolved alert #{alert.pk}"]


@pytest.fixture
def poisoned_key():
    """A database trigger that refuses alerts keyed `poison`: an unexpected error in
    the middle of a batch, raised by the database as a real failure would be."""
    with connection.cursor() as cursor:
        cursor.execute("""
            CREATE FUNCTION ingest_test_poison() RETURNS trigger AS $$
            BEGIN
                IF NEW.key = 'poison' THEN
                    RAISE EXCEPTION 'poisoned alert refused by the database';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql""")
        cursor.execute("CREATE TRIGGER ingest_test_poison BEFORE INSERT ON incidents_alert "
                       "FOR EACH ROW EXECUTE FUNCTION ingest_test_poison()")
    yield "poison"
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS ingest_test_poison ON incidents_alert")
        cursor.execute("DROP FUNCTION IF EXISTS ingest_test_poison()")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_body_that_raises_mid_batch_is_marked_failed_and_the_others_are_applied(
        datadog, default_policy, published, poisoned_key):
    integration, token = datadog
    with lock_held(integration):
        for key in ("before", poisoned_key, "after"):
            assert post_event(event(token, key=key)).json()["message"] == "Event accepted"

    assert tasks.drain_inbound(integration.pk) == "settled 3 inbound payloads"

    before, poisoned, after = InboundPayload.objects.order_by("id")
    assert (before.outcome, poisoned.outcome, after.outcome) == (
        PayloadOutcome.PROCESSED, PayloadOutcome.FAILED, PayloadOutcome.PROCESSED)
    assert "poisoned alert refused by the database" in poisoned.error
    assert sorted(Alert.objects.values_list("key", flat=True)) == ["after", "before"]
    assert Incident.objects.count() == 2  # each dedup_key is its own group
    assert Page.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_own_body_failing_answers_500_and_is_kept_failed(datadog, default_policy, poisoned_key):
    _, token = datadog

    response = post_event(event(token, key=poisoned_key))

    assert response.status_code == 500
    payload = InboundPayload.objects.get()
    assert payload.outcome == PayloadOutcome.FAILED
    assert "poisoned alert refused by the database" in payload.error


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_storm_leaves_one_alert_one_incident_and_nothing_pending(prometheus, default_policy,
                                                                   published):
    integration, token = prometheus
    body = am_body(("web-1", "firing"))

    statuses, errors = run_at_once(
        [lambda: post_am(token, body).status_code] * THREADS)
    tasks.drain_inbound(integration.pk)  # what the worker does for the queued ones

    assert errors == [None] * THREADS
    assert statuses == [200] * THREADS
    assert Alert.objects.get().count == THREADS
    assert Incident.objects.count() == 1
    assert Page.objects.count() == 1
    assert not InboundPayload.objects.exclude(outcome=PayloadOutcome.PROCESSED).exists()
    queued = [args for name, args in published if name == "incidents.tasks.drain_inbound"]
    assert all(args == [integration.pk] for args in queued)
