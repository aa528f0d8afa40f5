"""Changing severity (§6.1 updateSeverity): escalation and de-escalation told apart, a
reason to lower it; through the service and the header's severity form."""

import pytest
import time_machine

from incidents import services
from incidents.models import (
    Severity,
    Status,
    TimelineKind,
)
from tests.incidents.factories import declare
from tests.incidents.helpers import (
    HX,
    NOW,
    bring_to,
    hx_trigger,
    refused,
    reload,
    snapshot,
    url,
)
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db


# --- change_severity -------------------------------------------------------------------


class TestChangeSeverity:
    """services.change_severity, called directly; the clock stands still at NOW."""

    @pytest.fixture(autouse=True)
    def clock(self):
        with time_machine.travel(NOW, tick=False) as traveller:
            yield traveller

    @pytest.fixture
    def incident(self, ic):
        return declare(ic, title="Checkout API returning errors", severity=Severity.SEV2)

    def test_escalation_is_worded_as_escalation_and_needs_no_reason(self, incident, ic):
        services.change_severity(incident, to=Severity.SEV1, by=ic)

        assert reload(incident).severity == Severity.SEV1
        entry = incident.timeline.get(kind=TimelineKind.SEVERITY)
        assert entry.body == "Severity escalated: SEV-2 → **SEV-1** by Ic."

    def test_de_escalation_with_reason_is_worded_as_de_escalation(self, incident, ic):
        services.change_severity(incident, to=Severity.SEV4, by=ic, reason=" Internal only ")

        assert reload(incident).severity == Severity.SEV4
        entry = incident.timeline.get(kind=TimelineKind.SEVERITY)
        assert entry.body == "Severity de-escalated: SEV-2 → **SEV-4** by Ic.\n\nInternal only"

    @pytest.mark.parametrize("reason", ["", "  "])
    def test_de_escalation_without_reason_is_refused(self, incident, ic, reason):
        with refused(incident, match="why the severity is being lowered"):
            services.change_severity(incident, to=Severity.SEV3, by=ic, reason=reason)

    def test_changing_to_the_same_severity_is_refused(self, incident, ic):
        with refused(incident, match="already SEV-2"):
            services.change_severity(incident, to=Severity.SEV2, by=ic, reason="Just because")

    def test_resolved_incident_severity_cannot_change(self, incident, ic):
        incident = bring_to(incident, Status.RESOLVED, ic)

        with refused(incident, match="reopen it first"):
            services.change_severity(incident, to=Severity.SEV1, by=ic)


# --- through the page ------------------------------------------------------------------


def test_htmx_severity_escalation_returns_header_and_writes_timeline(client, ic, incident):
    client.force_login(ic)
    response = client.post(url(incident, "severity/"), {"to": "1"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-header")
    assert "timeline-changed" in hx_trigger(response)
    incident.refresh_from_db()
    assert incident.severity == Severity.SEV1
    assert incident.timeline.filter(kind=TimelineKind.SEVERITY).count() == 1


def test_htmx_severity_lowering_without_reason_is_400_and_changes_nothing(
        client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "severity/"), {"to": "4", "reason": ""}, **HX)
    assert response.status_code == 400
    assert_fragment(response, "incident-header")
    assert "Say why the severity is being lowered." in html(response)
    assert snapshot(incident) == before
