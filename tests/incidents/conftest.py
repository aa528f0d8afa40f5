"""Fixtures shared by the incidents tests: the alert-ingestion ones, and the incident
the page tests act on (the service tests declare their own)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from incidents import ingest, services
from incidents.models import IntegrationKind, Service, Severity, Status, TimelineKind
from oncall.models import EscalationLevel, EscalationPolicy
from tests.incidents.helpers import declare_bare
from tests.incidents.slack_fake import slack, slack_api  # noqa: F401 - the fake Slack's fixtures


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


@pytest.fixture
def checkout(db):
    return Service.objects.create(name="Checkout", slug="checkout")


@pytest.fixture
def incident(ic, checkout):
    """A SEV-2 commanded by `ic`, with one hand-written note."""
    inc = declare_bare(ic, services=[checkout], customer_impact="Customers cannot pay.")
    services.add_timeline_entry(inc, body="Error rate at 40% on checkout-api", by=ic)
    return inc


@pytest.fixture
def note(incident):
    return incident.timeline.get(kind=TimelineKind.NOTE)


@pytest.fixture
def listed(ic, checkout):
    """Four incidents, declared oldest first; the oldest is the worst."""
    search = Service.objects.create(name="Search", slug="search")
    base = timezone.now() - timedelta(hours=10)

    def make(title, severity, hours, svc):
        when = base + timedelta(hours=hours)
        return declare_bare(ic, title=title, severity=severity, services=svc,
                            started_at=when, detected_at=when)

    incidents = {
        "outage": make("Total outage of payments", Severity.SEV1, 0, [checkout]),
        "slow": make("Slow search results", Severity.SEV3, 1, [search]),
        "typo": make("Typo on pricing page", Severity.SEV4, 2, []),
        "db": make("Database failover", Severity.SEV2, 3, [checkout, search]),
    }
    services.change_status(incidents["slow"], to=Status.INVESTIGATING, by=ic)
    return incidents
