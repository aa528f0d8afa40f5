"""Cached fragments are never stale (issue 19).

The dashboard's tables, the incident list, the on-call panel and the signed-in user
are cached under versions that every change moves. Each test renders a page once
(filling the cache), changes what it shows the way users and managers change it — a
service, the admin's plain save, a rename — and checks the next render shows it.
A repeat of an unchanged page runs only the version read and what is not cached.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.models import Service, Severity, Status
from oncall import services as oncall_services
from oncall.roles import Role
from tests.conftest import make_user
from tests.incidents.factories import declare
from tests.oncall.factories import ScheduleFactory

# Versions move on commit: each test commits, as requests do.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LIST = "/incidents/?status=declared&status=investigating"


def page(client, path="/"):
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def queries(client, path):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return [q["sql"] for q in captured]


@pytest.fixture
def watching(client, viewer):
    client.force_login(viewer)
    return client


@pytest.mark.parametrize("path", ["/", LIST])
def test_a_repeat_runs_no_query_for_the_cached_tables(watching, ic, path):
    for n in range(3):
        declare(ic, title=f"Incident {n}")
    page(watching, path)
    repeat = queries(watching, path)
    assert not [sql for sql in repeat if "incidents_incident" in sql], repeat
    assert any("live_livetopic" in sql for sql in repeat)  # the version, read first


@pytest.mark.parametrize("path", ["/", LIST])
def test_every_service_write_shows_on_the_next_render(watching, ic, responder, path):
    incident = declare(ic, title="Checkout is down")
    assert "Checkout is down" in page(watching, path)
    services.change_severity(incident, to=Severity.SEV1, by=ic, reason="Worse")
    assert 'class="badge sev-1"' in page(watching, path)
    services.change_status(incident, to=Status.INVESTIGATING, by=ic)
    assert "status-investigating" in page(watching, path)
    other = declare(ic, title="Payments are slow")
    assert "Payments are slow" in page(watching, path)
    assert other.ref in page(watching, path)


@pytest.mark.parametrize("path", ["/", LIST])
def test_saves_outside_the_services_show_on_the_next_render(watching, ic, path):
    service = Service.objects.create(name="Storefront", slug="storefront")
    incident = declare(ic, title="Checkout is down", services=[service])
    assert "Storefront" in page(watching, path)
    service.name = "Storefront API"  # as the admin saves it
    service.save()
    assert "Storefront API" in page(watching, path)
    ic.first_name, ic.last_name = "Ines", "Commander"
    ic.save()
    assert "Ines Commander" in page(watching, path)
    incident.title = "Checkout is down for everyone"
    incident.save()
    assert "Checkout is down for everyone" in page(watching, path)
    other = Service.objects.create(name="Search", slug="search")
    incident.services.add(other)
    assert "Search" in page(watching, path)


def test_my_incidents_are_per_person(client, ic, responder):
    incident = declare(ic, title="Checkout is down")
    client.force_login(ic)
    mine = page(client).split("My incidents")[1].split("All active")[0]
    assert incident.ref in mine
    client.force_login(responder)
    theirs = page(client).split("My incidents")[1].split("All active")[0]
    assert incident.ref not in theirs
    services.assign_role(incident, role="technical_lead", user=responder, by=ic)
    theirs = page(client).split("My incidents")[1].split("All active")[0]
    assert incident.ref in theirs


DECLARE_BUTTON = 'class="button primary" href="/incidents/declare/"'


def test_the_declare_button_follows_the_viewers_role(client, viewer, ic):
    client.force_login(ic)
    assert DECLARE_BUTTON in page(client)
    client.force_login(viewer)
    assert DECLARE_BUTTON not in page(client)


def test_times_follow_the_viewers_zone(client, viewer, ic):
    declare(ic, title="Checkout is down")
    client.force_login(viewer)
    assert " UTC</td>" in page(client)
    oncall_services.set_timezone(viewer, "Asia/Tokyo")
    assert " JST</td>" in page(client)


def test_open_sla_timers_carry_their_deadline_not_a_countdown(watching, ic):
    incident = declare(ic, title="Checkout is down")
    text = page(watching)
    assert f'data-deadline="{incident.response_due_at().isoformat()}"' in text
    assert " left</span>" not in text and "BREACHED" not in text


MONDAY = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # 09:00 New York: the handoff


def test_the_on_call_panel_changes_at_the_handoff_and_on_an_override(
        client, viewer, ic, responder, manager, django_user_model):
    with time_machine.travel(MONDAY - timedelta(minutes=2), tick=False) as clock:
        ScheduleFactory(name="Primary On-Call", members=[ic, responder], by=manager)
        client.force_login(viewer)
        panel = page(client).split('id="on-call-panel"')[1].split("</section>")[0]
        assert "<strong>Ic</strong>" in panel
        clock.move_to(MONDAY + timedelta(seconds=1))  # no write: time alone
        panel = page(client).split('id="on-call-panel"')[1].split("</section>")[0]
        assert "<strong>Responder</strong>" in panel
        schedule = ScheduleFactory._meta.model.objects.get(name="Primary On-Call")
        cover = make_user(django_user_model, "cover")
        oncall_services.create_override(schedule, user=cover, start=MONDAY,
                                        end=MONDAY + timedelta(hours=2), by=manager)
        panel = page(client).split('id="on-call-panel"')[1].split("</section>")[0]
        assert "<strong>Cover</strong>" in panel


# --- The signed-in user, from the cache ------------------------------------------------

def test_a_signed_in_request_reads_the_user_once_then_from_the_cache(watching):
    queries(watching, "/healthz")
    repeat = queries(watching, "/healthz")
    assert not [sql for sql in repeat if "auth_user" in sql or "oncall_profile" in sql], repeat


def test_a_role_taken_away_is_gone_on_the_next_request(client, django_user_model):
    person = make_user(django_user_model, "person", Role.INCIDENT_COMMANDER)
    client.force_login(person)
    assert DECLARE_BUTTON in page(client)
    person.groups.remove(Group.objects.get(name=Role.INCIDENT_COMMANDER))
    assert DECLARE_BUTTON not in page(client)
    Group.objects.get(name=Role.INCIDENT_COMMANDER).user_set.add(person)  # the other side
    assert DECLARE_BUTTON in page(client)


def test_a_deactivated_user_is_signed_out_on_the_next_request(client, viewer):
    client.force_login(viewer)
    page(client)
    viewer.is_active = False
    viewer.save()  # as the admin does
    assert client.get("/").status_code == 302


def test_a_password_change_ends_the_other_sessions(client, viewer):
    client.force_login(viewer)
    page(client)
    viewer.set_password("a-new-long-password-1")
    viewer.save()
    assert client.get("/").status_code == 302


def test_a_tampered_session_hash_is_refused_even_with_the_user_cached(client, viewer):
    client.force_login(viewer)
    page(client)
    session = client.session
    session["_auth_user_hash"] = "0" * 64
    session.save()
    assert client.get("/").status_code == 302


# --- The incident page's timeline -------------------------------------------------------

def test_the_timeline_shows_every_entry_change_on_the_next_render(watching, ic):
    incident = declare(ic, title="Checkout is down")
    url = incident.get_absolute_url()
    page(watching, url)
    entry = services.add_timeline_entry(incident, body="Restarted the pods", by=ic)
    assert "Restarted the pods" in page(watching, url)
    services.edit_timeline_entry(entry, body="Restarted the checkout pods", by=ic,
                                 expected_version=entry.version)
    assert "Restarted the checkout pods" in page(watching, url)
    entry.refresh_from_db()
    entry.body_html = "<p>Fixed by a data repair</p>"
    entry.save()  # outside a service
    assert "Fixed by a data repair" in page(watching, url)


def test_an_editors_timeline_is_their_own_and_its_forms_work(client, viewer, ic):
    incident = declare(ic, title="Checkout is down")
    entry = services.add_timeline_entry(incident, body="Restarted the pods", by=ic)
    url = incident.get_absolute_url()
    client.force_login(viewer)
    assert f"/timeline/{entry.pk}/delete/" not in page(client, url)
    client.force_login(ic)
    page(client, url)
    text = page(client, url)  # from the cache
    assert f"/timeline/{entry.pk}/delete/" in text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"',
                     text.split(f'id="entry-{entry.pk}"')[1]).group(1)
    guarded = Client(enforce_csrf_checks=True)
    guarded.cookies = client.cookies
    response = guarded.post(f"{url}timeline/{entry.pk}/delete/",
                            {"csrfmiddlewaretoken": csrf, "version": entry.version})
    assert response.status_code in (200, 302)
    entry.refresh_from_db()
    assert entry.deleted_at is not None


def test_signing_in_does_not_move_the_names_version(client, viewer):
    from mindweave_ir.live import versions

    before = versions.version(versions.NAMES)
    client.force_login(viewer)  # saves last_login only
    assert versions.version(versions.NAMES) == before
    viewer.first_name = "Vera"
    viewer.save()
    assert versions.version(versions.NAMES) == before + 1
