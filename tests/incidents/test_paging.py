"""Declaring, escalating and resolving incidents pages on-call (issue: on-call, item 9)."""

from datetime import date, timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import checklists, services
from incidents.models import Incident, Severity, Status, TimelineKind
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


# --- one truth for acknowledgement (issue 17, items 1 and 7) ---------------------------

def test_acknowledging_the_incident_acknowledges_its_page_and_level_two_is_never_paged(
        production, ic, responder):
    incident = services.declare_incident(title="Checkout latency", severity=Severity.SEV2,
                                         by=ic)
    page = page_of(incident)
    paging.run_page(page.pk)

    services.change_status(incident, to=Status.INVESTIGATING, by=ic)

    incident.refresh_from_db()
    page.refresh_from_db()
    assert page.status == PageStatus.ACKNOWLEDGED
    assert page.acknowledged_at == incident.acknowledged_at
    assert page.acknowledged_by == ic
    with time_machine.travel(timezone.now() + timedelta(minutes=30), tick=False):
        assert paging.run_due_pages() == 0
        assert paging.audit() == 0
    assert not page.notifications.filter(user=responder).exists()
    # The page's acknowledgement is the system's doing on the timeline (no author).
    entry = incident.timeline.get(kind=TimelineKind.PAGE, body__contains="Acknowledged by")
    assert entry.author is None and f"(incident {incident.ref} acknowledged)" in entry.body


def test_a_commander_who_was_not_paged_acknowledging_the_incident_stops_paging(
        production, ic, responder):
    incident = services.declare_incident(title="Checkout latency", severity=Severity.SEV2,
                                         by=ic)
    services.assign_role(incident, role="commander", user=responder, by=ic)
    paging.run_page(page_of(incident).pk)

    services.change_status(incident, to=Status.IDENTIFIED, by=responder)

    assert page_of(incident).status == PageStatus.ACKNOWLEDGED
    assert page_of(incident).acknowledged_by == responder


def test_acknowledging_a_page_acknowledges_the_incident_and_its_other_pages(
        production, ic):
    incident = services.declare_incident(title="Slow search", severity=Severity.SEV3, by=ic)
    services.change_severity(incident, to=Severity.SEV2, by=ic)
    sev3, sev2 = Page.objects.filter(source=f"incident:{incident.pk}").order_by("pk")
    for page in (sev3, sev2):
        paging.run_page(page.pk)

    with time_machine.travel(timezone.now() + timedelta(seconds=40), tick=False):
        paging.acknowledge_page(sev2, by=ic)

    incident.refresh_from_db()
    sev3.refresh_from_db()
    sev2.refresh_from_db()
    assert incident.acknowledged_at == sev2.acknowledged_at == sev3.acknowledged_at
    assert incident.status == Status.DECLARED  # acknowledged, not moved along
    assert sev3.status == PageStatus.ACKNOWLEDGED
    ack = incident.checklist.get(text=checklists.ACKNOWLEDGE_ALERT)
    assert ack.is_done and ack.system_reason == "Ic acknowledged its page"


def test_a_later_page_acknowledgement_never_moves_the_incident_time(production, ic):
    incident = services.declare_incident(title="Slow search", severity=Severity.SEV3, by=ic)
    services.change_status(incident, to=Status.INVESTIGATING, by=ic)
    first = Incident.objects.get(pk=incident.pk).acknowledged_at
    services.change_severity(incident, to=Severity.SEV2, by=ic)  # pages again
    again = Page.objects.filter(source=f"incident:{incident.pk}",
                                status=PageStatus.TRIGGERED).get()

    with time_machine.travel(timezone.now() + timedelta(minutes=3), tick=False):
        paging.acknowledge_page(again, by=ic)

    assert Incident.objects.get(pk=incident.pk).acknowledged_at == first


def test_paged_responder_acknowledging_joins_the_response(production, ic, responder):
    incident = services.declare_incident(title="Checkout latency", severity=Severity.SEV2,
                                         by=ic)
    page = page_of(incident)
    paging.run_page(page.pk)
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        paging.run_due_pages()  # level 2: the responder
        paging.acknowledge_page(page, by=responder, via="one-click link")

    incident.refresh_from_db()
    assert incident.responders.filter(pk=responder.pk).exists()
    assert incident.timeline.filter(
        kind=TimelineKind.ROLE, author=responder,
        body="Responder joined the response (acknowledged the page).").exists()
    assert incident.acknowledged_at == page_of(incident).acknowledged_at
    # Now they can write on the timeline.
    services.add_timeline_entry(incident, body="Looking at the pods.", by=responder)


def test_resolving_an_unacknowledged_incident_acknowledges_its_pages_first(production, ic):
    incident = services.declare_incident(title="Blip", severity=Severity.SEV2, by=ic)
    paging.run_page(page_of(incident).pk)
    for item in incident.checklist.filter(phase="closure"):
        services.set_checklist_item(item, done=True, by=ic)

    services.resolve_incident(incident, resolution="It recovered.", by=ic)

    page = page_of(incident)
    incident.refresh_from_db()
    assert page.status == PageStatus.RESOLVED
    assert page.acknowledged_at == incident.acknowledged_at == incident.resolved_at


def test_the_paging_card_acknowledges_in_place(client, production, ic):
    incident = services.declare_incident(title="Checkout latency", severity=Severity.SEV2,
                                         by=ic)
    page = page_of(incident)
    paging.run_page(page.pk)
    client.force_login(ic)
    path = f"{incident.get_absolute_url()}pages/{page.pk}/acknowledge/"
    assert f'action="{path}"' in client.get(incident.get_absolute_url()).content.decode()

    response = client.post(path, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="incident-paging"')
    assert 'id="incident-header" class="card incident-header" hx-swap-oob="true"' in body
    assert "timeline-changed" in response["HX-Trigger"]
    assert page_of(incident).status == PageStatus.ACKNOWLEDGED
    assert Incident.objects.get(pk=incident.pk).acknowledged_at is not None
    # Acknowledged already: the header offers the move to Investigating, not a second
    # acknowledgement.
    assert "Acknowledge &amp; investigate" not in body
    assert ">Investigating</button>" in body

    again = client.post(path, HTTP_HX_REQUEST="true")
    assert again.status_code == 409
    assert "already acknowledged" in again.content.decode()
