"""Resolving (§6.1 resolveIncident): a resolution and every closure item settled are
needed; reopening; through the service and through the resolve form."""

import importlib
import re

import pytest
import time_machine
from django.apps import apps

from incidents import checklists, services
from incidents.models import (
    ChecklistPhase,
    CommsKind,
    CommsUpdate,
    Incident,
    IncidentComms,
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
    bring_to,
    closure_items,
    hx_trigger,
    refused,
    reload,
    section,
    settle_closure,
    snapshot,
    url,
    waive_closure,
)
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db


# --- resolve_incident and reopening ---------------------------------------------------


class TestResolveIncident:
    """services.resolve_incident, called directly; the clock stands still at NOW."""

    @pytest.fixture(autouse=True)
    def clock(self):
        with time_machine.travel(NOW, tick=False) as traveller:
            yield traveller

    @pytest.fixture
    def incident(self, ic):
        return declare(ic, title="Checkout API returning errors", severity=Severity.SEV2)

    @pytest.mark.parametrize("resolution", ["", "   "])
    def test_resolving_without_resolution_text_is_refused(self, incident, ic, resolution):
        settle_closure(incident, ic)

        with refused(incident, match="how the incident was resolved"):
            services.resolve_incident(incident, resolution=resolution, by=ic)

    def test_resolving_with_an_open_closure_item_is_refused(self, incident, ic):
        settle_closure(incident, ic)
        item = incident.checklist.get(phase=ChecklistPhase.CLOSURE, text="Archive incident channel")
        services.set_checklist_item(item, done=False, by=ic)

        with refused(incident, match="Archive incident channel"):
            services.resolve_incident(incident, resolution="Rolled back.", by=ic)

    def test_resolving_accepts_closure_items_ticked_or_waived(self, incident, ic, clock):
        closure = list(incident.checklist.filter(phase=ChecklistPhase.CLOSURE))
        for item in closure[:-1]:
            services.set_checklist_item(item, done=True, by=ic)
        services.waive_checklist_item(closure[-1], reason="No channel was created.", by=ic)
        clock.shift(30 * MINUTE)

        services.resolve_incident(incident, resolution="  Rolled back release 42. ", by=ic)

        incident = reload(incident)
        assert incident.status == Status.RESOLVED
        assert incident.resolution == "Rolled back release 42."
        assert incident.resolved_at == NOW + 30 * MINUTE
        assert incident.acknowledged_at == NOW + 30 * MINUTE
        assert incident.mitigated_at == NOW + 30 * MINUTE
        entry = incident.timeline.get(kind=TimelineKind.RESOLVED)
        assert "Rolled back release 42." in entry.body

    def test_open_items_outside_closure_do_not_block_resolving(self, incident, ic):
        settle_closure(incident, ic)

        services.resolve_incident(incident, resolution="Rolled back.", by=ic)

        incident = reload(incident)
        assert incident.status == Status.RESOLVED
        assert incident.checklist.filter(phase=ChecklistPhase.TRIAGE, done_at__isnull=True).exists()

    def test_resolving_keeps_earlier_acknowledgement(self, incident, ic, clock):
        services.change_status(incident, to=Status.INVESTIGATING, by=ic)
        settle_closure(incident, ic)
        clock.shift(20 * MINUTE)

        services.resolve_incident(incident, resolution="Rolled back.", by=ic)

        incident = reload(incident)
        assert incident.acknowledged_at == NOW
        assert incident.resolved_at == NOW + 20 * MINUTE

    def test_resolving_twice_is_refused(self, incident, ic):
        incident = bring_to(incident, Status.RESOLVED, ic)

        with refused(incident, match="cannot be resolved"):
            services.resolve_incident(incident, resolution="Again.", by=ic)

    def test_reopening_clears_resolved_at(self, incident, ic, clock):
        incident = bring_to(incident, Status.RESOLVED, ic)
        assert incident.resolved_at == NOW
        clock.shift(MINUTE)

        services.change_status(incident, to=Status.INVESTIGATING, by=ic, note="It came back.")

        incident = reload(incident)
        assert incident.status == Status.INVESTIGATING
        assert incident.resolved_at is None
        assert incident.resolution == ""
        assert incident.is_open
        resolved_entry = incident.timeline.get(kind=TimelineKind.RESOLVED)
        assert "Fixed it." in resolved_entry.body
        entry = incident.timeline.filter(kind=TimelineKind.STATUS).order_by("-pk").first()
        assert entry.body.startswith("Status reopened: Resolved → **Investigating**")

    def test_resolving_with_updates_sends_them_and_archives_the_channel(self, incident, ic):
        settle_closure(incident, ic)
        services.resolve_with_updates(
            incident, resolution="Rolled back.", by=ic,
            updates=[(CommsKind.STATUS_PAGE, "Resolved", "Checkout works again.", None)])
        incident = reload(incident)
        assert incident.status == Status.RESOLVED
        update = incident.comms_updates.get()
        assert (update.state, update.is_published) == (PublicState.RESOLVED, True)
        assert incident.comms.channel_archived_at == NOW

    def test_the_updates_sent_with_the_resolve_fulfil_their_closure_items(self, incident, ic):
        """Issue 17, item 2: no chicken and egg. Only the items nobody can fulfil by
        resolving need ticking first; the rest are ticked by the system once sent."""
        for item in closure_items(incident):
            if item.text in (checklists.UPDATE_STATUS_PAGE, checklists.ARCHIVE_CHANNEL):
                continue
            services.set_checklist_item(item, done=True, by=ic)

        services.resolve_with_updates(
            incident, resolution="Rolled back.", by=ic,
            updates=[(CommsKind.STATUS_PAGE, "Resolved", "Checkout works again.", None)])

        incident = reload(incident)
        assert incident.status == Status.RESOLVED
        for text in (checklists.UPDATE_STATUS_PAGE, checklists.ARCHIVE_CHANNEL):
            item = incident.checklist.get(text=text)
            assert item.ticked_by_system and item.done_at == NOW, text

    def test_reopening_opens_again_what_the_system_ticked_at_closure(self, incident, ic):
        """A reopened incident needs its resolved update and archived channel again;
        the items people ticked themselves stay ticked."""
        for item in closure_items(incident):
            if item.text not in (checklists.UPDATE_STATUS_PAGE, checklists.ARCHIVE_CHANNEL):
                services.set_checklist_item(item, done=True, by=ic)
        services.resolve_with_updates(
            incident, resolution="Rolled back.", by=ic,
            updates=[(CommsKind.STATUS_PAGE, "Resolved", "Checkout works again.", None)])

        services.change_status(reload(incident), to=Status.INVESTIGATING, by=ic)

        incident = reload(incident)
        by_text = {item.text: item for item in closure_items(incident)}
        for text in (checklists.UPDATE_STATUS_PAGE, checklists.ARCHIVE_CHANNEL):
            assert by_text[text].done_at is None and not by_text[text].ticked_by_system
        assert by_text[checklists.SEND_FINAL_COMMUNICATION].done_by == ic
        assert incident.comms.channel_archived_at is None
        entry = incident.timeline.filter(kind=TimelineKind.STATUS).order_by("-pk").first()
        assert "closure items the system had ticked are open again" in entry.body
        with refused(incident, match="Update status page"):
            services.resolve_incident(incident, resolution="Again.", by=ic)

    def test_an_unchosen_update_still_holds_its_closure_item(self, incident, ic):
        for item in closure_items(incident):
            if item.text != checklists.SEND_FINAL_COMMUNICATION:
                services.set_checklist_item(item, done=True, by=ic)

        with refused(incident, match="Send final customer communication"):
            services.resolve_with_updates(
                incident, resolution="Rolled back.", by=ic,
                updates=[(CommsKind.STATUS_PAGE, "Resolved", "Checkout works again.", None)])

    def test_an_update_refused_while_resolving_undoes_the_resolve(self, incident, ic):
        settle_closure(incident, ic)
        with refused(incident, services.NothingToSend, match="Slack webhook"):
            services.resolve_with_updates(
                incident, resolution="Rolled back.", by=ic,
                updates=[(CommsKind.SLACK, "", "Resolved.", None)])
        assert not CommsUpdate.objects.exists() and not IncidentComms.objects.exists()


