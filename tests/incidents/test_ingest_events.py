"""PagerDuty Events API v2 compatible endpoint (issue 6 items 3-4, bad input rules)."""

import io
import json
from pathlib import Path

import pytest
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents import ingest
from incidents.ingest import receive
from incidents.models import (
    Alert,
    AlertStatus,
    DetectionSource,
    InboundPayload,
    Incident,
    IntegrationKind,
    PayloadOutcome,
    Severity,
    Status,
    TimelineKind,
)
from incidents.views import inbound
from oncall.models import EscalationLevel, EscalationPolicy, Page
from tests.incidents.factories import ServiceFactory
from tests.strategies import HOSTILE_JSON

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
URL = "/api/v1/events/v2/enqueue"


def fixture(name, **overrides):
    data = json.loads((FIXTURES / name).read_text())
    data.update(overrides)
    return data


@pytest.fixture
def events():
    """An Events API integration and its token."""
    return ingest.create_integration(name="Datadog", kind=IntegrationKind.EVENTS)


def send(api, body, **extra):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return api.post(URL, raw, content_type="application/json", **extra)


def trigger(token, **overrides):
    return fixture("events_trigger.json", routing_key=token, **overrides)


def test_trigger_opens_an_alert_and_an_incident_that_pages_on_call(api, events, default_policy):
    integration, token = events

    response = send(api, trigger(token))

    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed",
                               "dedup_key": "samplekeyhere"}
    alert = Alert.objects.get()
    incident = alert.incident
    assert (alert.key, alert.status, alert.severity) == \
        ("samplekeyhere", AlertStatus.TRIGGERED, Severity.SEV1)
    assert alert.labels == {"component": "mysql", "group": "prod-datapipe", "class": "disk"}
    assert alert.details["free space"] == "1%"
    assert incident.title == "DISK at 99% on machine prod-datapipe03.example.com"
    assert incident.severity == Severity.SEV1
    assert incident.detection_source == DetectionSource.PAGERDUTY
    assert incident.declared_by is None and incident.commander is None
    assert "Datadog" in incident.description
    assert incident.checklist.exists()
    page = Page.objects.get(source=f"incident:{incident.pk}")
    assert page.policy == default_policy and page.escalate is True
    assert alert.opened_incident and alert.paged
    assert alert.routing == (f"Integration Datadog (PagerDuty Events API v2), key samplekeyhere:"
                             f" opened {incident.ref} at SEV-1; paged Production Incidents.")


def test_the_raw_body_is_stored_exactly_as_sent(api, events):
    integration, token = events
    body = json.dumps(trigger(token), indent=3)

    send(api, body)

    payload = InboundPayload.objects.get()
    assert payload.integration == integration
    assert payload.body == body
    assert payload.outcome == PayloadOutcome.PROCESSED
    assert payload.result.startswith("samplekeyhere: new alert #")


def test_a_trigger_without_dedup_key_gets_one_generated_and_returned(api, events):
    _, token = events
    body = trigger(token)
    del body["dedup_key"]

    response = send(api, body)

    key = response.json()["dedup_key"]
    assert response.status_code == 202
    assert len(key) == 32
    assert Alert.objects.get().key == key


def test_a_repeated_trigger_is_folded_into_the_open_alert_without_a_new_page(
        api, events, default_policy):
    _, token = events
    send(api, trigger(token))

    for _ in range(3):
        response = send(api, trigger(token))
        assert response.status_code == 202
        assert response.json()["dedup_key"] == "samplekeyhere"

    alert = Alert.objects.get()
    assert alert.count == 4
    assert Incident.objects.count() == 1
    assert Page.objects.count() == 1
    assert InboundPayload.objects.count() == 4
    assert "folded into existing alert" in InboundPayload.objects.first().result


def test_acknowledge_acts_on_the_key_and_notes_it_on_the_timeline(api, events):
    _, token = events
    send(api, trigger(token))

    response = send(api, fixture("events_acknowledge.json", routing_key=token))

    alert = Alert.objects.get()
    assert response.status_code == 202
    assert response.json()["dedup_key"] == "samplekeyhere"
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert alert.acknowledged_at is not None
    assert alert.incident.timeline.filter(body__startswith="Alert acknowledged").count() == 1


