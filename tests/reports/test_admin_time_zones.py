"""Issue 17 item 8: every time the admin shows names its zone, the viewer's (a manager
in Berlin sees CET, as in the app), and the public page and templates say UTC."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.utils import timezone

from incidents.models import Incident, TimelineEntry
from mindweave_ir.templatetags.mw import when
from oncall.models import Profile
from reports.models import PIRChange, PostIncidentReview
from tests.pages import html
from tests.reports.factories import resolved_pir

pytestmark = pytest.mark.django_db

DUE = datetime(2026, 12, 11, 1, 50, tzinfo=UTC)  # 02:50 in Berlin, 20:50 the day before in NY
DETECTED = datetime(2026, 12, 10, 1, 47, tzinfo=UTC)


@pytest.fixture
def berlin_manager(manager):
    Profile.objects.update_or_create(user=manager, defaults={"timezone": "Europe/Berlin"})
    client = Client()
    client.force_login(manager)
    return client


@pytest.fixture
def pir(ic):
    pir = resolved_pir(ic)
    PostIncidentReview.objects.filter(pk=pir.pk).update(due_at=DUE)
    Incident.objects.filter(pk=pir.incident_id).update(detected_at=DETECTED, declared_at=DETECTED)
    TimelineEntry.objects.filter(incident=pir.incident_id).update(occurred_at=DETECTED)
    return PostIncidentReview.objects.get(pk=pir.pk)


def test_the_review_admin_shows_every_time_in_the_viewers_zone_named(berlin_manager, pir):
    text = html(berlin_manager.get(f"/admin/reports/postincidentreview/{pir.pk}/change/"))
    assert "2026-12-11 02:50 CET" in text  # due, read-only
    assert "2:50 a.m." not in text
    assert "(UTC)" not in text and "Key timeline" in text
    assert "<td>2026-12-10 02:47 CET</td><td>Declared</td>" in text  # milestones
    assert "2026-12-10 02:47 CET · " in text  # the key entries to choose from
    app = html(berlin_manager.get(f"/reports/pir/{pir.incident.ref}/"))
    assert "2026-12-11 02:50 CET" in app  # the same fact, the same words


def test_times_in_the_repeated_dst_hour_say_which_one_in_the_review_admin(berlin_manager, pir):
    # 00:40 UTC on 31 October 2027 is 02:40 CEST; an hour later it is 02:40 CET again.
    first, second = datetime(2027, 10, 31, 0, 40, tzinfo=UTC), datetime(2027, 10, 31, 1, 40,
                                                                         tzinfo=UTC)
    PostIncidentReview.objects.filter(pk=pir.pk).update(due_at=first, created_at=second)
    PIRChange.objects.filter(pir=pir).update(at=second)

    text = html(berlin_manager.get(f"/admin/reports/postincidentreview/{pir.pk}/change/"))

    assert "2027-10-31 02:40 CEST" in text  # due
    assert "2027-10-31 02:40 CET" in text  # created, and the audit trail's rows
    assert "2027-10-31 02:40<" not in text and "2027-10-31 02:40 <" not in text


def test_admin_list_columns_name_the_zone(berlin_manager, pir):
    text = html(berlin_manager.get("/admin/reports/pirchange/"))
    change = PIRChange.objects.filter(pir=pir).first()
    with timezone.override("Europe/Berlin"):
        assert when(change.at) in text


def test_date_times_typed_in_the_admin_say_which_zone(berlin_manager, pir):
    text = html(berlin_manager.get("/admin/incidents/silence/add/"))
    assert text.count("In your time zone, Europe/Berlin.") == 2  # starts, ends


def test_object_names_in_the_admin_name_the_zone(pir):
    change = PIRChange.objects.filter(pir=pir).first()
    with timezone.override("Europe/Berlin"):
        assert str(change).endswith(f"{when(change.at)}: {change.what[:60]}")
        assert "CET" in str(TimelineEntry.objects.filter(incident=pir.incident_id).first())


def test_the_public_status_page_says_utc_even_to_a_signed_in_berlin_viewer(
        berlin_manager, ic):
    from incidents import services
    from incidents.models import CommsKind, CommsUpdate
    from tests.incidents.factories import declare

    update = services.send_update(declare(ic), channel=CommsKind.STATUS_PAGE, subject="S",
                                  body="B", state="investigating", by=ic)
    CommsUpdate.objects.filter(pk=update.pk).update(created_at=DUE)
    text = html(berlin_manager.get("/status/"))
    assert "2026-12-11 01:50 UTC" in text and "02:50" not in text