# --- through the page ------------------------------------------------------------------


def test_resolve_with_open_closure_items_is_400_listing_them(client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "resolve/"), {"resolution": "Rolled back"}, **HX)
    assert response.status_code == 400
    assert_fragment(response, "incident-header")
    errors = section(html(response), '<div class="errors" role="alert">', "</div>")
    # Archiving the channel is what this resolve step itself does: it never blocks it.
    for text in checklists.ITEMS[checklists.CLOSURE]:
        assert (text.replace('"', "&quot;") in errors) is (text != checklists.ARCHIVE_CHANNEL)
    assert snapshot(incident) == before


def test_resolve_after_settling_closure_items_through_the_page(client, ic, incident):
    client.force_login(ic)
    first, *rest = closure_items(incident)
    assert client.post(url(incident, f"checklist/{first.pk}/"), {"done": "on"},
                       **HX).status_code == 200
    for item in rest:
        assert client.post(url(incident, f"checklist/{item.pk}/waive/"),
                           {"reason": "Internal only"}, **HX).status_code == 200
    response = client.post(url(incident, "resolve/"), {"resolution": "Rolled back"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-header")
    assert "timeline-changed" in hx_trigger(response)
    assert '<span class="badge status-resolved">Resolved</span>' in html(response)
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert incident.resolution == "Rolled back"
    assert incident.resolved_at is not None
    assert incident.timeline.filter(kind=TimelineKind.RESOLVED).count() == 1


def test_htmx_reopening_a_resolved_incident(client, ic, incident):
    waive_closure(incident, ic)
    services.resolve_incident(incident, resolution="Fixed", by=ic)
    client.force_login(ic)
    response = client.post(url(incident, "status/"), {"to": "investigating"}, **HX)
    assert response.status_code == 200
    assert "timeline-changed" in hx_trigger(response)
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
    assert incident.resolved_at is None
    assert "reopened" in incident.timeline.filter(kind=TimelineKind.STATUS).get().body


def test_resolve_without_resolution_text_is_400(client, ic, incident):
    waive_closure(incident, ic)
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "resolve/"), {"resolution": ""}, **HX)
    assert response.status_code == 400
    assert snapshot(incident) == before