def test_resolve_resolves_the_alert_notes_it_and_leaves_the_incident_open(api, events):
    _, token = events
    send(api, trigger(token))
    resolve = fixture("events_resolve.json", routing_key=token)

    response = send(api, resolve)

    alert = Alert.objects.get()
    assert response.status_code == 202
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_at is not None
    notes = alert.incident.timeline.filter(body__startswith="Alert resolved")
    assert notes.count() == 1
    assert notes.get().kind == TimelineKind.ALERT
    assert alert.incident.status == Status.DECLARED


def test_a_replayed_resolve_is_harmless(api, events):
    _, token = events
    send(api, trigger(token))
    resolve = fixture("events_resolve.json", routing_key=token)
    send(api, resolve)

    response = send(api, resolve)

    assert response.status_code == 202
    alert = Alert.objects.get()
    assert alert.incident.timeline.filter(body__startswith="Alert resolved").count() == 1
    assert InboundPayload.objects.first().result == \
        "samplekeyhere: no open alert with this key; nothing changed"


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_an_unknown_key_is_accepted_and_changes_nothing(api, events, action):
    _, token = events

    response = send(api, {"routing_key": token, "event_action": action, "dedup_key": "nope"})

    assert response.status_code == 202
    assert response.json()["dedup_key"] == "nope"
    assert not Alert.objects.exists()
    assert InboundPayload.objects.get().outcome == PayloadOutcome.PROCESSED


def test_after_resolve_the_same_key_opens_a_new_alert_on_the_still_open_incident(
        api, events, default_policy):
    _, token = events
    send(api, trigger(token))
    send(api, fixture("events_resolve.json", routing_key=token))

    send(api, trigger(token))

    first, second = Alert.objects.order_by("id")
    assert first.status == AlertStatus.RESOLVED
    assert second.status == AlertStatus.TRIGGERED and second.count == 1
    assert second.incident == first.incident
    assert not second.paged and "joined" in second.routing
    assert Page.objects.count() == 1


def test_after_the_incident_is_resolved_the_key_opens_a_new_incident(api, events, ic):
    _, token = events
    send(api, trigger(token))
    send(api, fixture("events_resolve.json", routing_key=token))
    incident = Incident.objects.get()
    Incident.objects.filter(pk=incident.pk).update(status=Status.RESOLVED)

    send(api, trigger(token))

    assert Incident.objects.count() == 2
    assert Alert.objects.order_by("id").last().incident != incident


def test_severity_map_and_info_pages_nobody(api, events, default_policy):
    _, token = events
    body = trigger(token)
    body["payload"]["severity"] = "info"

    send(api, body)

    alert = Alert.objects.get()
    assert alert.severity == Severity.SEV4 and alert.incident.severity == Severity.SEV4
    assert not alert.paged
    assert alert.routing.endswith("no page: SEV-4 pages nobody.")
    assert not Page.objects.exists()


def test_the_integrations_policy_wins_then_the_services_then_the_default(
        api, default_policy, responder):
    special = EscalationPolicy.objects.create(name="Payments")
    EscalationLevel.objects.create(policy=special, position=1).users.set([responder])
    other = EscalationPolicy.objects.create(name="Storage")
    EscalationLevel.objects.create(policy=other, position=1).users.set([responder])
    payments = ServiceFactory(name="Payments", slug="payments", escalation_policy=special)
    _, by_service = ingest.create_integration(name="A", kind=IntegrationKind.EVENTS,
                                              service=payments)
    _, by_own = ingest.create_integration(name="B", kind=IntegrationKind.EVENTS,
                                          service=payments, escalation_policy=other)

    send(api, trigger(by_service, dedup_key="one"))
    send(api, trigger(by_own, dedup_key="two"))

    one, two = Alert.objects.order_by("id")
    assert Page.objects.get(source=f"incident:{one.incident.pk}").policy == special
    assert Page.objects.get(source=f"incident:{two.incident.pk}").policy == other
    assert list(one.incident.services.all()) == [payments]


def test_without_any_policy_the_alert_says_nobody_was_paged(api, events):
    _, token = events

    send(api, trigger(token))

    alert = Alert.objects.get()
    assert not alert.paged
    assert alert.routing.endswith("no page: no escalation policy applies.")


