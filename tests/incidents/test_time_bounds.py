"""User-given times are bounded (issue 16, item 2): a timeline entry from 30 days before
the incident started to now + 5 minutes, every other time from 2000-01-01 to a horizon
for its field; and a time already stored out of range never breaks a page."""

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone

from incidents import matchers, services
from incidents.models import Incident, Silence, TimelineEntry, TimelineRevision
from oncall import services as oncall_services
from oncall.models import Override, Profile
from tests.incidents.helpers import snapshot, world
from tests.incidents.test_api import bearer
from tests.incidents.test_declare import details
from tests.oncall.factories import ScheduleFactory

pytestmark = pytest.mark.django_db

YEAR_1 = datetime(1, 1, 1, 0, 30, tzinfo=UTC)
YEAR_9999 = datetime(9999, 12, 31, 23, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


def client_for(user, zone):
    Profile.objects.update_or_create(user=user, defaults={"timezone": zone})
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


# --- refused on the way in ------------------------------------------------------------

@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "UTC"])
@pytest.mark.parametrize("typed", ["0001-01-01T00:00", "1999-12-31T23:59",
                                   "9999-12-31T23:59", "2200-01-01T00:00"])
def test_an_out_of_range_timeline_time_is_a_400_and_stores_nothing(incident, ic, zone, typed):
    client = client_for(ic, zone)
    before = snapshot(incident)

    response = client.post(f"/incidents/{incident.ref}/timeline/",
                           {"body": "Back-filled", "kind": "note", "occurred_at": typed})

    assert response.status_code == 400
    assert "Pick a time between" in response.content.decode()
    assert snapshot(incident) == before


def test_a_timeline_entry_may_go_back_30_days_before_the_start_and_not_further(incident, ic):
    client = client_for(ic, "UTC")
    started = incident.started_at
    inside = timezone.localtime(started - timedelta(days=29), UTC)
    outside = timezone.localtime(started - timedelta(days=31), UTC)

    ok = client.post(f"/incidents/{incident.ref}/timeline/",
                     {"body": "Deploy", "kind": "note",
                      "occurred_at": inside.strftime("%Y-%m-%dT%H:%M")})
    refused = client.post(f"/incidents/{incident.ref}/timeline/",
                          {"body": "Too old", "kind": "note",
                           "occurred_at": outside.strftime("%Y-%m-%dT%H:%M")})

    assert ok.status_code in (200, 302) and refused.status_code == 400
    assert TimelineEntry.objects.filter(body="Deploy").exists()
    assert not TimelineEntry.objects.filter(body="Too old").exists()


def test_editing_an_entry_to_year_1_is_refused(incident, ic, note):
    client = client_for(ic, "Europe/Berlin")
    before = snapshot(incident)

    response = client.post(f"/incidents/{incident.ref}/timeline/{note.pk}/edit/",
                           {"body": "x", "kind": "note", "occurred_at": "0001-01-01T00:00",
                            "version": note.version})

    assert response.status_code == 400
    assert snapshot(incident) == before


# --- shown safely when stored anyway ---------------------------------------------------

def store_out_of_range(incident, note, moment):
    """Every time a person gives, stored as it might have been before the bounds (the
    system's own stamps, such as declared_at, are never user-given)."""
    Incident.objects.filter(pk=incident.pk).update(
        started_at=moment, detected_at=moment, acknowledged_at=moment,
        identified_at=moment, mitigated_at=moment, resolved_at=moment)
    TimelineEntry.objects.filter(pk=note.pk).update(occurred_at=moment)
    TimelineRevision.objects.create(entry=note, version=note.version, body=note.body,
                                    occurred_at=moment, kind=note.kind, replaced_by=None)


