"""The §3.2 / §3.4 checklists on an incident: ticked (who, when), unticked, waived with a
reason; through the services and the page."""

import re

import pytest
import time_machine

from incidents import checklists, services
from incidents.models import (
    CommsKind,
    PublicState,
    Severity,
    Status,
    TimelineKind,
)
from tests.incidents.factories import declare
from tests.incidents.helpers import (
    HX,
    MINUTE,
    NOW,
    closure_items,
    declare_bare,
    hx_trigger,
    refused,
    reload,
    snapshot,
    triage_item,
    url,
)
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db


# --- set_checklist_item and waive_checklist_item ----------------------------------------


class TestChecklistServices:
    """The checklist services, called directly; the clock stands still at NOW."""

    @pytest.fixture(autouse=True)
    def clock(self):
        with time_machine.travel(NOW, tick=False) as traveller:
            yield traveller

    @pytest.fixture
    def incident(self, ic):
        return declare(ic, title="Checkout API returning errors", severity=Severity.SEV2)

    def test_ticking_records_who_and_when(self, incident, responder, ic, clock):
        services.join_incident(incident, by=responder)
        item = triage_item(incident)
        clock.shift(3 * MINUTE)

        services.set_checklist_item(item, done=True, by=responder)

        item = reload(item)
        assert (item.done_by, item.done_at) == (responder, NOW + 3 * MINUTE)
        assert item.is_done and item.is_settled

    def test_ticking_again_keeps_the_first_tick(self, incident, ic, manager, clock):
        item = triage_item(incident)
        services.set_checklist_item(item, done=True, by=ic)
        clock.shift(MINUTE)

        services.set_checklist_item(item, done=True, by=manager)

        item = reload(item)
        assert (item.done_by, item.done_at) == (ic, NOW)

    def test_unticking_clears_who_and_when(self, incident, ic):
        item = triage_item(incident)
        services.set_checklist_item(item, done=True, by=ic)

        services.set_checklist_item(item, done=False, by=ic)

        item = reload(item)
        assert (item.done_by, item.done_at) == (None, None)
        assert not item.is_settled

    @pytest.mark.parametrize("reason", ["", "   "])
    def test_waiving_without_reason_is_refused(self, incident, ic, reason):
        with refused(incident, match="why this item is being waived"):
            services.waive_checklist_item(triage_item(incident), reason=reason, by=ic)

    def test_waiving_stores_reason_and_writes_timeline_entry(self, incident, ic):
        item = triage_item(incident)

        services.waive_checklist_item(item, reason=" Alert came from a customer call ", by=ic)

        item = reload(item)
        assert item.waived_reason == "Alert came from a customer call"
        assert item.is_settled and not item.is_done
        entry = incident.timeline.get(kind=TimelineKind.CHECKLIST)
        assert entry.author == ic
        assert f"*{item.text}*" in entry.body
        assert "Alert came from a customer call" in entry.body


# --- through the page ------------------------------------------------------------------


