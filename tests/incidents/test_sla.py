"""SLA breach notes (§7.2): each breached response or resolution target of an open
incident is written to its timeline once, however often the beat runs.
The clock stands still at NOW."""

from datetime import timedelta

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
    MINUTE,
    NOW,
    reload,
    settle_closure,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sev1(ic):
    """SEV-1 detected at NOW: response due NOW+5m, resolution due NOW+60m (§7.2)."""
    return declare(ic, severity=Severity.SEV1)


def sla_entries(incident):
    return list(incident.timeline.filter(kind=TimelineKind.SLA).order_by("pk"))


def test_nothing_is_noted_before_a_target_is_due(sev1):
    with time_machine.travel(NOW + 4 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 0

    assert sla_entries(sev1) == []


def test_response_breach_is_noted_once_when_run_twice(sev1):
    with time_machine.travel(NOW + 6 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 1
        assert services.note_sla_breaches() == 0

    (entry,) = sla_entries(sev1)
    assert entry.body.startswith("**Response SLA breached**: SEV-1 target was 2025-03-14 09:35")
    assert entry.occurred_at == NOW + 5 * MINUTE
    assert entry.author is None
    sev1 = reload(sev1)
    assert sev1.response_breach_noted_at == NOW + 6 * MINUTE
    assert sev1.resolution_breach_noted_at is None


def test_resolution_breach_is_noted_once_when_run_twice(sev1):
    with time_machine.travel(NOW + 6 * MINUTE, tick=False):
        services.note_sla_breaches()
    with time_machine.travel(NOW + 61 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 1
        assert services.note_sla_breaches() == 0
    with time_machine.travel(NOW + 5 * 60 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 0

    bodies = [e.body for e in sla_entries(sev1)]
    assert len(bodies) == 2
    assert bodies[0].startswith("**Response SLA breached**")
    assert bodies[1].startswith("**Resolution SLA breached**: SEV-1 target was "
                                "2025-03-14 10:30")
    assert reload(sev1).resolution_breach_noted_at == NOW + 61 * MINUTE


def test_both_breaches_are_noted_in_one_late_run(sev1):
    with time_machine.travel(NOW + 2 * 60 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 2
        assert services.note_sla_breaches() == 0

    kinds = sorted(e.body.split(" SLA")[0] for e in sla_entries(sev1))
    assert kinds == ["**Resolution", "**Response"]


def test_acknowledged_incident_has_no_response_breach(sev1, ic):
    with time_machine.travel(NOW + 2 * MINUTE, tick=False):
        services.change_status(sev1, to=Status.INVESTIGATING, by=ic)
    with time_machine.travel(NOW + 10 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 0

    assert sla_entries(sev1) == []
    assert reload(sev1).response_breach_noted_at is None


def test_late_acknowledgement_is_noted_as_a_response_breach(sev1, ic):
    # Acknowledged at +5m30s, after the 5-minute target, before the next beat tick.
    with time_machine.travel(NOW + 5 * MINUTE + timedelta(seconds=30), tick=False):
        services.change_status(sev1, to=Status.INVESTIGATING, by=ic)
    assert reload(sev1).response_breached()

    with time_machine.travel(NOW + 6 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 1

    (entry,) = sla_entries(sev1)
    assert entry.body.startswith("**Response SLA breached**")


def test_targets_follow_the_incident_severity(ic):
    sev3 = declare(ic, severity=Severity.SEV3)

    with time_machine.travel(NOW + 59 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 0
    with time_machine.travel(NOW + 61 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 1

    (entry,) = sla_entries(sev3)
    assert "SEV-3 target was 2025-03-14 10:30" in entry.body


def test_resolved_incident_notes_nothing(sev1, ic):
    with time_machine.travel(NOW + 2 * MINUTE, tick=False):
        settle_closure(sev1, ic)
        services.resolve_incident(sev1, resolution="Rolled back.", by=ic)
    with time_machine.travel(NOW + 3 * 60 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 0

    assert sla_entries(sev1) == []
    sev1 = reload(sev1)
    assert (sev1.response_breach_noted_at, sev1.resolution_breach_noted_at) == (None, None)


def test_breaches_are_noted_per_incident(ic):
    first = declare(ic, severity=Severity.SEV1)
    second = declare(ic, severity=Severity.SEV1)

    with time_machine.travel(NOW + 6 * MINUTE, tick=False):
        assert services.note_sla_breaches() == 2

    assert len(sla_entries(first)) == len(sla_entries(second)) == 1