# --- bad input --------------------------------------------------------------------

def errors_of(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["status"] == "invalid event"
    assert body["message"] == "Event object is invalid"
    return body["errors"]


def test_missing_payload_fields_are_named_like_pagerduty_and_the_body_is_kept(api, events):
    _, token = events
    body = trigger(token)
    body["payload"] = {"summary": "  ", "custom_details": {"a": 1}}

    errors = errors_of(send(api, body))

    assert errors == [
        "'payload.summary' is missing or blank",
        "'payload.source' is missing or blank",
        "'payload.severity' is missing or invalid (expected critical, error, warning or info)",
    ]
    payload = InboundPayload.objects.get()
    assert payload.outcome == PayloadOutcome.REJECTED
    assert "'payload.summary' is missing or blank" in payload.error
    assert json.loads(payload.body) == body
    assert not Alert.objects.exists() and not Incident.objects.exists()


@pytest.mark.parametrize(("change", "error"), [
    ({"event_action": "explode"}, "'event_action' is missing or invalid"),
    ({"event_action": None}, "'event_action' is missing or invalid"),
    ({"dedup_key": "k" * 256}, "'dedup_key' is longer than 255 characters"),
    ({"dedup_key": 12}, "'dedup_key' must be a string"),
    ({"payload": "text"}, "'payload' is missing or not an object"),
    ({"payload": None}, "'payload' is missing or not an object"),
    ({"payload.summary": "x" * 1025}, "'payload.summary' is longer than 1024 characters"),
    ({"payload.summary": 42}, "'payload.summary' is missing or blank"),
    ({"payload.severity": "CRITICAL"}, "'payload.severity' is missing or invalid"),
    ({"payload.timestamp": "yesterday"}, "'payload.timestamp' is not an ISO 8601 timestamp"),
    ({"payload.component": ["a"]}, "'payload.component' must be a string"),
])
def test_wrong_fields_get_a_400_naming_the_field(api, events, change, error):
    _, token = events
    body = trigger(token)
    for name, value in change.items():
        target = body["payload"] if name.startswith("payload.") else body
        target[name.removeprefix("payload.")] = value

    errors = errors_of(send(api, body))

    assert any(e.startswith(error) for e in errors), errors
    assert InboundPayload.objects.get().outcome == PayloadOutcome.REJECTED
    assert not Alert.objects.exists()


def test_a_key_of_exactly_255_characters_is_accepted(api, events):
    _, token = events

    response = send(api, trigger(token, dedup_key="k" * 255))

    assert response.status_code == 202
    assert Alert.objects.get().key == "k" * 255


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_and_resolve_need_a_key(api, events, action):
    _, token = events

    errors = errors_of(send(api, {"routing_key": token, "event_action": action}))

    assert errors == ["'dedup_key' is missing or blank"]


@pytest.mark.parametrize("body", [b"{not json", b"", b"[]", b"\xff\xfe", b'"text"',
                                  b'{"routing_key": 5}', b'{"routing_key": NaN}'])
def test_unreadable_bodies_get_a_400_and_nothing_is_stored(api, body):
    response = send(api, body)

    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert not InboundPayload.objects.exists()


def test_nan_values_are_refused_and_nul_or_lone_surrogates_are_replaced(api, events):
    """NaN is no JSON: refused. NUL and a lone surrogate (no database column takes them)
    are replaced by U+FFFD, so the event is kept (issue 16)."""
    _, token = events
    with_nul = trigger(token)
    with_nul["payload"]["summary"] = "disk\u0000full"
    with_surrogate = json.dumps(trigger(token, dedup_key="other")).replace(
        '"load avg": 0.75', '"load avg": "\\ud800"')
    with_nan = json.dumps(trigger(token)).replace('"load avg": 0.75', '"load avg": NaN')

    first = send(api, with_nul)
    surrogate = send(api, with_surrogate)
    second = send(api, with_nan)

    assert first.status_code == 202 and surrogate.status_code == 202, surrogate.content
    assert second.status_code == 400
    assert Alert.objects.filter(summary="disk\ufffdfull").exists()
    assert Alert.objects.count() == 2


def test_an_unknown_token_is_a_404_and_nothing_is_stored(api, events):
    response = send(api, trigger("not-a-token"))

    assert response.status_code == 404
    assert response.json()["errors"] == ["'routing_key' is not a known integration token"]
    assert not InboundPayload.objects.exists()


def test_a_disabled_integration_or_another_kinds_token_is_a_404(api, events):
    integration, token = events
    integration.enabled = False
    integration.save()
    _, alertmanager_token = ingest.create_integration(name="Prometheus",
                                                      kind=IntegrationKind.ALERTMANAGER)

    assert send(api, trigger(token)).status_code == 404
    assert send(api, trigger(alertmanager_token)).status_code == 404
    assert not InboundPayload.objects.exists()


def test_a_body_over_one_megabyte_is_a_413(api, events):
    _, token = events
    body = trigger(token)
    body["payload"]["custom_details"] = {"blob": "x" * ingest.MAX_BODY_BYTES}

    response = send(api, body)

    assert response.status_code == 413
    assert response.json()["status"] == "too large"
    assert not InboundPayload.objects.exists()


def test_a_body_without_content_length_is_still_cut_at_one_megabyte(events):
    # Chunked uploads arrive without Content-Length: the size read is checked too.
    _, token = events
    request = RequestFactory().post(URL, b"", content_type="application/json")
    request.META.pop("CONTENT_LENGTH", None)
    request._stream = io.BytesIO(b"x" * (ingest.MAX_BODY_BYTES + 10))

    response = inbound.events_enqueue(request)

    assert response.status_code == 413


def test_other_methods_get_a_json_405(api):
    response = api.get(URL)

    assert response.status_code == 405
    assert response.json()["message"] == "Use POST."


def test_the_url_matches_the_contract():
    assert reverse("events-enqueue") == URL


def test_an_unexpected_error_answers_json_and_keeps_the_body(api, events, monkeypatch):
    _, token = events

    def boom(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(receive, "_apply", boom)
    response = api.post(URL, json.dumps(trigger(token)), content_type="application/json")

    assert response.status_code == 500
    assert response.json()["status"] == "error"
    payload = InboundPayload.objects.get()
    assert payload.outcome == PayloadOutcome.FAILED
    assert "database went away" in payload.error



# --- fuzzing: whatever the body, the answer is JSON and never a 500 -------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=30) | HOSTILE_JSON,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12,
)
FIELD_VALUES = JSON_VALUES | st.sampled_from(
    ["trigger", "acknowledge", "resolve", "critical", "error", "warning", "info",
     "2026-11-27T10:00:00Z", "", " "])


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=st.fixed_dictionaries({}, optional={
    "event_action": FIELD_VALUES, "dedup_key": FIELD_VALUES,
    "payload": st.fixed_dictionaries({}, optional={
        name: FIELD_VALUES for name in ("summary", "source", "severity", "timestamp",
                                        "component", "group", "class", "custom_details")
    }) | JSON_VALUES,
}))
def test_fuzzed_events_never_get_a_500(api, events, event):
    _, token = events

    response = send(api, {"routing_key": token, **event})

    assert response.status_code in (202, 400), response.content
    assert response["Content-Type"] == "application/json"


# --- an alert's incident is an incident like any other ------------------------------

def test_an_alert_opened_incident_shows_on_the_dashboard_list_and_csv_and_can_be_resolved(
        api, client, events, ic):
    from incidents import services
    from incidents.models import ChecklistPhase

    _, token = events
    send(api, trigger(token))
    incident = Incident.objects.get()
    client.force_login(ic)

    for page in ("/", "/incidents/", "/incidents/?format=csv", incident.get_absolute_url()):
        response = client.get(page)
        assert response.status_code == 200, page
        assert incident.ref in b"".join(response.streaming_content).decode() \
            if response.streaming else incident.ref in response.content.decode()

    for item in incident.checklist.filter(phase=ChecklistPhase.CLOSURE):
        services.waive_checklist_item(item, reason="Drill.", by=ic)
    services.resolve_incident(incident, resolution="Freed disk space.", by=ic)
    assert client.get(incident.get_absolute_url()).status_code == 200