def test_checklist_tick_and_untick(client, ic, incident):
    item = incident.checklist.get(text="Acknowledge the alert")
    client.force_login(ic)
    response = client.post(url(incident, f"checklist/{item.pk}/"), {"done": "on"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-checklist")
    item.refresh_from_db()
    assert item.done_at is not None
    assert item.done_by == ic
    assert re.search(rf'<input type="checkbox" name="done" id="checklist-item-{item.pk}-done" '
                     r'checked> Acknowledge the alert', html(response))

    response = client.post(url(incident, f"checklist/{item.pk}/"), {}, **HX)
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.done_at is None
    assert item.done_by is None


def test_checklist_tick_needs_to_work_on_the_incident(client, responder, incident):
    item = incident.checklist.get(text="Acknowledge the alert")
    client.force_login(responder)
    response = client.post(url(incident, f"checklist/{item.pk}/"), {"done": "on"}, **HX)
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.done_at is None
    services.join_incident(incident, by=responder)
    response = client.post(url(incident, f"checklist/{item.pk}/"), {"done": "on"}, **HX)
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.done_by == responder


def test_checklist_item_of_another_incident_is_404(client, ic, incident):
    other = declare_bare(ic, title="Other incident")
    item = other.checklist.first()
    client.force_login(ic)
    response = client.post(url(incident, f"checklist/{item.pk}/"), {"done": "on"}, **HX)
    assert response.status_code == 404
    item.refresh_from_db()
    assert item.done_at is None


def test_checklist_waive_with_reason(client, ic, incident):
    item = closure_items(incident)[0]
    client.force_login(ic)
    response = client.post(url(incident, f"checklist/{item.pk}/waive/"),
                           {"reason": "No public status page"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-checklist")
    assert "Waived: No public status page" in html(response)
    assert "timeline-changed" in hx_trigger(response)
    item.refresh_from_db()
    assert item.waived_reason == "No public status page"
    assert incident.timeline.filter(kind=TimelineKind.CHECKLIST).count() == 1


@pytest.mark.parametrize("reason", ["", "   "])
def test_checklist_waive_without_reason_is_400(client, ic, incident, reason):
    item = closure_items(incident)[0]
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, f"checklist/{item.pk}/waive/"), {"reason": reason},
                           **HX)
    assert response.status_code == 400
    assert_fragment(response, "incident-checklist")
    assert "is waived" in html(response)
    assert snapshot(incident) == before


# --- the system ticks what it observed (issue 17, item 9) --------------------------------

def observed(incident, text):
    return incident.checklist.get(text=text)


def test_declaring_ticks_the_channel_and_the_decision_tree_classification(ic):
    classified = services.declare_incident(
        title="Checkout latency", severity=Severity.SEV2, by=ic,
        classification={"security_breach": "no"}, classified_severity=Severity.SEV2)
    by_hand = services.declare_incident(title="Typo", severity=Severity.SEV4, by=ic)

    item = observed(classified, checklists.CLASSIFY_SEVERITY)
    assert item.is_done and item.done_by is None and item.ticked_by_system
    assert item.system_reason == ("the decision tree classified it as SEV-2 when it was "
                                  "declared")
    assert not observed(by_hand, checklists.CLASSIFY_SEVERITY).is_done
    channel = observed(by_hand, checklists.CREATE_CHANNEL)
    assert channel.ticked_by_system and by_hand.channel_name in channel.system_reason


def test_all_three_roles_assigned_ticks_the_roles_item(ic, responder, manager):
    incident = services.declare_incident(title="Checkout latency", severity=Severity.SEV2,
                                         by=ic)
    services.assign_role(incident, role="technical_lead", user=responder, by=ic)
    assert not observed(incident, checklists.ASSIGN_ROLES).is_done

    services.assign_role(incident, role="communications_lead", user=manager, by=ic)

    item = observed(incident, checklists.ASSIGN_ROLES)
    assert item.ticked_by_system
    assert item.system_reason == ("all three roles are assigned: Ic (Incident Commander), "
                                  "Responder (Technical Lead), Manager (Communications Lead)")


def test_the_first_update_ticks_the_initial_status_update(ic):
    incident = services.declare_incident(title="Checkout latency", severity=Severity.SEV2,
                                         by=ic)
    services.send_update(incident, channel=CommsKind.STATUS_PAGE, subject="Investigating",
                         body="We are looking into it.", by=ic, state=PublicState.INVESTIGATING)

    item = observed(incident, checklists.POST_INITIAL_UPDATE)
    assert item.ticked_by_system
    assert item.system_reason == "Ic sent the first status page update “Investigating”"


def test_the_ic_can_untick_a_system_tick_and_a_persons_tick_is_left_alone(ic):
    incident = services.declare_incident(title="Checkout latency", severity=Severity.SEV2,
                                         by=ic)
    channel = observed(incident, checklists.CREATE_CHANNEL)

    services.set_checklist_item(channel, done=False, by=ic)

    channel.refresh_from_db()
    assert not channel.is_done and channel.system_reason == ""
    ack = observed(incident, checklists.ACKNOWLEDGE_ALERT)
    services.set_checklist_item(ack, done=True, by=ic)
    services.change_status(incident, to=Status.INVESTIGATING, by=ic)
    ack.refresh_from_db()
    assert ack.done_by == ic and not ack.ticked_by_system


def test_the_checklist_section_reloads_itself_after_a_verb(client, ic):
    incident = services.declare_incident(title="Checkout latency", severity=Severity.SEV2,
                                         by=ic)
    client.force_login(ic)
    page = client.get(incident.get_absolute_url()).content.decode()
    assert 'hx-trigger="checklist-changed from:body"' in page

    response = client.get(f"{incident.get_absolute_url()}checklist/", HTTP_HX_REQUEST="true")

    assert response.content.decode().lstrip().startswith('<section id="incident-checklist"')
    assert "Ticked by the system because the channel" in response.content.decode()
