"""Alert storms on PostgreSQL: identical alerts posted at once make one alert and one
incident (DESIGN.md reliability rules; issue 6 "bad input and abuse").

Real threads, each with its own connection and its own test client, released
together (the pattern of test_concurrency.py); the conftest skips these off PostgreSQL.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.test import Client

from incidents import ingest, tasks
from incidents.models import Alert, InboundPayload, Incident, IntegrationKind, PayloadOutcome
from oncall.models import EscalationLevel, EscalationPolicy, Page
from tests.incidents.test_concurrency import run_at_once

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

THREADS = 8
ROUNDS = 5
FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def policy(ic):
    policy = EscalationPolicy.objects.create(name="Production Incidents", is_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5).users.set([ic])
    return policy


def post(url, body):
    return lambda: Client().post(url, body, content_type="application/json").status_code


def test_a_storm_of_one_event_makes_one_alert_one_incident_one_page(policy):
    integration, token = ingest.create_integration(name="Datadog", kind=IntegrationKind.EVENTS)
    for round_no in range(ROUNDS):
        body = json.dumps({"routing_key": token, "event_action": "trigger",
                           "dedup_key": f"disk-full-{round_no}",
                           "payload": {"summary": f"Disk full {round_no}", "source": "db1",
                                       "severity": "critical"}})

        statuses, errors = run_at_once([post("/api/v1/events/v2/enqueue", body)] * THREADS)
        # A request that found the lock taken answered "queued"; the worker's drain:
        tasks.drain_inbound(integration.pk)

        assert errors == [None] * THREADS
        assert statuses == [202] * THREADS
        alert = Alert.objects.get(key=f"disk-full-{round_no}")
        assert alert.count == THREADS
    assert Alert.objects.count() == ROUNDS
    assert Incident.objects.count() == ROUNDS
    assert Page.objects.count() == ROUNDS
    assert InboundPayload.objects.filter(outcome=PayloadOutcome.PROCESSED).count() == \
        ROUNDS * THREADS


def test_a_storm_of_one_alertmanager_group_makes_one_incident(policy):
    integration, token = ingest.create_integration(name="Prometheus",
                                                   kind=IntegrationKind.ALERTMANAGER)
    body = (FIXTURES / "alertmanager_firing.json").read_text()
    url = f"/api/v1/integrations/{token}/alertmanager"

    statuses, errors = run_at_once([post(url, body)] * THREADS)
    tasks.drain_inbound(integration.pk)  # for the requests answered "queued"

    assert errors == [None] * THREADS
    assert statuses == [200] * THREADS
    assert sorted(Alert.objects.values_list("count", flat=True)) == [THREADS, THREADS]
    assert Incident.objects.count() == 1
    assert Page.objects.count() == 1
