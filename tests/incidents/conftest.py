"""Fixtures shared by the alert-ingestion tests."""

import pytest
from django.test import Client

from incidents import ingest
from incidents.models import IntegrationKind
from oncall.models import EscalationLevel, EscalationPolicy


@pytest.fixture
def default_policy(ic):
    """The default escalation policy: one level, the IC, 5 minutes."""
    policy = EscalationPolicy.objects.create(name="Production Incidents", is_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5).users.set([ic])
    return policy


@pytest.fixture
def prometheus():
    """An Alertmanager integration: (integration, token)."""
    return ingest.create_integration(name="Prometheus", kind=IntegrationKind.ALERTMANAGER)


@pytest.fixture
def api():
    """A client like a monitoring tool's: no login, and CSRF enforced (the endpoints are
    exempt, so this proves they need no token)."""
    return Client(enforce_csrf_checks=True)
