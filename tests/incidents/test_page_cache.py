"""Whole pages kept per viewer under versions are never stale (issue 19).

The dashboard, the incident list, an incident's page and the metrics page are kept whole
(mindweave_ir/live/pages.py). A repeat view by the same viewer renders nothing; every
change of what the page shows — a service write, a role given, a handoff coming due
by time alone, a new incident for the metrics — shows on the next view; what varies
by viewer (roles, session, messages) is never shared.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.contrib.messages import constants
from django.contrib.messages.storage.cookie import CookieStorage
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services
from oncall.roles import Role
from reports.models import Handoff, HandoffState
from reports.reminders import prepare_lead
from tests.conftest import make_user
from tests.incidents.factories import declare

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

METRICS = "/reports/metrics/"


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def without_tokens(html):
    return re.sub(r'(csrfmiddlewaretoken" value="|"x-csrftoken": ")[^"]+', r"\1", html)


def queries(client, path):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return [q["sql"] for q in captured]


def signed_in(user):
    client = Client()
    client.force_login(user)
    client.get("/healthz")  # the signed-in user is cached from here on
    return client


@pytest.fixture
def incident(ic):
    incident = declare(ic, title="Checkout is down")
    services.add_timeline_entry(incident, body="Restarted the pods", by=ic)
    return incident


def test_a_repeat_view_reads_only_the_versions(viewer, incident):
    client = signed_in(viewer)
    url = incident.get_absolute_url()
    for path, reads in (("/", ["live_livetopic"]), (url, ["incidents_incident"]),
                        ("/incidents/?severity=1&sort=-detected_at", ["live_livetopic"]),
                        (METRICS, ["reports_postincidentreview"])):
        first = page(client, path)
        repeat = [sql for sql in queries(client, path) if "django_session" not in sql]
        assert without_tokens(page(client, path)) == without_tokens(first)
        # The version read(s), nothing rendered: no timeline, page, user or check query.
        assert len(repeat) == len(reads), (path, repeat)
        for sql, table in zip(repeat, reads, strict=True):
            assert table in sql, (path, repeat)
    assert not [sql for sql in queries(client, url) if "timelineentry" in sql]


def test_every_change_of_an_incident_shows_on_the_next_view(viewer, ic, responder, incident,
                                                             django_user_model):
    client = signed_in(viewer)
    url = incident.get_absolute_url()
    page(client, url)
    services.add_timeline_entry(incident, body="Rolled back the deploy", by=ic)
    assert "Rolled back the deploy" in page(client, url)
    services.assign_role(incident, role="technical_lead", user=responder, by=ic)
    roles = page(client, url).split('id="incident-roles"')[1].split("</section>")[0]
    assert "Responder" in roles
    ic.first_name = "Ines"
    ic.save()  # a rename, as the admin saves it
    assert "Ines" in page(client, url).split('id="incident-header"')[1]


def test_a_role_given_shows_in_the_role_choices_and_the_viewers_controls(
        viewer, ic, incident, django_user_model):
    newcomer = make_user(django_user_model, "newcomer", last_name="Person")
    commander = signed_in(ic)
    url = incident.get_absolute_url()
    assert "Newcomer Person" not in page(commander, url)  # not a responder yet
    newcomer.groups.add(Group.objects.get_or_create(name=Role.RESPONDER)[0])
    assert "Newcomer Person" in page(commander, url)  # offered for the incident's roles

    watcher = signed_in(viewer)
    assert "/status/" not in page(watcher, url)
    viewer.groups.add(Group.objects.get_or_create(name=Role.INCIDENT_COMMANDER)[0])
    assert "/status/" in page(watcher, url)


def test_another_session_is_served_the_kept_page_with_its_own_token(ic, incident):
    url = incident.get_absolute_url()
    first = signed_in(ic)
    kept = page(first, url)
    second = Client(enforce_csrf_checks=True)
    second.force_login(ic)  # the same person on another device: another session
    second.get("/healthz")
    with CaptureQueriesContext(connection) as captured:
        text = page(second, url)
    assert not [q for q in captured if "timelineentry" in q["sql"]]  # served, not rendered
    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', text))
    header = re.search(r'"x-csrftoken": "([^"]+)"', text).group(1)
    assert len(tokens) == 1 and tokens == {header}  # every form: one token, this session's
    assert not tokens & set(re.findall(r'csrfmiddlewaretoken" value="([^"]+)"', kept))
    response = second.post(f"{url}timeline/", {"csrfmiddlewaretoken": header,
                                               "body": "From the phone", "kind": "note"})
    assert response.status_code in (200, 302), response.status_code
    assert incident.timeline.filter(body="From the phone").exists()


def test_a_message_is_shown_once_and_never_kept(viewer, incident):
    client = signed_in(viewer)
    url = incident.get_absolute_url()
    page(client, url)  # kept without a message
    request = HttpRequest()
    storage = CookieStorage(request)
    storage.add(constants.SUCCESS, "Silence #7 created")  # as a view's redirect leaves it
    response = HttpResponse()
    storage.update(response)
    client.cookies[storage.cookie_name] = response.cookies[storage.cookie_name].value
    assert "Silence #7 created" in page(client, url)
    assert "Silence #7 created" not in page(client, url)


def test_a_handoff_coming_due_shows_by_time_alone(ic, responder):
    now = timezone.now().replace(microsecond=0)
    end = now + prepare_lead() + timedelta(minutes=3)
    Handoff.objects.create(schedule_name="Primary On-Call", schedule_timezone="UTC",
                           shift_start=end - timedelta(days=7), shift_end=end,
                           outgoing=ic, incoming=responder, state=HandoffState.DRAFT)
    with time_machine.travel(now, tick=False) as clock:
        client = signed_in(ic)
        assert "prepare the handoff" not in page(client, "/")
        assert "prepare the handoff" not in page(client, "/")  # kept
        clock.move_to(now + timedelta(minutes=3, seconds=1))  # no write: time alone
        assert "prepare the handoff" in page(client, "/")


def test_the_metrics_follow_a_new_incident(viewer, ic, incident):
    client = signed_in(viewer)
    before = page(client, METRICS)
    declare(ic, title="Payments are slow")
    assert page(client, METRICS) != before


def test_htmx_and_bad_requests_are_never_kept(viewer, incident):
    client = signed_in(viewer)
    bad = client.get(METRICS + "?severity=9")
    assert bad.status_code == 400
    assert client.get(METRICS + "?severity=9").status_code == 400
    fragment = client.get(METRICS, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and b"<html" not in fragment.content
    assert b"<html" in client.get(METRICS).content
