"""The §3.3 roles (Incident Commander, Technical Lead, Communications Lead) and joining
the response; through the services and the incident page's roles section."""

import re

import pytest
import time_machine

from incidents import services
from incidents.models import (
    Severity,
    Status,
    TimelineKind,
)
from tests.incidents.factories import declare, note
from tests.incidents.helpers import (
    HX,
    NOW,
    hx_trigger,
    refused,
    reload,
    section,
    snapshot,
    url,
)
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db


# --- assign_role and join_incident ------------------------------------------------------


class TestRolesAndJoining:
    """services.assign_role and join_incident, called directly; the clock stands still at NOW."""

    @pytest.fixture(autouse=True)
    def clock(self):
        with time_machine.travel(NOW, tick=False) as traveller:
            yield traveller

    @pytest.fixture
    def incident(self, ic):
        return declare(ic, title="Checkout API returning errors", severity=Severity.SEV2)

    def test_assigning_a_role_sets_it_and_logs_it(self, incident, ic, responder):
        services.assign_role(incident, role="technical_lead", user=responder, by=ic)

        assert reload(incident).technical_lead == responder
        entry = incident.timeline.get(kind=TimelineKind.ROLE)
        assert entry.body == "**Responder** is now Technical Lead (assigned by Ic)."

    def test_clearing_a_lead_role_unassigns_it(self, incident, ic, responder):
        services.assign_role(incident, role="communications_lead", user=responder, by=ic)

        services.assign_role(incident, role="communications_lead", user=None, by=ic)

        assert reload(incident).communications_lead is None
        last = incident.timeline.filter(kind=TimelineKind.ROLE).order_by("-pk").first()
        assert last.body == "Communications Lead unassigned by Ic."

    def test_commander_cannot_be_cleared(self, incident, ic):
        with refused(incident, match="always has an Incident Commander"):
            services.assign_role(incident, role="commander", user=None, by=ic)

    def test_unknown_role_is_refused(self, incident, ic, responder):
        with refused(incident, match="Unknown role"):
            services.assign_role(incident, role="scribe", user=responder, by=ic)

    def test_assigning_a_role_to_its_holder_is_refused(self, incident, ic):
        with refused(incident, match="already Incident Commander"):
            services.assign_role(incident, role="commander", user=ic, by=ic)

    def test_a_viewer_cannot_be_given_an_incident_role(self, incident, ic, viewer):
        with refused(incident, match="Viewer and cannot hold"):
            services.assign_role(incident, role="commander", user=viewer, by=ic)

    def test_handing_over_command_to_a_responder_lets_them_command(self, incident, ic, responder):
        services.assign_role(incident, role="commander", user=responder, by=ic)

        services.change_status(incident, to=Status.INVESTIGATING, by=responder)

        assert reload(incident).status == Status.INVESTIGATING

    def test_responder_joins_and_can_then_write_the_timeline(self, incident, responder):
        services.join_incident(incident, by=responder)

        assert list(incident.responders.all()) == [responder]
        assert incident.timeline.filter(kind=TimelineKind.ROLE,
                                        body="Responder joined the response.").exists()
        entry = note(incident, responder, body="Checked the dashboards.")
        assert entry.author == responder

    def test_joining_twice_is_refused(self, incident, responder):
        services.join_incident(incident, by=responder)

        with refused(incident, match="already working"):
            services.join_incident(incident, by=responder)

    def test_role_holder_joining_is_refused(self, incident, ic):
        with refused(incident, match="already working"):
            services.join_incident(incident, by=ic)


# --- through the page ------------------------------------------------------------------


def test_htmx_role_assignment_returns_roles_fragment(client, ic, responder, incident):
    client.force_login(ic)
    response = client.post(url(incident, "roles/"),
                           {"role": "technical_lead", "user": responder.pk}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-roles")
    assert 'id="incident-header"' not in html(response)
    assert "timeline-changed" in hx_trigger(response)
    assert re.search(rf'<option value="{responder.pk}" selected>Responder</option>',
                     html(response))
    incident.refresh_from_db()
    assert incident.technical_lead == responder
    assert incident.timeline.filter(kind=TimelineKind.ROLE).count() == 1


def test_role_assignment_to_a_viewer_is_400_and_changes_nothing(client, ic, viewer, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "roles/"),
                           {"role": "technical_lead", "user": viewer.pk}, **HX)
    assert response.status_code == 400
    assert_fragment(response, "incident-roles")
    assert snapshot(incident) == before


def test_unassigning_the_commander_is_400_and_changes_nothing(client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "roles/"), {"role": "commander", "user": ""}, **HX)
    assert response.status_code == 400
    assert_fragment(response, "incident-roles")
    assert "always has an Incident Commander" in html(response)
    assert snapshot(incident) == before


def test_htmx_unassigning_the_technical_lead(client, ic, responder, incident):
    services.assign_role(incident, role="technical_lead", user=responder, by=ic)
    client.force_login(ic)
    response = client.post(url(incident, "roles/"), {"role": "technical_lead", "user": ""},
                           **HX)
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.technical_lead is None


def test_htmx_join_adds_responder_and_returns_roles_fragment(client, responder, incident):
    client.force_login(responder)
    response = client.post(url(incident, "join/"), **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-roles")
    assert "timeline-changed" in hx_trigger(response)
    assert "Join the response" not in html(response)
    assert list(incident.responders.all()) == [responder]
    roles = html(response)
    assert "Responder" in section(roles, "<dt>Responders</dt>")


def test_joining_twice_is_400_and_adds_nothing(client, responder, incident):
    services.join_incident(incident, by=responder)
    client.force_login(responder)
    before = snapshot(incident)
    response = client.post(url(incident, "join/"), **HX)
    assert response.status_code == 400
    assert "already working on this incident" in html(response)
    assert snapshot(incident) == before


def test_joining_swaps_in_the_timeline_form_and_checklists(client, responder, incident):
    """Issue 17, item 7: the page updates in place, no reload needed."""
    client.force_login(responder)
    before = html(client.get(url(incident)))
    assert "join the response (or acknowledge its page) to write here" in before

    response = client.post(url(incident, "join/"), **HX)

    assert response.status_code == 200
    text = html(response)
    assert text.lstrip().startswith('<section id="incident-roles"')
    assert '<form id="timeline-form"' in text and 'hx-swap-oob="true"' in text
    assert 'id="incident-checklist"' in text
    assert "timeline-changed" in response["HX-Trigger"]