def test_plain_post_resolve_redirects_back(client, ic, incident):
    waive_closure(incident, ic)
    client.force_login(ic)
    response = client.post(url(incident, "resolve/"), {"resolution": "Fixed"})
    assert response.status_code == 302
    assert response["Location"] == url(incident)
    assert Incident.objects.get(pk=incident.pk).status == Status.RESOLVED


def test_a_refused_resolve_comes_back_with_every_update_chosen(client, ic, incident):
    """Issue 17, item 2: the choices are never dropped by a refusal."""
    importlib.import_module("incidents.migrations.0006_comms_seed").seed(apps, None)
    client.force_login(ic)
    response = client.post(url(incident, "resolve/"), {
        "resolution": "Rolled back", "status_page_send": "on",
        "status_page_subject": "Resolved", "status_page_body": "All good again.",
        "customer_email_send": "on", "customer_email_subject": "Fixed",
        "customer_email_body": "Payments work again.", "slack_body": "Not chosen.",
    }, **HX)

    assert response.status_code == 400
    text = html(response)
    assert re.search(r'<input type="checkbox" name="status_page_send"[^>]* checked', text)
    assert re.search(r'<input type="checkbox" name="customer_email_send"[^>]* checked', text)
    assert not re.search(r'<input type="checkbox" name="slack_send"[^>]* checked', text)
    assert "All good again." in text and "Payments work again." in text
    assert 'hx-get="' + url(incident, "comms/resolve-options/") not in text
    assert not CommsUpdate.objects.exists()
