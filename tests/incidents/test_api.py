"""The JSON API (/api/v1/, django-ninja): token auth, the incident endpoints, the same
permissions as the dashboard, and no 500 for any input."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents import services
from incidents.models import Incident, Severity, Status, TimelineKind
from oncall import services as oncall_services
from oncall.models import ApiToken
from tests.incidents.factories import IncidentFactory, ServiceFactory
from tests.strategies import HOSTILE_JSON, HOSTILE_STRINGS, form_encoded

pytestmark = pytest.mark.django_db


def bearer(user):
    _, secret = oncall_services.create_api_token(user, name="tests")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def post(client, path, body, auth):
    return client.post(path, json.dumps(body), content_type="application/json", **auth)


# --- authentication ---------------------------------------------------------------------

def test_openapi_schema_is_served_and_lists_the_incident_endpoints(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/incidents/", "/api/v1/incidents/{ref}/",
            "/api/v1/incidents/{ref}/timeline/", "/api/v1/incidents/{ref}/transition/"} <= \
        set(paths)


@pytest.mark.parametrize("header", [None, "Bearer ", "Bearer mwir_not-a-token", "Basic abc",
                                    "Bearer " + "x" * 5000])
def test_no_or_a_bad_token_is_401_and_nothing_happens(client, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}

    listing = client.get("/api/v1/incidents/", **extra)
    declared = post(client, "/api/v1/incidents/", {"title": "x", "severity": 2}, extra)

    assert listing.status_code == 401 and declared.status_code == 401
    assert not Incident.objects.exists()


def test_a_revoked_token_stops_working_and_the_session_cookie_is_not_enough(client, ic):
    _, secret = oncall_services.create_api_token(ic, name="bot")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/api/v1/incidents/", **auth).status_code == 200

    oncall_services.revoke_api_token(ApiToken.objects.get(), by=ic)
    client.force_login(ic)

    assert client.get("/api/v1/incidents/", **auth).status_code == 401
    assert client.get("/api/v1/incidents/").status_code == 401


def test_a_token_of_a_deactivated_user_is_refused(client, ic):
    auth = bearer(ic)
    ic.is_active = False
    ic.save()

    assert client.get("/api/v1/incidents/", **auth).status_code == 401


def test_only_the_hash_of_a_token_is_stored(ic):
    row, secret = oncall_services.create_api_token(ic, name="bot")

    assert secret.startswith("mwir_") and secret not in row.token_hash
    assert secret.startswith(row.prefix) and len(row.prefix) < len(secret) // 2


# --- reading ----------------------------------------------------------------------------------

def test_list_filters_like_the_incident_list_and_pages(client, ic, responder):
    payments = ServiceFactory(name="Payments", slug="payments")
    sev1 = IncidentFactory(by=ic, severity=Severity.SEV1, services=[payments])
    IncidentFactory(by=ic, severity=Severity.SEV3)
    IncidentFactory(by=ic, severity=Severity.SEV3)
    auth = bearer(responder)

    everything = client.get("/api/v1/incidents/?limit=2", **auth).json()
    by_service = client.get("/api/v1/incidents/?service=payments", **auth).json()
    by_severity = client.get("/api/v1/incidents/?severity=3&severity=4", **auth).json()
    by_ref = client.get(f"/api/v1/incidents/?q={sev1.ref}", **auth).json()

    assert everything["count"] == 3 and len(everything["items"]) == 2
    assert [i["ref"] for i in by_service["items"]] == [sev1.ref]
    assert by_service["items"][0]["services"] == ["payments"]
    assert by_severity["count"] == 2
    assert [i["ref"] for i in by_ref["items"]] == [sev1.ref]
    assert client.get("/api/v1/incidents/?service=nope", **auth).json()["count"] == 0


def test_a_viewer_reads_one_incident_with_its_visible_timeline(client, ic, viewer):
    incident = IncidentFactory(by=ic)
    kept = services.add_timeline_entry(incident, body="Rolled back", by=ic)
    gone = services.add_timeline_entry(incident, body="typo", by=ic)
    services.delete_timeline_entry(gone, expected_version=gone.version, by=ic)

    response = client.get(f"/api/v1/incidents/{incident.ref.lower()}/", **bearer(viewer))

    body = response.json()
    assert response.status_code == 200
    assert body["ref"] == incident.ref and body["severity_label"] == "SEV-2"
    assert body["commander"] == "ic"
    bodies = [e["body"] for e in body["timeline"]]
    assert kept.body in bodies and "typo" not in bodies
    assert body["timeline"][0]["kind"] == TimelineKind.DECLARED


def test_unknown_incident_is_404_json(client, viewer):
    response = client.get("/api/v1/incidents/INC-1999-0001/", **bearer(viewer))

    assert response.status_code == 404 and "detail" in response.json()


# --- writing, with the dashboard's permissions ----------------------------------------------

def test_a_responder_declares_through_the_api(client, responder):
    ServiceFactory(name="Payments", slug="payments")

    response = post(client, "/api/v1/incidents/", {
        "title": "Checkout down", "severity": 1, "services": ["payments"],
        "customer_impact": "Nobody can pay", "detection_source": "datadog",
    }, bearer(responder))

    assert response.status_code == 201
    incident = Incident.objects.get()
    assert response.json()["ref"] == incident.ref
    assert incident.declared_by == responder and incident.severity == Severity.SEV1
    assert incident.timeline.filter(kind=TimelineKind.DECLARED).exists()


def test_a_viewer_may_not_declare_add_entries_or_transition(client, ic, viewer):
    incident = IncidentFactory(by=ic)
    auth = bearer(viewer)
    before = incident.timeline.count()

    declared = post(client, "/api/v1/incidents/", {"title": "x", "severity": 3}, auth)
    entry = post(client, f"/api/v1/incidents/{incident.ref}/timeline/", {"body": "hi"}, auth)
    moved = post(client, f"/api/v1/incidents/{incident.ref}/transition/",
                 {"to": "investigating"}, auth)

    assert (declared.status_code, entry.status_code, moved.status_code) == (403, 403, 403)
    assert "may declare" in declared.json()["detail"]
    assert Incident.objects.count() == 1 and incident.timeline.count() == before
    incident.refresh_from_db()
    assert incident.status == Status.DECLARED


def test_the_commander_adds_an_entry_and_moves_the_status_then_resolves(client, ic):
    incident = IncidentFactory(by=ic)
    auth = bearer(ic)

    entry = post(client, f"/api/v1/incidents/{incident.ref}/timeline/",
                 {"body": "Found the bad deploy", "kind": "finding"}, auth)
    moved = post(client, f"/api/v1/incidents/{incident.ref}/transition/",
                 {"to": "identified", "note": "deploy 42"}, auth)
    refused = post(client, f"/api/v1/incidents/{incident.ref}/transition/",
                   {"to": "resolved"}, auth)

    assert entry.status_code == 201 and entry.json()["author"] == "ic"
    assert entry.json()["kind"] == "finding"
    assert moved.status_code == 200 and moved.json()["status"] == "identified"
    assert refused.status_code == 400 and "resolved" in refused.json()["detail"]
    incident.refresh_from_db()
    assert incident.status == Status.IDENTIFIED


def test_system_kinds_and_unknown_services_are_refused_with_the_reason(client, ic):
    incident = IncidentFactory(by=ic)
    auth = bearer(ic)

    kind = post(client, f"/api/v1/incidents/{incident.ref}/timeline/",
                {"body": "x", "kind": "declared"}, auth)
    service = post(client, "/api/v1/incidents/",
                   {"title": "x", "severity": 3, "services": ["nope"]}, auth)

    assert kind.status_code == 400 and "kind must be one of" in kind.json()["detail"]
    assert service.status_code == 400 and "nope" in service.json()["detail"]
    assert Incident.objects.count() == 1


def test_malformed_bodies_name_the_field(client, ic):
    auth = bearer(ic)

    response = post(client, "/api/v1/incidents/", {"title": "", "severity": 9}, auth)
    broken = client.post("/api/v1/incidents/", "{oops", content_type="application/json", **auth)

    assert response.status_code == 422
    fields = {tuple(error["loc"])[-1] for error in response.json()["detail"]}
    assert fields == {"title", "severity"}
    assert broken.status_code == 400
    assert not Incident.objects.exists()


# --- no input gives a 500 --------------------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    | HOSTILE_JSON,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.dictionaries(
    st.sampled_from(["title", "severity", "services", "description", "customer_impact",
                     "detection_source", "body", "kind", "to", "note", "resolution"]),
    JSONISH, max_size=6)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=FIELDS | JSONISH,
       which=st.sampled_from(["", "{ref}/timeline/", "{ref}/transition/"]),
       query=st.dictionaries(st.sampled_from(["status", "severity", "service", "q", "limit",
                                              "offset", "detected_after"]),
                             st.text(max_size=20) | HOSTILE_STRINGS, max_size=4))
def test_random_bodies_and_queries_never_get_a_500(client, ic, body, which, query):
    auth = bearer(ic)
    incident = Incident.objects.first() or IncidentFactory(by=ic)
    path = "/api/v1/incidents/" + which.format(ref=incident.ref)

    written = post(client, path, body, auth)
    listed = client.get("/api/v1/incidents/?" + form_encoded(query), **auth)

    assert written.status_code < 500, written.content[:300]
    assert listed.status_code < 500, listed.content[:300]
