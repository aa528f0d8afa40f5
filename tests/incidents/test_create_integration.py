"""`manage.py create_integration` (DESIGN.md contracts)."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from incidents.models import Integration, IntegrationKind
from oncall.tokens import hash_token
from tests.incidents.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command("create_integration", *args, stdout=out)
    return out.getvalue().splitlines()


def test_prints_the_token_alone_on_the_last_line_and_stores_only_its_hash():
    lines = run("--kind", "alertmanager", "--name", "Prometheus")

    token = lines[-1]
    integration = Integration.objects.get()
    assert integration.name == "Prometheus"
    assert integration.kind == IntegrationKind.ALERTMANAGER
    assert integration.token_hash == hash_token(token)
    assert len(token) >= 40 and " " not in token
    assert any(f"/api/v1/integrations/{token}/alertmanager" in line for line in lines)


def test_the_printed_token_works_at_the_events_endpoint():
    token = run("--kind", "events", "--name", "Datadog")[-1]
    body = {"routing_key": token, "event_action": "trigger",
            "payload": {"summary": "Disk full", "source": "db1", "severity": "error"}}

    response = Client().post("/api/v1/events/v2/enqueue", json.dumps(body),
                             content_type="application/json")

    assert response.status_code == 202


@pytest.mark.parametrize("given", ["payments", "Payments API"])
def test_the_service_is_found_by_slug_or_name(given):
    service = ServiceFactory(name="Payments API", slug="payments")

    run("--kind", "events", "--name", "Stripe", "--service", given)

    assert Integration.objects.get().service == service


def test_an_unknown_service_is_refused():
    with pytest.raises(CommandError, match="No service with slug or name 'nope'"):
        run("--kind", "events", "--name", "Stripe", "--service", "nope")
    assert not Integration.objects.exists()


def test_a_duplicate_name_is_refused_with_a_clear_error():
    run("--kind", "alertmanager", "--name", "Prometheus")

    with pytest.raises(CommandError, match="An integration named 'Prometheus' already exists"):
        run("--kind", "events", "--name", "Prometheus")
    assert Integration.objects.count() == 1


def test_an_unknown_kind_is_refused():
    with pytest.raises(CommandError, match="invalid choice"):
        run("--kind", "nagios", "--name", "Old")