def pages(incident, note):
    return [f"/incidents/{incident.ref}/", f"/incidents/{incident.ref}/timeline/",
            f"/incidents/{incident.ref}/timeline/{note.pk}/",
            f"/incidents/{incident.ref}/timeline/{note.pk}/edit/",
            f"/incidents/{incident.ref}/timeline/{note.pk}/history/",
            f"/incidents/{incident.ref}/comms/",
            f"/reports/incidents/{incident.ref}/report.md", "/incidents/",
            "/incidents/?format=csv", "/", "/status/", "/reports/metrics/",
            "/admin/incidents/incident/", f"/admin/incidents/incident/{incident.pk}/change/",
            "/admin/incidents/timelineentry/",
            f"/admin/incidents/timelineentry/{note.pk}/change/",
            "/admin/incidents/timelinerevision/"]


@pytest.mark.parametrize("moment", [YEAR_1, YEAR_9999], ids=["year-1", "year-9999"])
@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles"])
def test_a_stored_out_of_range_time_renders_every_page(incident, note, manager, moment, zone):
    store_out_of_range(incident, note, moment)
    client = client_for(manager, zone)

    failed = {path: client.get(path).status_code for path in pages(incident, note)}
    api = client.get(f"/api/v1/incidents/{incident.ref}/", **bearer(manager))
    listing = client.get("/api/v1/incidents/", **bearer(manager))

    assert {path: code for path, code in failed.items() if code != 200} == {}
    assert api.status_code == 200 and listing.status_code == 200


# --- every other user-given time: 2000-01-01 to the field's horizon ---------------------

FAR = datetime(2200, 1, 1, tzinfo=UTC)
OLD = datetime(1999, 12, 31, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize("starts, ends", [(OLD, None), (None, FAR)], ids=["old", "far"])
def test_a_silence_outside_2000_to_ten_years_ahead_is_refused(ic, starts, ends):
    with pytest.raises(ValidationError, match="Pick a time between"):
        services.create_silence(matchers=matchers.parse('alertname="X"'), by=ic,
                                starts_at=starts, ends_at=ends or timezone.now() + HOUR,
                                comment="maintenance")
    assert not Silence.objects.exists()


def test_the_silence_form_names_the_window(ic):
    client = client_for(ic, "Europe/Berlin")

    response = client.post("/incidents/silences/", {
        "matchers": 'alertname="X"', "ends_at": "9999-12-31T23:59", "comment": "m"})

    assert response.status_code == 400
    assert "Pick a time between" in response.content.decode()


def test_an_override_far_ahead_is_refused_by_the_service_and_the_model(manager, ic):
    schedule = ScheduleFactory(members=[ic], by=manager)
    with pytest.raises(ValidationError, match="Pick a time between"):
        oncall_services.create_override(schedule, user=ic, start=timezone.now(), end=FAR,
                                        by=manager)
    with pytest.raises(ValidationError, match="Pick a time between"):
        Override(schedule=schedule, user=ic, start=OLD, end=timezone.now()).full_clean()
    assert not Override.objects.exists()


@pytest.mark.parametrize("typed", ["0001-01-01T00:00", "2200-01-01T00:00"])
def test_declaring_with_a_start_out_of_range_is_a_400(ic, typed):
    client = client_for(ic, "Europe/Berlin")
    before = world()

    response = client.post("/incidents/declare/", details(started_at=typed))

    assert response.status_code == 400
    assert "Pick a time between" in response.content.decode()
    assert world() == before


@pytest.mark.postgres
def test_a_bc_time_stored_before_the_bounds_is_repaired_by_the_migration(incident, note,
                                                                          manager):
    """PostgreSQL kept a year-1 Berlin time as 1 BC, which psycopg cannot read back."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE incidents_timelineentry SET occurred_at = "
                       "'0001-12-31 23:00:00+00 BC' WHERE id = %s", [note.pk])
    client = client_for(manager, "Europe/Berlin")
    assert client.get(f"/incidents/{incident.ref}/").status_code == 500

    importlib.import_module("incidents.migrations.0013_repair_out_of_range_times").repair(
        apps, None)

    assert client.get(f"/incidents/{incident.ref}/").status_code == 200
    note.refresh_from_db()
    assert note.occurred_at == note.created_at
