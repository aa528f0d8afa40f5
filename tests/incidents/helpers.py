"""Helpers the incidents feature tests share: snapshots that prove a refusal changed
nothing, paths to a status, and the page tests' request helpers."""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import services
from incidents.models import (
    ChecklistItem,
    ChecklistPhase,
    Incident,
    IncidentSequence,
    Severity,
    Status,
    TimelineEntry,
    TimelineKind,
    TimelineRevision,
)
from incidents.services import IncidentError
from tests.pages import html

# The service tests' clock (see their `clock` fixtures).
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def snapshot(incident):
    """Everything a service could change about one incident, read from the database."""
    return {
        "incident": Incident.objects.filter(pk=incident.pk).values().get(),
        "responders": sorted(
            Incident.responders.through.objects.filter(incident_id=incident.pk)
            .values_list("user_id", flat=True)
        ),
        "services": sorted(
            Incident.services.through.objects.filter(incident_id=incident.pk)
            .values_list("service_id", flat=True)
        ),
        "timeline": list(TimelineEntry.objects.filter(incident_id=incident.pk)
                         .order_by("pk").values()),
        "revisions": list(TimelineRevision.objects.filter(entry__incident_id=incident.pk)
                          .order_by("pk").values()),
        "checklist": list(ChecklistItem.objects.filter(incident_id=incident.pk)
                          .order_by("pk").values()),
    }


def world():
    """Row counts and sequence counters: what a refused declaration must not touch."""
    return {
        "incidents": Incident.objects.count(),
        "timeline": TimelineEntry.objects.count(),
        "checklist": ChecklistItem.objects.count(),
        "sequences": list(IncidentSequence.objects.order_by("year").values_list("year", "last")),
    }


@contextmanager
def refused(incident, exc=IncidentError, match=None):
    """Expect `exc` from the block, and the incident left exactly as it was."""
    before = snapshot(incident)
    with time_machine.travel(timezone.now() + MINUTE, tick=False), \
            pytest.raises(exc, match=match) as info:
        yield info
    assert snapshot(incident) == before


@contextmanager
def nothing_declared(exc, match=None):
    before = world()
    with pytest.raises(exc, match=match):
        yield
    assert world() == before


def reload(obj):
    return type(obj).objects.get(pk=obj.pk)


def settle_closure(incident, by):
    for item in incident.checklist.filter(phase=ChecklistPhase.CLOSURE):
        services.set_checklist_item(item, done=True, by=by)


# Statuses reached from "declared" through the services, for table-driven tests.
PATH_TO = {
    Status.DECLARED: [],
    Status.INVESTIGATING: [Status.INVESTIGATING],
    Status.IDENTIFIED: [Status.IDENTIFIED],
    Status.FIXING: [Status.IDENTIFIED, Status.FIXING],
    Status.MONITORING: [Status.IDENTIFIED, Status.FIXING, Status.MONITORING],
    Status.RESOLVED: [Status.RESOLVED],
}


def bring_to(incident, status, by):
    if status == Status.RESOLVED:
        settle_closure(incident, by)
    for step in PATH_TO[status]:
        incident = services.change_status(incident, to=step, by=by, note="Fixed it.")
    assert reload(incident).status == status
    return reload(incident)


def triage_item(incident):
    return incident.checklist.filter(phase=ChecklistPhase.TRIAGE).first()


def system_entry(incident):
    return incident.timeline.get(kind=TimelineKind.DECLARED)


# --- the page tests ---------------------------------------------------------------------

HX = {"HTTP_HX_REQUEST": "true"}
LOGIN = "/accounts/login/"


def assert_full_page(response):
    text = html(response)
    assert text.lstrip().lower().startswith("<!doctype html>")
    assert "<html" in text


def hx_trigger(response):
    return response.headers.get("HX-Trigger", "")


def declare_bare(by, title="Checkout is down", severity=Severity.SEV2, **kwargs):
    return services.declare_incident(title=title, severity=severity, by=by, **kwargs)


def url(incident, suffix=""):
    return f"/incidents/{incident.ref}/{suffix}"


def closure_items(incident):
    return list(incident.checklist.filter(phase=ChecklistPhase.CLOSURE).order_by("position"))


def waive_closure(incident, by):
    for item in closure_items(incident):
        services.waive_checklist_item(item, reason="Not needed in tests", by=by)


def section(text, start_marker, end_marker=None):
    start = text.index(start_marker)
    end = text.index(end_marker, start) if end_marker else len(text)
    return text[start:end]


def titles_in(text, incidents):
    return {key for key, inc in incidents.items() if inc.title in text}
