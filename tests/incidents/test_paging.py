"""Declaring, escalating and resolving incidents pages on-call (issue: on-call, item 9)."""

from datetime import date

import pytest

from incidents import services
from incidents.models import Severity, TimelineKind
from oncall import paging
from oncall.models import (
    ContactMethod,
    EscalationLevel,
    EscalationPolicy,
    Page,
    PageStatus,
    Schedule,
    ScheduleMember,
)
from tests.incidents.factories import ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(ic, responder, manager):
    """The handbook's shape in small: level 1 ic, level 2 responder; EM schedule = manager."""
    for user in (ic, responder, manager):
        ContactMethod.objects.create(user=user, kind="email", target=f"{user.username}@ex.com")
    em = Schedule.objects.create(name="Engineering Manager On-Call", starts_on=date(2026, 1, 5))
    ScheduleMember.objects.create(schedule=em, user=manager, position=0)
    policy = EscalationPolicy.objects.create(name="Production Incidents", is_default=True,
                                             major_incident_schedule=em)
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5) \
        .users.set([ic])
    EscalationLevel.objects.create(policy=policy, position=2, timeout_minutes=10) \
        .users.set([responder])
    return policy


def page_of(incident):
    return Page.objects.get(source=f"incident:{incident.pk}")


def test_sev1_pages_the_policy_and_the_major_incident_schedule(production, ic):
    incident = services.declare_incident(title="Total outage", severity=Severity.SEV1, by=ic)
    page = page_of(incident)
    paging.run_page(page.pk)

    assert page.escalate is True
    assert page.dedup_key == f"incident/{incident.ref}/SEV-1"
    assert sorted(n.user.username for n in page.notifications.all()) == ["ic", "manager"]
    notes = incident.timeline.filter(kind=TimelineKind.PAGE).values_list("body", flat=True)
    assert any("Level 1" in n and "paging Ic" in n for n in notes)


def test_sev3_notifies_without_escalation_and_sev4_pages_nobody(production, ic):
    sev3 = services.declare_incident(title="Slow search", severity=Severity.SEV3, by=ic)
    sev4 = services.declare_incident(title="Typo in docs", severity=Severity.SEV4, by=ic)

    assert page_of(sev3).escalate is False
    assert not Page.objects.filter(source=f"incident:{sev4.pk}").exists()


def test_service_mapped_policy_wins_over_the_default(production, ic, responder):
    special = EscalationPolicy.objects.create(name="Payments")
    EscalationLevel.objects.create(policy=special, position=1).users.set([responder])
    payments = ServiceFactory(name="Payments", slug="payments", escalation_policy=special)

    incident = services.declare_incident(title="Card declines", severity=Severity.SEV2,
                                         by=ic, services=[payments])

    assert page_of(incident).policy == special


def test_without_any_policy_the_timeline_says_nobody_was_paged(ic):
    incident = services.declare_incident(title="Outage", severity=Severity.SEV1, by=ic)

    assert not Page.objects.exists()
    assert incident.timeline.filter(kind=TimelineKind.PAGE,
                                    body__contains="Nobody was paged").exists()


def test_first_acknowledgement_sets_the_incidents_acknowledged_time(production, ic):
    incident = services.declare_incident(title="Outage", severity=Severity.SEV2, by=ic)
    page = page_of(incident)
    paging.run_page(page.pk)

    paging.acknowledge_page(page, by=ic, via="one-click link")

    incident.refresh_from_db()
    page.refresh_from_db()
    assert incident.acknowledged_at == page.acknowledged_at
    assert incident.timeline.filter(kind=TimelineKind.PAGE,
                                    body__contains="Acknowledged by Ic").exists()


def test_raising_severity_pages_again_and_resolving_closes_pages(production, ic):
    incident = services.declare_incident(title="Errors", severity=Severity.SEV3, by=ic)
    services.change_severity(incident, to=Severity.SEV1, by=ic)

    pages = Page.objects.filter(source=f"incident:{incident.pk}")
    assert sorted(p.severity for p in pages) == ["SEV-1", "SEV-3"]
    for item in incident.checklist.filter(phase="closure"):
        services.set_checklist_item(item, done=True, by=ic)
    services.resolve_incident(incident, resolution="Rolled back.", by=ic)

    assert set(pages.values_list("status", flat=True)) == {PageStatus.RESOLVED}


def test_lowering_severity_does_not_page(production, ic):
    incident = services.declare_incident(title="Errors", severity=Severity.SEV2, by=ic)
    services.change_severity(incident, to=Severity.SEV3, by=ic, reason="Contained.")

    assert Page.objects.filter(source=f"incident:{incident.pk}").count() == 1
