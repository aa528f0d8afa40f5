"""Prometheus Alertmanager webhook (issue 6 items 1, 2, 4): grouping, resolves,
bad input; the alert list, the incident page's alerts and the admin."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents import ingest
from incidents.models import (
    Alert,
    AlertStatus,
    DetectionSource,
    InboundPayload,
    Incident,
    Integration,
    IntegrationKind,
    PayloadOutcome,
    Severity,
    Status,
)
from oncall.models import Page
from oncall.tokens import hash_token
from tests.strategies import HOSTILE_JSON

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
HX = {"HTTP_HX_REQUEST": "true"}
# After the fixtures' startsAt and endsAt.
NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True):
        yield


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def url(token):
    return f"/api/v1/integrations/{token}/alertmanager"


def send(api, token, body):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return api.post(url(token), raw, content_type="application/json")


def test_a_firing_group_opens_one_incident_that_pages_once(api, prometheus, default_policy):
    _, token = prometheus

    response = send(api, token, fixture("alertmanager_firing.json"))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert [a["key"] for a in body["alerts"]] == ["1a30ba71cca2921f", "6c1e5d0f2a9b4e77"]
    first, second = Alert.objects.order_by("id")
    incident = Incident.objects.get()
    assert first.incident == second.incident == incident
    assert incident.title == "BlackBox probe failure: https://checkout.example.org"
    assert incident.severity == Severity.SEV1
    assert incident.detection_source == DetectionSource.MONITORING
    assert incident.started_at.isoformat().startswith("2026-11-27T09:58:45")
    assert Page.objects.get().policy == default_policy
    assert first.opened_incident and first.paged
    assert not second.opened_incident and not second.paged
    assert f"joined {incident.ref}, the open incident of its group; no page" in second.routing
    assert first.source == "https://checkout.example.org"
    assert first.link.startswith("http://prometheus.example.org:9090/graph")
    assert incident.timeline.filter(body__startswith="Alert joined").count() == 1


def test_a_replayed_firing_payload_folds_into_the_open_alerts(api, prometheus, default_policy):
    _, token = prometheus
    send(api, token, fixture("alertmanager_firing.json"))

    response = send(api, token, fixture("alertmanager_firing.json"))

    assert response.status_code == 200
    assert all("folded into existing alert" in a["outcome"] for a in response.json()["alerts"])
    assert list(Alert.objects.values_list("count", flat=True)) == [2, 2]
    assert Incident.objects.count() == 1 and Page.objects.count() == 1


def test_a_resolved_alert_is_noted_on_the_timeline_and_the_incident_stays_open(
        api, prometheus):
    _, token = prometheus
    send(api, token, fixture("alertmanager_firing.json"))

    response = send(api, token, fixture("alertmanager_resolved.json"))
    replay = send(api, token, fixture("alertmanager_resolved.json"))

    assert response.status_code == replay.status_code == 200
    resolved = Alert.objects.get(key="1a30ba71cca2921f")
    still_firing = Alert.objects.get(key="6c1e5d0f2a9b4e77")
    assert resolved.status == AlertStatus.RESOLVED
    assert resolved.resolved_at.isoformat().startswith("2026-11-27T10:20:45")
    assert still_firing.status == AlertStatus.TRIGGERED
    incident = resolved.incident
    assert incident.status == Status.DECLARED
    assert incident.timeline.filter(body__startswith="Alert resolved").count() == 1
    assert "nothing changed" in replay.json()["alerts"][0]["outcome"]


def test_the_severity_label_goes_through_the_integrations_map(api, default_policy):
    ingest.create_integration(name="Staging", kind=IntegrationKind.ALERTMANAGER,
                              severity_map={"critical": 3, "page": 2})
    integration = Integration.objects.get(name="Staging")
    token = ingest.regenerate_token(integration)
    body = fixture("alertmanager_firing.json")
    body["alerts"] = body["alerts"][:1]

    send(api, token, body)
    body["groupKey"], body["alerts"][0]["fingerprint"] = "other", "f2"
    del body["alerts"][0]["labels"]["severity"]
    send(api, token, body)

    first, second = Alert.objects.order_by("id")
    assert first.severity == Severity.SEV3 and first.source_severity == "critical"
    assert second.severity == Severity.SEV3  # no label: the integration's default
    assert second.incident != first.incident  # another group


def test_an_alert_without_fingerprint_is_keyed_by_its_labels(api, prometheus):
    _, token = prometheus
    body = fixture("alertmanager_firing.json")
    for alert in body["alerts"]:
        del alert["fingerprint"]

    send(api, token, body)
    send(api, token, body)

    assert Alert.objects.count() == 2
    assert set(Alert.objects.values_list("count", flat=True)) == {2}


# --- bad input --------------------------------------------------------------------

@pytest.mark.parametrize(("change", "error"), [
    (lambda b: b.update(version="3"), "'version' must be \"4\""),
    (lambda b: b.pop("groupKey"), "'groupKey' is missing or blank"),
    (lambda b: b.update(status="maybe"), "'status' must be firing or resolved"),
    (lambda b: b.update(alerts={}), "'alerts' is missing or not a list"),
    (lambda b: b.update(commonLabels={"a": 1}), "'commonLabels' must be an object of strings"),
    (lambda b: b["alerts"].append("x"), "'alerts[2]' must be an object"),
    (lambda b: b["alerts"][1].update(labels=["x"]),
     "'alerts[1].labels' is missing or not an object of strings"),
    (lambda b: b["alerts"][0].update(status="pending"),
     "'alerts[0].status' must be firing or resolved"),
    (lambda b: b["alerts"][0].update(startsAt="soon"),
     "'alerts[0].startsAt' is missing or not an ISO 8601 timestamp (1970-9000)"),
    (lambda b: b["alerts"][0].update(startsAt="0001-01-01T00:00:00Z"),
     "'alerts[0].startsAt' is missing or not an ISO 8601 timestamp (1970-9000)"),
    (lambda b: b["alerts"][0].update(fingerprint=7), "'alerts[0].fingerprint' must be a string"),
])
def test_wrong_fields_get_a_400_naming_the_field_and_the_body_is_kept(
        api, prometheus, change, error):
    _, token = prometheus
    body = fixture("alertmanager_firing.json")
    change(body)

    response = send(api, token, body)

    assert response.status_code == 400
    assert response.json()["status"] == "invalid payload"
    assert error in response.json()["errors"]
    payload = InboundPayload.objects.get()
    assert payload.outcome == PayloadOutcome.REJECTED and error in payload.error
    assert not Alert.objects.exists() and not Incident.objects.exists()


@pytest.mark.parametrize("body", [b"{broken", b"", b"[1, 2]", b"\xff\xfe{}",
                                  b'{"version": "4", "x": Infinity}'])
def test_unreadable_bodies_get_a_400_and_are_kept_as_rejected(api, prometheus, body):
    _, token = prometheus

    response = send(api, token, body)

    assert response.status_code == 400
    payload = InboundPayload.objects.get()
    assert payload.outcome == PayloadOutcome.REJECTED and payload.error


def test_a_nul_byte_in_the_body_is_kept_readable_and_refused(api, prometheus):
    _, token = prometheus

    response = send(api, token, b'{"version": "4",\x00}')

    assert response.status_code == 400
    assert "\ufffd" in InboundPayload.objects.get().body


@pytest.mark.parametrize("bad", ["\\ud800", "\\u0000", "\\udfff\\ud800", "\\uDC00",
                                 "\\uD9FF\\u0026"])
def test_a_bad_character_in_one_label_is_replaced_and_every_alert_is_kept(api, prometheus,
                                                                         default_policy, bad):
    """Issue 16: a lone surrogate or NUL in one label value used to fail the whole body
    (every alert of the group dropped while Alertmanager retried)."""
    _, token = prometheus
    body = json.dumps(fixture("alertmanager_firing.json"))
    body = body.replace('"monitor": "master"', f'"monitor": "mas{bad}ter"')
    assert bad in body

    response = send(api, token, body)

    assert response.status_code == 200, response.content
    assert Alert.objects.count() == 2
    for alert in Alert.objects.all():
        monitor = alert.labels["monitor"]
        assert monitor.startswith("mas\ufffd") and monitor.endswith("ter"), monitor
    assert InboundPayload.objects.get().outcome == PayloadOutcome.PROCESSED


def test_unknown_disabled_or_other_kind_tokens_are_a_404_and_nothing_is_stored(api, prometheus):
    integration, token = prometheus
    _, events_token = ingest.create_integration(name="PD", kind=IntegrationKind.EVENTS)
    body = fixture("alertmanager_firing.json")

    assert send(api, "unknown", body).status_code == 404
    assert send(api, events_token, body).status_code == 404
    Integration.objects.filter(pk=integration.pk).update(enabled=False)
    response = send(api, token, body)

    assert response.status_code == 404
    assert response.json() == {"status": "not found",
                               "message": "Unknown or disabled integration token"}
    assert not InboundPayload.objects.exists()


def test_a_body_over_one_megabyte_is_a_413_and_not_stored(api, prometheus):
    _, token = prometheus
    body = fixture("alertmanager_firing.json")
    body["commonAnnotations"] = {"blob": "x" * ingest.MAX_BODY_BYTES}

    response = send(api, token, body)

    assert response.status_code == 413
    assert not InboundPayload.objects.exists()


def test_the_url_matches_the_contract():
    assert reverse("alertmanager-webhook", args=["T"]) == "/api/v1/integrations/T/alertmanager"


# --- tokens -------------------------------------------------------------------------

def test_only_the_tokens_hash_and_prefix_are_stored(prometheus):
    integration, token = prometheus

    integration.refresh_from_db()
    assert integration.token_hash == hash_token(token) != token
    assert integration.token_prefix == token[:8]
    assert token not in json.dumps(list(Integration.objects.values()), default=str)


def test_a_regenerated_token_replaces_the_old_one(api, prometheus):
    integration, old = prometheus

    new = ingest.regenerate_token(integration)

    assert new != old
    assert send(api, old, fixture("alertmanager_firing.json")).status_code == 404
    assert send(api, new, fixture("alertmanager_firing.json")).status_code == 200


def test_a_severity_map_outside_sev1_to_sev4_is_refused():
    with pytest.raises(ingest.IntegrationError, match="1, 2, 3 or 4"):
        ingest.create_integration(name="Bad", kind=IntegrationKind.EVENTS,
                                  severity_map={"critical": 0})
    assert not Integration.objects.exists()


def test_a_duplicate_name_is_refused():
    ingest.create_integration(name="Prometheus", kind=IntegrationKind.ALERTMANAGER)

    with pytest.raises(ingest.IntegrationError, match="already exists"):
        ingest.create_integration(name="prometheus", kind=IntegrationKind.EVENTS)


# --- pages --------------------------------------------------------------------------

def test_the_incident_page_shows_its_alerts_and_why(client, api, prometheus, viewer):
    _, token = prometheus
    send(api, token, fixture("alertmanager_firing.json"))
    incident = Incident.objects.get()
    client.force_login(viewer)

    text = client.get(incident.get_absolute_url()).content.decode()

    assert 'id="incident-alerts"' in text
    assert "BlackBox probe failure: https://api.example.org" in text
    assert f"opened {incident.ref} at SEV-1" in text


def test_a_declared_incident_says_it_has_no_alerts(client, ic):
    from tests.incidents.factories import declare

    incident = declare(ic)
    client.force_login(ic)

    assert "No alerts: this incident was declared by hand." in \
        client.get(incident.get_absolute_url()).content.decode()


def test_the_alert_list_filters_by_status_integration_and_text(client, api, prometheus, viewer):
    integration, token = prometheus
    send(api, token, fixture("alertmanager_firing.json"))
    send(api, token, fixture("alertmanager_resolved.json"))
    client.force_login(viewer)
    list_url = reverse("incidents:alerts")

    everything = client.get(list_url).content.decode()
    firing = client.get(list_url, {"status": "triggered"}).content.decode()
    by_text = client.get(list_url, {"q": "api.example"}, **HX).content.decode()
    by_integration = client.get(list_url, {"integration": integration.pk}).content.decode()

    assert list_url == "/incidents/alerts/"
    assert everything.count("BlackBox probe failure") == 2
    assert "checkout.example.org" not in firing and "api.example.org" in firing
    assert "<html" not in by_text and 'id="alert-table"' in by_text
    assert "checkout.example.org" not in by_text
    assert by_integration.count("BlackBox probe failure") == 2


def test_the_alert_list_needs_login(client):
    response = client.get(reverse("incidents:alerts"))

    assert response.status_code == 302


def test_the_alert_list_queries_do_not_grow_with_rows(
        client, api, prometheus, viewer, django_assert_max_num_queries):
    _, token = prometheus
    body = fixture("alertmanager_firing.json")
    for n in range(15):
        body["groupKey"] = f"group-{n}"
        for alert in body["alerts"]:
            alert["fingerprint"] = f"{n}-{alert['labels']['instance']}"
        send(api, token, body)
    client.force_login(viewer)

    with django_assert_max_num_queries(10):
        response = client.get(reverse("incidents:alerts"))

    assert response.content.decode().count("BlackBox probe failure") == 30


# --- admin --------------------------------------------------------------------------

def test_adding_an_integration_in_the_admin_shows_its_token_once(client, manager):
    client.force_login(manager)

    response = client.post(reverse("admin:incidents_integration_add"), {
        "name": "Grafana", "kind": "alertmanager", "severity_map": '{"critical": 1}',
        "default_severity": "3", "enabled": "on",
    }, follow=True)

    integration = Integration.objects.get(name="Grafana")
    text = response.content.decode()
    token = text.split("Token for Grafana (shown only now; store it in your monitoring "
                       "tool&#x27;s config): ")[1].split("<")[0].strip()
    assert integration.token_hash == hash_token(token)


def test_the_admin_refuses_a_severity_map_outside_sev1_to_sev4(client, manager):
    client.force_login(manager)

    response = client.post(reverse("admin:incidents_integration_add"), {
        "name": "Grafana", "kind": "alertmanager", "severity_map": '{"critical": 9}',
        "default_severity": "3",
    })

    assert response.status_code == 200
    assert not Integration.objects.exists()


def test_the_regenerate_action_shows_the_new_token(client, manager, prometheus):
    integration, old = prometheus
    client.force_login(manager)

    response = client.post(reverse("admin:incidents_integration_changelist"), {
        "action": "regenerate_tokens", "_selected_action": [integration.pk],
    }, follow=True)

    integration.refresh_from_db()
    assert integration.token_hash != hash_token(old)
    assert "Token for Prometheus (shown only now" in response.content.decode()


def test_alerts_and_payloads_are_read_only_for_managers_and_hidden_from_others(
        client, api, manager, ic, prometheus):
    _, token = prometheus
    send(api, token, fixture("alertmanager_firing.json"))
    alert, payload = Alert.objects.first(), InboundPayload.objects.get()
    client.force_login(manager)

    assert client.get(reverse("admin:incidents_alert_changelist")).status_code == 200
    assert client.get(reverse("admin:incidents_inboundpayload_change",
                              args=[payload.pk])).status_code == 200
    assert client.get(reverse("admin:incidents_alert_add")).status_code == 403
    response = client.post(reverse("admin:incidents_alert_change", args=[alert.pk]),
                           {"summary": "changed"})
    assert response.status_code == 403
    client.force_login(ic)
    assert client.get(reverse("admin:incidents_integration_changelist")).status_code in (302,
                                                                                          403)


# --- fuzzing: whatever the alerts say, the answer is JSON and never a 500 -------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=30) | HOSTILE_JSON,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=3),
    max_leaves=10,
)
FIELD_VALUES = JSON_VALUES | st.sampled_from(
    ["firing", "resolved", "4", "2026-11-27T10:00:00Z", "0001-01-01T00:00:00Z", ""]) \
    | st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3)
ALERT = st.fixed_dictionaries({}, optional={
    name: FIELD_VALUES for name in ("status", "labels", "annotations", "startsAt", "endsAt",
                                    "generatorURL", "fingerprint")
})


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(top=st.fixed_dictionaries({}, optional={
    name: FIELD_VALUES for name in ("version", "groupKey", "status", "receiver",
                                    "groupLabels", "commonLabels", "externalURL")
}), alerts=st.lists(ALERT, max_size=3) | JSON_VALUES)
def test_fuzzed_payloads_never_get_a_500(api, prometheus, top, alerts):
    _, token = prometheus

    response = send(api, token, {**top, "alerts": alerts})

    assert response.status_code in (200, 400), response.content
    assert response["Content-Type"] == "application/json"
