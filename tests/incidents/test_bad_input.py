"""Bad input is a 4xx that changes nothing, never a 500 or a database error (issue 16,
item 6): NUL and lone surrogates, integers past a bigint or not ASCII digits, an entry
longer than the one cap. Also run on PostgreSQL, which refuses NUL in text."""

import json

import pytest
from django.test import Client

from incidents import services
from incidents.models import MAX_ENTRY_LENGTH, Incident, TimelineEntry
from incidents.services import IncidentError
from oncall.models import ApiToken
from tests.incidents.helpers import snapshot, world
from tests.incidents.test_api import bearer, post

pytestmark = pytest.mark.django_db

NUL, SURROGATE = "a\x00b", "a\ud800b"


def raw_post(client, path, text, auth):
    """A JSON body as text, so a lone surrogate goes over the wire as `\\ud800`."""
    return client.post(path, text, content_type="application/json", **auth)


@pytest.fixture
def ui(ic):
    client = Client(raise_request_exception=False)
    client.force_login(ic)
    return client


@pytest.fixture
def anon_api():
    return Client(raise_request_exception=False)


# --- the JSON API ---------------------------------------------------------------------

@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
@pytest.mark.parametrize("field", ["title", "description", "customer_impact"])
def test_api_declare_with_bad_characters_is_a_4xx_and_declares_nothing(ic, anon_api, bad,
                                                                       field):
    before = world()
    body = {"title": "Checkout down", "severity": 2, field: bad}

    response = raw_post(anon_api, "/api/v1/incidents/", json.dumps(body), bearer(ic))

    assert 400 <= response.status_code < 500, response.content
    assert world() == before


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_api_timeline_entry_with_bad_characters_is_a_4xx(incident, ic, anon_api, bad):
    before = snapshot(incident)

    response = raw_post(anon_api, f"/api/v1/incidents/{incident.ref}/timeline/",
                        json.dumps({"body": bad}), bearer(ic))

    assert 400 <= response.status_code < 500, response.content
    assert snapshot(incident) == before


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_api_transition_note_with_bad_characters_is_a_4xx(incident, ic, anon_api, bad):
    before = snapshot(incident)

    response = raw_post(anon_api, f"/api/v1/incidents/{incident.ref}/transition/",
                        json.dumps({"to": "investigating", "note": bad}), bearer(ic))

    assert 400 <= response.status_code < 500, response.content
    assert snapshot(incident) == before


@pytest.mark.parametrize("query", ["offset=99999999999999999999", "limit=99999999999999999999",
                                   "offset=-1", "limit=0", "offset=%C2%B2", "limit=1e9",
                                   "detected_after=0001-01-01T00:00:00%2B14:00",
                                   "detected_before=9999-12-31T23:59:59-12:00",
                                   "q=%00", "service=%00"])
def test_api_list_with_wild_query_params_is_never_a_500(incident, ic, anon_api, query):
    response = anon_api.get(f"/api/v1/incidents/?{query}", **bearer(ic))

    assert response.status_code in (200, 400, 422), (query, response.content[:300])


@pytest.mark.parametrize("path, key", [("/api/v1/incidents/?q=%00", "detail"),
                                       ("/api/v1/events/v2/enqueue?x=%00", "message")])
def test_a_nul_in_an_api_query_string_is_a_json_400(ic, anon_api, path, key):
    response = anon_api.post(path, "{}", content_type="application/json", **bearer(ic)) \
        if "enqueue" in path else anon_api.get(path, **bearer(ic))

    assert response.status_code == 400
    assert "NUL character" in response.json()[key]


def test_api_offset_past_a_bigint_is_an_empty_page(incident, ic, anon_api):
    response = anon_api.get("/api/v1/incidents/?offset=99999999999999999999", **bearer(ic))

    assert response.status_code == 200
    assert response.json()["items"] == [] and response.json()["count"] == 1


def test_one_cap_for_a_timeline_entry_in_form_api_and_service(incident, ic, ui, anon_api):
    before = snapshot(incident)
    too_long = "x" * (MAX_ENTRY_LENGTH + 1)

    form = ui.post(f"/incidents/{incident.ref}/timeline/", {"body": too_long, "kind": "note"})
    api = post(anon_api, f"/api/v1/incidents/{incident.ref}/timeline/", {"body": too_long},
               bearer(ic))
    with pytest.raises(IncidentError, match="at most"):
        services.add_timeline_entry(incident, body=too_long, by=ic)

    assert form.status_code == 400 and 400 <= api.status_code < 500
    assert snapshot(incident) == before
    fits = ui.post(f"/incidents/{incident.ref}/timeline/",
                   {"body": "y" * MAX_ENTRY_LENGTH, "kind": "note"})
    assert fits.status_code in (200, 302)
    assert TimelineEntry.objects.filter(body="y" * MAX_ENTRY_LENGTH).exists()


# --- forms and query strings in the dashboard ------------------------------------------

@pytest.mark.parametrize("path", ["/incidents/?q=%00", "/incidents/?page=99999999999999999999",
                                  "/incidents/?page=%C2%B2", "/incidents/?q=a%00b&page=2",
                                  "/incidents/alerts/?q=%00"])
def test_dashboard_query_strings_with_bad_values_are_not_a_500(incident, ui, path):
    assert ui.get(path).status_code in (200, 400, 404)


def test_a_nul_in_any_form_or_query_string_is_a_400_with_the_reason(ic, ui):
    token = ui.post("/oncall/me/api-tokens/", {"name": NUL})
    search = ui.get("/incidents/", {"q": NUL})

    assert token.status_code == 400 and search.status_code == 400
    assert "NUL character" in token.content.decode()
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("path", ["/incidents/INC-%00/", "/incidents/INC-%00/live/",
                                  "/api/v1/integrations/a%00b/alertmanager",
                                  "/oncall/schedules/1%00/"])
def test_a_nul_in_the_path_is_a_400_never_a_database_error(incident, ui, path):
    response = ui.get(path)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_a_nul_in_a_timeline_form_is_a_400_and_stores_nothing(incident, ui):
    before = snapshot(incident)

    response = ui.post(f"/incidents/{incident.ref}/timeline/", {"body": NUL, "kind": "note"})

    assert response.status_code == 400
    assert snapshot(incident) == before


def test_a_nul_in_a_transition_note_is_a_400_and_changes_nothing(incident, ui):
    before = snapshot(incident)

    response = ui.post(f"/incidents/{incident.ref}/status/",
                       {"to": "investigating", "note": NUL})

    assert response.status_code == 400
    assert snapshot(incident) == before


@pytest.mark.parametrize("value", ["²", "99999999999999999999", "-1", "1e3", "\x00"])
def test_comms_template_param_that_is_not_an_ascii_integer_is_a_4xx(incident, ui, value):
    response = ui.get(f"/incidents/{incident.ref}/comms/compose/", {"template": value})

    assert response.status_code == (400 if value == "\x00" else 404)


@pytest.mark.parametrize("value", ["²", "99999999999999999999", "-1", "\x00", ""])
def test_runbook_attach_with_a_bad_id_is_a_4xx_and_attaches_nothing(incident, ui, value):
    before = Incident.objects.get(pk=incident.pk).runbooks.count() \
        if hasattr(incident, "runbooks") else None

    response = ui.post(f"/incidents/{incident.ref}/runbooks/attach/", {"runbook": value})

    assert 400 <= response.status_code < 500
    if before is not None:
        assert Incident.objects.get(pk=incident.pk).runbooks.count() == before
