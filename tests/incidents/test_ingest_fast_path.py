"""The ingest request path kept short (issue 19 item 2): the token checked and the body
stored in one statement; a request that sees a drain task already on its way answers
"queued" with nothing more; the drain applies a batch in one savepoint (body by body
only when one fails), in order, announcing each incident to its watchers once.

Runs on any database: a drain task "on its way" is its wake flag in the cache, set
here by hand, and the flag is treated as shared by every process, as Redis makes it.
"""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import ingest, tasks
from incidents.ingest import receive, wake
from incidents.models import (
    Alert,
    AlertStatus,
    InboundPayload,
    Incident,
    IntegrationKind,
    PayloadOutcome,
)
from mindweave_ir.live import versions as live
from tests.incidents.test_ingest_queue import am_body, event

pytestmark = pytest.mark.django_db

EVENTS_URL = "/api/v1/events/v2/enqueue"


@pytest.fixture(autouse=True)
def shared_flag(monkeypatch):
    """The wake flag as Redis keeps it: one for every process (here, the cache)."""
    cache.clear()
    monkeypatch.setattr(wake, "shared", lambda: True)
    yield
    cache.clear()


@pytest.fixture
def prometheus():
    return ingest.create_integration(name="Prometheus", kind=IntegrationKind.ALERTMANAGER)


@pytest.fixture
def datadog():
    return ingest.create_integration(name="Datadog", kind=IntegrationKind.EVENTS)


def post_am(client, token, body):
    return client.post(f"/api/v1/integrations/{token}/alertmanager", body,
                       content_type="application/json")


def post_event(client, body):
    return client.post(EVENTS_URL, body, content_type="application/json")


def on_its_way(integration):
    """A drain task has been sent for the integration and has not started yet."""
    assert cache.add(wake.key(integration.pk), 1, timeout=wake.WAKE_TTL)


def flag_set(integration):
    return cache.get(wake.key(integration.pk)) is not None


# --- the request path ---------------------------------------------------------------

def test_with_a_drain_on_its_way_a_request_stores_its_body_in_one_query_and_answers_queued(
        client, prometheus, django_assert_num_queries):
    integration, token = prometheus
    on_its_way(integration)

    with django_assert_num_queries(1):  # the token checked and the body stored at once
        response = post_am(client, token, am_body(("web-1", "firing"), ("web-2", "firing")))

    assert response.status_code == 200
    assert response.json() == {
        "status": "success", "message": "Payload queued",
        "alerts": [{"key": "web-1", "alert": None, "outcome": "queued", "action": "trigger"},
                   {"key": "web-2", "alert": None, "outcome": "queued", "action": "trigger"}]}
    payload = InboundPayload.objects.get()
    assert (payload.integration, payload.outcome) == (integration, PayloadOutcome.RECEIVED)
    assert not Alert.objects.exists()


def test_the_events_api_answers_202_with_the_dedup_key_queued_or_processed(client, datadog):
    integration, token = datadog

    processed = post_event(client, event(token, key="disk-full"))
    on_its_way(integration)
    queued = post_event(client, event(token, key=None))

    assert processed.status_code == queued.status_code == 202
    assert processed.json() == {"status": "success", "message": "Event processed",
                                "dedup_key": "disk-full"}
    generated = queued.json()["dedup_key"]
    assert queued.json() == {"status": "success", "message": "Event accepted",
                             "dedup_key": generated}
    assert len(generated) == 32

    assert tasks.drain_inbound(integration.pk) == "settled 1 inbound payloads"
    assert sorted(Alert.objects.values_list("key", flat=True)) == sorted(
        ["disk-full", generated])


def test_a_request_that_finds_the_lock_free_applies_at_once_and_leaves_no_flag(
        client, prometheus, default_policy):
    integration, token = prometheus

    response = post_am(client, token, am_body(("web-1", "firing")))

    assert response.json()["message"] == "Payload processed"
    assert not flag_set(integration)  # the next request tries the lock too
    assert post_am(client, token, am_body(("web-1", "firing"))).json()["message"] == \
        "Payload processed"
    assert Alert.objects.get().count == 2


def test_a_request_that_finds_the_lock_taken_sends_one_task_for_all_that_follow(
        client, prometheus, monkeypatch, django_capture_on_commit_callbacks):
    integration, token = prometheus
    monkeypatch.setattr(receive, "lock_integration", lambda *args, **kwargs: None)
    sent = []
    monkeypatch.setattr(wake, "send", lambda name, *args: sent.append((name, args)) or True)

    with django_capture_on_commit_callbacks(execute=True):
        first = post_am(client, token, am_body(("web-1", "firing")))
        second = post_am(client, token, am_body(("web-2", "firing")))

    assert first.json()["message"] == second.json()["message"] == "Payload queued"
    assert sent == [("incidents.tasks.drain_inbound", (integration.pk,))]
    assert flag_set(integration)
    assert InboundPayload.objects.filter(outcome=PayloadOutcome.RECEIVED).count() == 2


def test_a_wake_up_that_cannot_be_sent_clears_the_flag(
        client, prometheus, monkeypatch, django_capture_on_commit_callbacks):
    """The broker is down: the next request must try the lock itself, not count on a
    task that never comes (the beat drains what is left meanwhile)."""
    integration, token = prometheus
    monkeypatch.setattr(receive, "lock_integration", lambda *args, **kwargs: None)
    monkeypatch.setattr(wake, "send", lambda *args: False)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_am(client, token, am_body(("web-1", "firing")))

    assert response.json()["message"] == "Payload queued"
    assert not flag_set(integration)


