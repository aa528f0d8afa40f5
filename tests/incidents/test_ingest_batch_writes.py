"""A drained batch writes its new alerts in one statement and its repeats in one more
(PostgreSQL; ingest/apply.py's Batch), yet applies every message as if one by one:
duplicates inside the batch and across batches fold, resolves and acknowledgements
land after what came before them, ids follow the order of arrival, and each body's
answer names the alert it made or folded into. On SQLite each row is written at once,
as before: the same assertions hold, with one statement per new alert."""

import json
import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import ingest
from incidents.ingest import receive
from incidents.models import (
    Alert,
    AlertStatus,
    InboundPayload,
    Incident,
    IntegrationKind,
    PayloadOutcome,
    TimelineEntry,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
GROUP = '{}:{alertname="Storm"}'


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture(autouse=True)
def no_wake_flags():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def prometheus():
    return ingest.create_integration(name="Prometheus", kind=IntegrationKind.ALERTMANAGER)


def am(*fingerprints, status="firing"):
    return json.dumps({
        "version": "4", "groupKey": GROUP, "status": status, "receiver": "mw",
        "alerts": [{"status": status, "labels": {"alertname": "Storm", "fp": fp},
                    "annotations": {"summary": f"storm {fp}"},
                    "startsAt": "2026-11-27T10:00:00Z",
                    "endsAt": "2026-11-27T10:05:00Z" if status == "resolved"
                    else "0001-01-01T00:00:00Z", "fingerprint": fp}
                   for fp in fingerprints]}).encode()


def store(token, *bodies, kind=IntegrationKind.ALERTMANAGER):
    """Store bodies as requests do, without applying them (a drain is on its way)."""
    return [ingest.store_for_token(token, kind, body).pk for body in bodies]


def alert_inserts(queries):
    table = Alert._meta.db_table
    return [q for q in queries if q["sql"].startswith(f'INSERT INTO "{table}"')]


def results(pks):
    return {p.pk: p.result for p in InboundPayload.objects.filter(pk__in=pks)}


def test_a_batch_of_new_alerts_is_one_insert_and_folds_inside_and_across_batches(
        prometheus):
    integration, token = prometheus
    # Batch 1: ten new alerts, the third repeated twice inside the batch.
    first = store(token, *(am(f"a{n}") for n in range(10)), am("a3"), am("a3", "a5"))
    with CaptureQueriesContext(connection) as queries:
        assert ingest.drain(integration.pk) == 12

    inserts = alert_inserts(queries.captured_queries)
    assert len(inserts) == (1 if connection.vendor == "postgresql" else 10)
    alerts = list(Alert.objects.filter(integration=integration).order_by("id"))
    assert [a.key for a in alerts] == [f"a{n}" for n in range(10)]  # ids in arrival order
    assert {a.key: a.count for a in alerts} == {f"a{n}": {3: 3, 5: 2}.get(n, 1)
                                               for n in range(10)}
    assert Incident.objects.count() == 1
    assert {a.incident_id for a in alerts} == {Incident.objects.get().pk}
    by_key = {a.key: a.pk for a in alerts}
    answered = results(first)
    for n, pk in enumerate(first[:10]):
        assert re.search(rf"^a{n}: new alert #{by_key[f'a{n}']} ", answered[pk])
    assert answered[first[10]] == f"a3: folded into existing alert #{by_key['a3']}; no new page"
    assert answered[first[11]].split("\n")[1] == \
        f"a5: folded into existing alert #{by_key['a5']}; no new page"

    # Batch 2: repeats of batch 1's alerts (counted in one UPDATE) and new ones.
    second = store(token, am("a0"), am("b0"), am("a0", "b0"), am("a9"))
    with CaptureQueriesContext(connection) as queries:
        assert ingest.drain(integration.pk) == 4

    assert len(alert_inserts(queries.captured_queries)) == 1
    alerts = {a.key: a for a in Alert.objects.filter(integration=integration)}
    assert len(alerts) == 11
    assert (alerts["a0"].count, alerts["b0"].count, alerts["a9"].count) == (3, 2, 2)
    assert alerts["b0"].pk > max(a.pk for k, a in alerts.items() if k != "b0")
    assert alerts["a0"].last_received_at >= alerts["b0"].created_at
    assert results(second)[second[1]].startswith(f"b0: new alert #{alerts['b0'].pk} ")
    assert not InboundPayload.objects.exclude(outcome=PayloadOutcome.PROCESSED).exists()


def test_order_is_kept_when_a_batch_resolves_and_retriggers_what_it_made(prometheus):
    integration, token = prometheus
    pks = store(token, am("x"), am("x"), am("x", status="resolved"), am("x"), am("y"),
                am("x"))

    with CaptureQueriesContext(connection) as queries:
        assert ingest.drain(integration.pk) == 6

    # x's INSERT before its resolve, then the new x and y's (no body-by-body retry).
    inserts = alert_inserts(queries.captured_queries)
    assert len(inserts) == (2 if connection.vendor == "postgresql" else 3)
    first, second = Alert.objects.filter(key="x").order_by("id")
    assert (first.status, first.count, first.resolved_at is not None) == \
        (AlertStatus.RESOLVED, 2, True)
    assert (second.status, second.count) == (AlertStatus.TRIGGERED, 2)
    assert Alert.objects.get(key="y").pk > second.pk
    answered = results(pks)
    assert answered[pks[2]] == f"x: resolved alert #{first.pk}"
    assert answered[pks[3]].startswith(f"x: new alert #{second.pk} ")
    assert answered[pks[5]] == f"x: folded into existing alert #{second.pk}; no new page"
    # The resolve was noted on the incident after the alerts that joined before it.
    notes = list(TimelineEntry.objects.filter(incident=first.incident)
                 .order_by("id").values_list("body", flat=True))
    assert any("Alert resolved at its source" in n for n in notes)


def test_an_acknowledge_after_repeats_in_the_same_batch_sees_them(db):
    integration, token = ingest.create_integration(name="Datadog",
                                                   kind=IntegrationKind.EVENTS)

    def event(action):
        return json.dumps({"routing_key": token, "event_action": action,
                           "dedup_key": "db-down",
                           "payload": {"summary": "db down", "source": "db",
                                       "severity": "critical"}}).encode()

    store(token, event("trigger"), kind=IntegrationKind.EVENTS)
    ingest.drain(integration.pk)
    pks = store(token, event("trigger"), event("trigger"), event("acknowledge"),
                kind=IntegrationKind.EVENTS)

    assert ingest.drain(integration.pk) == 3

    alert = Alert.objects.get()
    assert (alert.count, alert.status) == (3, AlertStatus.ACKNOWLEDGED)
    # The repeats were written before the acknowledgement, not over it afterwards.
    assert alert.last_received_at == alert.acknowledged_at
    assert results(pks)[pks[2]] == f"db-down: acknowledged alert #{alert.pk}"

    pks = store(token, event("trigger"), event("trigger"), kind=IntegrationKind.EVENTS)
    assert ingest.drain(integration.pk) == 2
    alert.refresh_from_db()
    assert alert.count == 5 and alert.last_received_at > alert.acknowledged_at


def test_a_failing_body_undoes_only_its_own_alerts(prometheus, monkeypatch):
    integration, token = prometheus
    real = receive._apply

    def apply(context, message):
        if message.key == "bad":
            raise RuntimeError("boom")
        return real(context, message)

    monkeypatch.setattr(receive, "_apply", apply)
    pks = store(token, am("a"), am("b"), am("c", "bad"), am("a"), am("d"))

    assert ingest.drain(integration.pk) == 5

    alerts = {a.key: a for a in Alert.objects.all()}
    assert sorted(alerts) == ["a", "b", "d"]  # c went with its body
    assert alerts["a"].count == 2
    outcomes = {p.pk: p.outcome for p in InboundPayload.objects.all()}
    assert [outcomes[pk] for pk in pks] == [PayloadOutcome.PROCESSED] * 2 + \
        [PayloadOutcome.FAILED] + [PayloadOutcome.PROCESSED] * 2
    assert results(pks)[pks[4]].startswith(f"d: new alert #{alerts['d'].pk} ")
