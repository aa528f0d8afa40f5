"""The §3.2 / §3.4 checklists on an incident: ticked (who, when), unticked, waived with a
reason; through the services and the page."""

import re

import pytest
import time_machine

from incidents import services
from incidents.models import (
    Severity,
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
    assert re.search(r'<input type="checkbox" name="done" checked> Acknowledge the alert',
                     html(response))

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