def test_a_regenerated_or_disabled_token_stops_storing_at_once(client, prometheus):
    integration, old = prometheus
    body = am_body(("web-1", "firing"))

    new = ingest.regenerate_token(integration)
    assert post_am(client, old, body).status_code == 404
    integration.refresh_from_db()
    integration.enabled = False
    integration.save()
    assert post_am(client, new, body).status_code == 404

    assert not InboundPayload.objects.exists()


def test_the_stored_body_is_the_one_sent_nul_bytes_replaced(client, prometheus):
    _, token = prometheus
    body = am_body(("web-1", "firing")).replace("checkout web-1", "checkout \u00e9\x00")

    response = post_am(client, token, body)

    assert response.status_code == 400  # a raw control character is no JSON
    stored = InboundPayload.objects.get()
    assert stored.body == body.replace("\x00", "\ufffd")
    assert stored.outcome == PayloadOutcome.REJECTED


# --- the drain: batches in order ----------------------------------------------------

def test_a_trigger_and_its_resolve_queued_together_end_resolved(client, datadog,
                                                                default_policy):
    integration, token = datadog
    on_its_way(integration)
    for action in ("trigger", "acknowledge", "resolve"):
        assert post_event(client, event(token, action)).json()["message"] == "Event accepted"

    assert tasks.drain_inbound(integration.pk) == "settled 3 inbound payloads"

    alert = Alert.objects.get()
    assert alert.status == AlertStatus.RESOLVED
    assert list(InboundPayload.objects.order_by("id").values_list("result", flat=True)) == [
        f"disk-full: new alert #{alert.pk} opened {alert.incident.ref}; "
        "paged Production Incidents",
        f"disk-full: acknowledged alert #{alert.pk}",
        f"disk-full: resolved alert #{alert.pk}"]


def test_a_body_that_fails_in_a_batch_is_marked_failed_and_the_rest_applied_in_order(
        client, datadog, default_policy, monkeypatch):
    integration, token = datadog
    on_its_way(integration)
    for action, key in (("trigger", "disk-full"), ("trigger", "boom"),
                        ("resolve", "disk-full"), ("trigger", "disk-full")):
        post_event(client, event(token, action, key))
    apply = receive._apply

    def refuse_boom(context, message):
        if message.key == "boom":
            raise RuntimeError("refused")
        return apply(context, message)

    monkeypatch.setattr(receive, "_apply", refuse_boom)

    assert tasks.drain_inbound(integration.pk) == "settled 4 inbound payloads"

    outcomes = list(InboundPayload.objects.order_by("id").values_list("outcome", "error"))
    assert outcomes == [(PayloadOutcome.PROCESSED, ""),
                        (PayloadOutcome.FAILED, "RuntimeError: refused"),
                        (PayloadOutcome.PROCESSED, ""), (PayloadOutcome.PROCESSED, "")]
    first, second = Alert.objects.order_by("id")
    assert (first.key, first.status) == ("disk-full", AlertStatus.RESOLVED)
    assert (second.key, second.status) == ("disk-full", AlertStatus.TRIGGERED)
    assert Incident.objects.count() == 1  # the second joined the still-open incident


def test_a_batch_tells_an_incidents_watchers_once(client, prometheus, default_policy,
                                                  django_capture_on_commit_callbacks):
    """30 alerts opening and joining one incident (20 of them noted on its timeline), 5
    repeats: a few live bumps for the batch (the services that open and note gather
    theirs per savepoint), not one per alert."""
    integration, token = prometheus
    on_its_way(integration)
    for n in range(30):
        post_am(client, token, am_body((f"web-{n}", "firing")))
    for n in range(5):
        post_am(client, token, am_body((f"web-{n}", "firing")))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert ingest.drain(integration.pk) == 35

    incident = Incident.objects.get()
    assert Alert.objects.count() == 30
    assert sum(Alert.objects.values_list("count", flat=True)) == 35
    bumps = [c for c in callbacks if "live topics" in repr(c)]
    assert len(bumps) <= 4
    assert live.version(live.incident_key(incident.pk)) == len(bumps)


def test_settling_a_batch_is_one_statement(prometheus):
    integration, _ = prometheus
    for _ in range(50):
        ingest.store_payload(integration, '{"version": "4"')  # none parses: all rejected

    with CaptureQueriesContext(connection) as queries:
        assert ingest.drain(integration.pk) == 50

    table = InboundPayload._meta.db_table
    settling = [q for q in queries.captured_queries if f'UPDATE "{table}"' in q["sql"]]
    assert len(settling) == 1  # ("50 times: UPDATE ...", pipelined, on SQLite)
    assert set(InboundPayload.objects.values_list("outcome", flat=True)) == {
        PayloadOutcome.REJECTED}


def test_a_new_alert_is_inserted_as_save_would_and_a_saved_one_updated(prometheus):
    from datetime import UTC, datetime

    from incidents.ingest.store import insert_new
    from incidents.models import Severity

    integration, _ = prometheus
    when = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    alert = Alert(integration=integration, key="web-1", group_key="g", group_hash="h" * 64,
                  summary="Disk \u00e9", severity=Severity.SEV2, labels={"a": "b", "n": [1]},
                  details={"x": {"y": None}}, started_at=when, created_at=when,
                  last_received_at=when)

    insert_new(alert)

    assert alert.pk is not None and not alert._state.adding
    stored = Alert.objects.get(pk=alert.pk)
    assert (stored.integration, stored.key, stored.summary, stored.labels, stored.details) == (
        integration, "web-1", "Disk \u00e9", {"a": "b", "n": [1]}, {"x": {"y": None}})
    assert (stored.status, stored.count, stored.started_at, stored.incident) == (
        AlertStatus.TRIGGERED, 1, when, None)

    alert.routing = "updated"
    insert_new(alert)  # it has a key now: an UPDATE, no second row
    assert Alert.objects.get().routing == "updated"
