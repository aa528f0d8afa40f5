"""Moving an incident along its lifecycle: the transition table, the times each status
sets, the timeline entry; and the status form in the incident page's header."""

import pytest
import time_machine

from incidents import services
from incidents.models import (
    TRANSITIONS,
    Severity,
    Status,
    TimelineKind,
)
from tests.incidents.factories import declare
from tests.incidents.helpers import (
    HX,
    MINUTE,
    NOW,
    assert_full_page,
    bring_to,
    hx_trigger,
    refused,
    reload,
    settle_closure,
    snapshot,
    url,
)
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db


ALLOWED = [(a, b) for a in Status for b in TRANSITIONS[a]]
FORBIDDEN = [(a, b) for a in Status for b in Status if b not in TRANSITIONS[a]]


def _ids(pairs):
    return [f"{a.value}->{b.value}" for a, b in pairs]


# --- change_status ---------------------------------------------------------------------


class TestChangeStatus:
    """services.change_status, called directly; the clock stands still at NOW."""

    @pytest.fixture(autouse=True)
    def clock(self):
        with time_machine.travel(NOW, tick=False) as traveller:
            yield traveller

    @pytest.fixture
    def incident(self, ic):
        return declare(ic, title="Checkout API returning errors", severity=Severity.SEV2)

    def test_transition_table_covers_every_status(self):
        assert set(TRANSITIONS) == set(Status)
        assert len(ALLOWED) + len(FORBIDDEN) == len(Status) ** 2

    @pytest.mark.parametrize(("before", "after"), ALLOWED, ids=_ids(ALLOWED))
    def test_listed_transition_is_allowed(self, incident, ic, before, after):
        incident = bring_to(incident, before, ic)
        if after == Status.RESOLVED:
            settle_closure(incident, ic)
        entries_before = incident.timeline.count()

        services.change_status(incident, to=after, by=ic, note="Rolled back the deploy.")

        incident = reload(incident)
        assert incident.status == after
        assert incident.timeline.count() == entries_before + 1
        last = incident.timeline.order_by("-pk").first()
        assert last.kind == (TimelineKind.RESOLVED if after == Status.RESOLVED
                             else TimelineKind.STATUS)
        assert "Rolled back the deploy." in last.body

    @pytest.mark.parametrize(("before", "after"), FORBIDDEN, ids=_ids(FORBIDDEN))
    def test_unlisted_transition_is_refused_and_changes_nothing(self, incident, ic, before, after):
        incident = bring_to(incident, before, ic)
        settle_closure(incident, ic)

        with refused(incident):
            services.change_status(incident, to=after, by=ic, note="Rolled back the deploy.")

    def test_first_move_sets_acknowledged_at_and_later_moves_keep_it(self, incident, ic, clock):
        services.change_status(incident, to=Status.INVESTIGATING, by=ic)
        clock.shift(10 * MINUTE)
        services.change_status(incident, to=Status.IDENTIFIED, by=ic)

        incident = reload(incident)
        assert incident.acknowledged_at == NOW
        assert incident.identified_at == NOW + 10 * MINUTE
        assert incident.mitigated_at is None

    def test_monitoring_sets_mitigated_at_and_keeps_identified_at(self, incident, ic, clock):
        services.change_status(incident, to=Status.IDENTIFIED, by=ic)
        clock.shift(5 * MINUTE)
        services.change_status(incident, to=Status.FIXING, by=ic)
        clock.shift(5 * MINUTE)
        services.change_status(incident, to=Status.MONITORING, by=ic)
        clock.shift(5 * MINUTE)
        services.change_status(incident, to=Status.FIXING, by=ic)
        clock.shift(5 * MINUTE)
        services.change_status(incident, to=Status.MONITORING, by=ic)

        incident = reload(incident)
        assert incident.acknowledged_at == NOW
        assert incident.identified_at == NOW
        assert incident.mitigated_at == NOW + 10 * MINUTE

    def test_skipping_to_monitoring_sets_identified_at_too(self, incident, ic):
        services.change_status(incident, to=Status.INVESTIGATING, by=ic)
        services.change_status(incident, to=Status.MONITORING, by=ic)

        incident = reload(incident)
        assert incident.identified_at == NOW
        assert incident.mitigated_at == NOW

    def test_status_change_is_written_to_the_timeline(self, incident, ic):
        services.change_status(incident, to=Status.INVESTIGATING, by=ic, note=" Looking at logs ")

        entry = incident.timeline.get(kind=TimelineKind.STATUS)
        assert entry.body.startswith("Status moved: Declared → **Investigating** by Ic.")
        assert entry.body.endswith("\n\nLooking at logs")
        assert entry.author == ic


# --- through the page ------------------------------------------------------------------


def test_htmx_transition_returns_header_fragment_and_triggers_timeline(client, ic, incident):
    client.force_login(ic)
    response = client.post(url(incident, "status/"), {"to": "investigating"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-header")
    assert 'id="incident-timeline"' not in html(response)
    assert "timeline-changed" in hx_trigger(response)
    assert '<span class="badge status-investigating">Investigating</span>' in html(response)
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
    assert incident.acknowledged_at is not None
    entry = incident.timeline.get(kind=TimelineKind.STATUS)
    assert "Declared → **Investigating**" in entry.body
    assert entry.author == ic


def test_htmx_illegal_transition_is_400_with_reason_and_changes_nothing(client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "status/"), {"to": "monitoring"}, **HX)
    assert response.status_code == 400
    assert_fragment(response, "incident-header")
    assert "Declared cannot go to Monitoring" in html(response)
    assert "timeline-changed" not in hx_trigger(response)
    assert snapshot(incident) == before


def test_transition_to_unknown_status_is_400(client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "status/"), {"to": "exploded"}, **HX)
    assert response.status_code == 400
    assert "Choose a status." in html(response)
    assert snapshot(incident) == before


def test_plain_post_transition_redirects_back_to_incident_page(client, ic, incident):
    client.force_login(ic)
    response = client.post(url(incident, "status/"), {"to": "investigating"})
    assert response.status_code == 302
    assert response["Location"] == url(incident)
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING


def test_plain_post_refused_transition_renders_full_page_with_reason(client, ic, incident):
    client.force_login(ic)
    response = client.post(url(incident, "status/"), {"to": "monitoring"})
    assert response.status_code == 400
    assert_full_page(response)
    assert "Declared cannot go to Monitoring" in html(response)
