"""AWS CloudWatch alarms through an SNS HTTPS subscription (issue 20 item 3).

Messages are signed as SNS signs them and the signing certificate and the confirmation
are served over HTTPS by a stand-in SNS host on 127.0.0.1 (tests/incidents/sns_peer.py);
settings.SNS_HOST_PATTERN and SNS_CA_FILE point at it, as only tests do.
"""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from incidents import ingest
from incidents.ingest import sns
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
    SubscriptionState,
    TimelineKind,
)
from oncall.models import Page
from oncall.tokens import hash_token
from tests.incidents.sns_peer import (
    SUBSCRIPTION,
    TOPIC,
    FakeSns,
    expired_signing_keys,
    other_signing_keys,
    signing_keys,
)
from tests.strategies import HOSTILE_JSON

ARN = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-5xx"


@pytest.fixture
def fake_sns(settings, tmp_path):
    server = FakeSns(tmp_path / "sns-ca.pem")
    server.thread.start()
    settings.SNS_HOST_PATTERN = r"127\.0\.0\.1"
    settings.SNS_CA_FILE = str(tmp_path / "sns-ca.pem")
    cache.clear()  # certificates are cached by URL, and each test's server has its port
    yield server
    server.shutdown()
    server.server_close()
    cache.clear()


@pytest.fixture
def cloudwatch(db):
    """A CloudWatch integration: (integration, token)."""
    return ingest.create_integration(name="AWS production", kind=IntegrationKind.CLOUDWATCH)


def alarm(state="ALARM", *, name="checkout-5xx", arn=ARN,
          description="Checkout answers 5xx. severity: critical",
          reason="Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0)."):
    return {
        "AlarmName": name, "AlarmDescription": description, "AWSAccountId": "123456789012",
        "NewStateValue": state, "NewStateReason": reason,
        "StateChangeTime": timezone.now().strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "Region": "EU (Ireland)", "AlarmArn": arn, "OldStateValue": "OK",
        "Trigger": {"MetricName": "HTTPCode_Target_5XX_Count", "Namespace": "AWS/ApplicationELB",
                    "StatisticType": "Statistic", "Statistic": "SUM", "Unit": None,
                    "Dimensions": [{"value": "app/checkout/50dc6c495c0c9188",
                                    "name": "LoadBalancer"}],
                    "Period": 60, "EvaluationPeriods": 1,
                    "ComparisonOperator": "GreaterThanThreshold", "Threshold": 5.0},
    }


def post(client, token, message, *, header=True, raw=None):
    extra = {"HTTP_X_AMZ_SNS_MESSAGE_TYPE": message["Type"]} if header else {}
    return client.post(f"/api/v1/integrations/{token}/cloudwatch",
                       raw if raw is not None else json.dumps(message),
                       content_type="text/plain; charset=utf-8", **extra)


def nothing_stored():
    return not InboundPayload.objects.exists() and not Alert.objects.exists() \
        and not Incident.objects.exists()


# --- subscription -----------------------------------------------------------------------

@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_subscription_confirmation_is_verified_then_confirmed_by_a_real_worker(
        api, cloudwatch, fake_sns):
    from celery.contrib.testing.worker import start_worker

    from mindweave_ir.celery import app
    from tests.waiting import wait_for

    integration, token = cloudwatch
    message = fake_sns.confirmation()

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        response = post(api, token, message)
        assert response.status_code == 200, response.content
        assert wait_for(lambda: fake_sns.confirmations()), "SNS never got the confirmation"
        assert wait_for(lambda: Integration.objects.get(pk=integration.pk).subscription_state
                        == SubscriptionState.CONFIRMED), "the worker never recorded it"

    [confirmation] = fake_sns.confirmations()
    assert confirmation["Token"] == [message["Token"]]
    assert confirmation["TopicArn"] == [TOPIC]
    integration.refresh_from_db()
    assert integration.topic_arn == TOPIC
    assert integration.subscription_arn == SUBSCRIPTION
    assert integration.last_error == ""
    payload = InboundPayload.objects.get()
    assert payload.message_id == message["MessageId"]
    assert payload.outcome == PayloadOutcome.PROCESSED
    assert payload.result.startswith("confirmed: ")


def test_a_confirmation_is_enqueued_once_the_request_commits(
        api, cloudwatch, fake_sns, django_capture_on_commit_callbacks):
    integration, token = cloudwatch
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(api, token, fake_sns.confirmation())

    assert response.status_code == 200
    assert len(callbacks) == 1  # the confirmation task's wake-up
    integration.refresh_from_db()
    assert integration.subscription_state == SubscriptionState.CONFIRMING
    assert fake_sns.confirmations() == []  # the request itself never calls SNS back


def test_confirming_twice_visits_sns_once(api, cloudwatch, fake_sns):
    _, token = cloudwatch
    post(api, token, fake_sns.confirmation())
    payload = InboundPayload.objects.get()

    assert ingest.confirm_subscription(payload.pk) == "confirmed"
    assert ingest.confirm_subscription(payload.pk) == "already confirmed"
    assert len(fake_sns.confirmations()) == 1


def test_sns_refusing_the_confirmation_fails_it_for_good_and_says_why(api, cloudwatch,
                                                                      fake_sns):
    integration, token = cloudwatch
    post(api, token, fake_sns.confirmation())
    fake_sns.confirm_status = 403

    assert ingest.confirm_subscription(InboundPayload.objects.get().pk) == \
        "confirmation refused"

    integration.refresh_from_db()
    assert integration.subscription_state == SubscriptionState.FAILED
    assert "HTTP 403" in integration.last_error
    assert InboundPayload.objects.get().outcome == PayloadOutcome.FAILED


def test_sns_down_during_confirmation_is_recorded_and_raised_for_the_retry(
        api, cloudwatch, fake_sns):
    integration, token = cloudwatch
    post(api, token, fake_sns.confirmation())
    fake_sns.confirm_status = 503

    with pytest.raises(sns.SnsUnavailable):
        ingest.confirm_subscription(InboundPayload.objects.get().pk)

    integration.refresh_from_db()
    assert integration.subscription_state == SubscriptionState.CONFIRMING
    assert "HTTP 503" in integration.last_error and "retrying" in integration.last_error
    fake_sns.confirm_status = 200
    assert ingest.confirm_subscription(InboundPayload.objects.get().pk) == "confirmed"
    integration.refresh_from_db()
    assert integration.last_error == ""


def test_an_unsubscribe_confirmation_is_recorded_and_its_url_never_visited(
        api, cloudwatch, fake_sns, django_capture_on_commit_callbacks):
    integration, token = cloudwatch
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(api, token, fake_sns.confirmation("UnsubscribeConfirmation"))

    assert response.status_code == 200
    assert callbacks == []
    integration.refresh_from_db()
    assert integration.subscription_state == SubscriptionState.UNSUBSCRIBED
    assert InboundPayload.objects.get().outcome == PayloadOutcome.PROCESSED
    assert fake_sns.confirmations() == []


# --- alarms -------------------------------------------------------------------------------

def test_alarm_opens_an_incident_at_the_described_severity_and_pages(
        api, cloudwatch, fake_sns, default_policy):
    integration, token = cloudwatch
    response = post(api, token, fake_sns.notification(alarm()))

    assert response.status_code == 200, response.content
    assert response.json()["message"] == "Notification processed"
    alert = Alert.objects.get()
    assert alert.key == ARN
    assert alert.summary == "checkout-5xx"
    assert alert.source_severity == "critical"
    assert alert.labels["alertname"] == "checkout-5xx"
    assert alert.labels["LoadBalancer"] == "app/checkout/50dc6c495c0c9188"
    assert alert.link.startswith("https://eu-west-1.console.aws.amazon.com/cloudwatch/")
    incident = alert.incident
    assert incident.severity == Severity.SEV1
    assert incident.detection_source == DetectionSource.CLOUDWATCH
    assert alert.paged and Page.objects.count() == 1
    assert "Threshold Crossed" in incident.description
    # A notification shows the subscription works, even if it was confirmed by hand.
    integration.refresh_from_db()
    assert integration.subscription_state == SubscriptionState.CONFIRMED
    assert integration.topic_arn == TOPIC


def test_without_a_severity_in_the_description_the_integration_default_applies(
        api, cloudwatch, fake_sns, default_policy):
    integration, token = cloudwatch
    Integration.objects.filter(pk=integration.pk).update(default_severity=Severity.SEV2)

    post(api, token, fake_sns.notification(alarm(description=None)))

    assert Alert.objects.get().incident.severity == Severity.SEV2


def test_ok_resolves_the_alert_and_notes_it_on_the_open_incident(
        api, cloudwatch, fake_sns, default_policy):
    _, token = cloudwatch
    post(api, token, fake_sns.notification(alarm("ALARM")))

    response = post(api, token, fake_sns.notification(alarm("OK")))

    assert response.status_code == 200
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_at is not None
    assert alert.incident.status != Status.RESOLVED
    assert alert.incident.timeline.filter(kind=TimelineKind.ALERT,
                                          body__startswith="Alert resolved").count() == 1
    assert Page.objects.count() == 1


def test_insufficient_data_is_noted_without_paging(api, cloudwatch, fake_sns, default_policy):
    _, token = cloudwatch
    post(api, token, fake_sns.notification(alarm("ALARM")))

    response = post(api, token, fake_sns.notification(
        alarm("INSUFFICIENT_DATA", reason="Insufficient Data: 1 datapoint was unknown.")))

    assert response.status_code == 200
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.TRIGGERED
    note = alert.incident.timeline.get(body__startswith="Alert data insufficient")
    assert "1 datapoint was unknown" in note.body
    assert Page.objects.count() == 1


def test_insufficient_data_for_an_alarm_not_firing_opens_nothing(api, cloudwatch, fake_sns,
                                                                  default_policy):
    _, token = cloudwatch
    response = post(api, token, fake_sns.notification(alarm("INSUFFICIENT_DATA")))

    assert response.status_code == 200
    assert response.json()["alerts"][0]["alert"] is None
    assert not Alert.objects.exists() and not Incident.objects.exists()
    assert not Page.objects.exists()


def test_a_replayed_message_id_is_folded_stored_and_applied_once(
        api, cloudwatch, fake_sns, default_policy):
    _, token = cloudwatch
    message = fake_sns.notification(alarm())

    first, again = post(api, token, message), post(api, token, message)

    assert first.status_code == again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert InboundPayload.objects.count() == 1
    assert Alert.objects.get().count == 1
    assert Incident.objects.count() == 1 and Page.objects.count() == 1


def test_an_old_alarm_replayed_after_ok_does_not_fire_again(api, cloudwatch, fake_sns,
                                                            default_policy):
    _, token = cloudwatch
    fired = fake_sns.notification(alarm("ALARM"))
    post(api, token, fired)
    post(api, token, fake_sns.notification(alarm("OK")))

    post(api, token, fired)

    assert Alert.objects.get().status == AlertStatus.RESOLVED
    assert Page.objects.count() == 1


def test_two_alarm_messages_for_one_alarm_make_one_alert(api, cloudwatch, fake_sns,
                                                         default_policy):
    _, token = cloudwatch
    post(api, token, fake_sns.notification(alarm()))
    post(api, token, fake_sns.notification(alarm()))

    assert Alert.objects.get().count == 2
    assert Incident.objects.count() == 1 and Page.objects.count() == 1


def test_a_notification_that_is_no_alarm_is_kept_rejected_and_named(api, cloudwatch,
                                                                     fake_sns):
    integration, token = cloudwatch
    response = post(api, token, fake_sns.notification("Hello from the SNS console"))

    assert response.status_code == 400
    assert "'Message' is not JSON" in response.json()["errors"][0]
    payload = InboundPayload.objects.get()
    assert payload.outcome == PayloadOutcome.REJECTED
    assert not Alert.objects.exists()
    integration.refresh_from_db()
    assert "refused" in integration.last_error


def test_an_alarm_without_a_state_is_refused_naming_the_field(api, cloudwatch, fake_sns):
    _, token = cloudwatch
    body = alarm()
    del body["NewStateValue"]

    response = post(api, token, fake_sns.notification(body))

    assert response.status_code == 400
    assert response.json()["errors"] == [
        "'Message.NewStateValue' must be ALARM, OK or INSUFFICIENT_DATA"]
    assert not Alert.objects.exists()


def test_a_queued_notification_is_applied_by_the_drain(cloudwatch, fake_sns, default_policy):
    """A body stored while another request held the lock is parsed again by the drain."""
    integration, _ = cloudwatch
    message = fake_sns.notification(alarm())
    ingest.store_sns_message(integration, json.dumps(message), message)

    assert ingest.drain(integration.pk) == 1

    assert Alert.objects.get().incident is not None
    assert InboundPayload.objects.get().outcome == PayloadOutcome.PROCESSED


# --- signatures ---------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1", "2"])
def test_signature_versions_1_and_2_are_both_verified(api, cloudwatch, fake_sns, version):
    _, token = cloudwatch
    response = post(api, token, fake_sns.notification(alarm(), version=version))

    assert response.status_code == 200, response.content
    assert Alert.objects.count() == 1


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_confirmation_signed_with_either_version_is_accepted(api, cloudwatch, fake_sns,
                                                               version):
    _, token = cloudwatch
    assert post(api, token, fake_sns.confirmation(version=version)).status_code == 200


def test_a_message_without_subject_is_verified_without_it(api, cloudwatch, fake_sns):
    _, token = cloudwatch
    response = post(api, token, fake_sns.notification(alarm(), subject=None))

    assert response.status_code == 200, response.content


def test_the_certificate_is_fetched_once_then_cached(api, cloudwatch, fake_sns):
    _, token = cloudwatch
    for state in ("ALARM", "OK", "ALARM"):
        assert post(api, token, fake_sns.notification(alarm(state))).status_code == 200

    assert len(fake_sns.cert_requests()) == 1


def _tampered(server):
    message = server.notification(alarm())
    message["Message"] = message["Message"].replace("checkout-5xx", "checkout-ok")
    return message


def _forged(server):
    return server.notification(alarm(), key=other_signing_keys()[0])


def _other_host(server):
    return server.notification(alarm(), cert_url="https://sns.evil.example/cert.pem")


def _plain_http(server):
    return server.notification(alarm(), cert_url=server.cert_url().replace("https:", "http:"))


def _not_pem(server):
    return server.notification(alarm(), cert_url=server.base + "/cert.txt")


def _expired(server):
    return server.notification(alarm(), when=datetime.now(UTC) - timedelta(hours=2))


def _future(server):
    return server.notification(alarm(), when=datetime.now(UTC) + timedelta(hours=1))


def _bad_base64(server):
    message = server.notification(alarm())
    message["Signature"] = "not base64!"
    return message


def _other_topic(server):
    message = server.notification(alarm())
    message["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:someone-else"
    return message


def _confirm_elsewhere(server):
    return server.confirmation(subscribe_url="https://evil.example/?Action=ConfirmSubscription")


@pytest.mark.parametrize("make, fetches_certificate, reason", [
    (_tampered, True, "signature does not match"),
    (_forged, True, "signature does not match"),
    (_other_topic, True, "signature does not match"),
    (_bad_base64, True, "not base64"),
    (_other_host, False, "not on an Amazon SNS host"),
    (_plain_http, False, "must be an https:// URL"),
    (_not_pem, False, "does not name a .pem certificate"),
    (_expired, False, "too old"),
    (_future, False, "in the future"),
    (_confirm_elsewhere, False, "'SubscribeURL' is not on an Amazon SNS host"),
])
def test_an_unverified_message_is_refused_and_nothing_is_stored(
        api, cloudwatch, fake_sns, default_policy, make, fetches_certificate, reason):
    integration, token = cloudwatch
    response = post(api, token, make(fake_sns))

    assert response.status_code == 403
    assert reason in response.json()["message"]
    assert nothing_stored()
    assert len(fake_sns.cert_requests()) == (1 if fetches_certificate else 0)
    assert fake_sns.confirmations() == []
    integration.refresh_from_db()
    assert integration.subscription_state == SubscriptionState.NONE
    assert integration.last_error == ""


def test_an_expired_signing_certificate_is_refused(api, cloudwatch, fake_sns):
    _, token = cloudwatch
    key, fake_sns.cert_pem = expired_signing_keys()

    response = post(api, token, fake_sns.notification(alarm(), key=key))

    assert response.status_code == 403
    assert "expired" in response.json()["message"]
    assert nothing_stored()


def test_a_certificate_url_that_serves_no_certificate_is_refused_and_not_cached(
        api, cloudwatch, fake_sns):
    _, token = cloudwatch
    fake_sns.cert_pem = b"<html>Not a certificate</html>"
    assert post(api, token, fake_sns.notification(alarm())).status_code == 403

    fake_sns.cert_pem = signing_keys()[1]
    assert post(api, token, fake_sns.notification(alarm())).status_code == 200
    assert len(fake_sns.cert_requests()) == 2


def test_a_certificate_host_that_is_down_is_a_502_so_sns_retries(api, cloudwatch, fake_sns):
    _, token = cloudwatch
    fake_sns.cert_status = 500

    response = post(api, token, fake_sns.notification(alarm()))

    assert response.status_code == 502
    assert nothing_stored()


def test_a_certificate_host_with_an_untrusted_tls_certificate_is_never_believed(
        api, cloudwatch, fake_sns, settings):
    _, token = cloudwatch
    settings.SNS_CA_FILE = ""  # the system's CAs do not know the test server's certificate

    response = post(api, token, fake_sns.notification(alarm()))

    assert response.status_code == 502
    assert nothing_stored()


@pytest.mark.parametrize("change, error", [
    (lambda m: m.update(Type="Surprise"), "'Type' must be Notification"),
    (lambda m: m.pop("Signature"), "'Signature' is missing"),
    (lambda m: m.pop("MessageId"), "'MessageId' is missing"),
    (lambda m: m.update(SignatureVersion="3"), "'SignatureVersion' must be 1 or 2"),
    (lambda m: m.update(Timestamp="yesterday"), "'Timestamp' is not an ISO 8601 time"),
])
def test_a_malformed_message_is_a_400_naming_the_field(api, cloudwatch, fake_sns, change,
                                                       error):
    _, token = cloudwatch
    message = fake_sns.notification(alarm())
    change(message)

    response = post(api, token, message, header=False)

    assert response.status_code == 400
    assert any(error in e for e in response.json()["errors"])
    assert nothing_stored()
    assert fake_sns.requests == []


@pytest.mark.parametrize("raw", ["", "not json", "[1, 2]", "{\"Type\": NaN}", "\xff"])
def test_a_body_that_is_no_sns_message_is_a_400(api, cloudwatch, fake_sns, raw):
    _, token = cloudwatch
    response = post(api, token, {"Type": "Notification"}, raw=raw.encode("latin-1"))

    assert response.status_code == 400
    assert nothing_stored()


def test_a_type_header_that_disagrees_with_the_body_is_a_400(api, cloudwatch, fake_sns):
    _, token = cloudwatch
    message = fake_sns.notification(alarm())

    response = api.post(f"/api/v1/integrations/{token}/cloudwatch", json.dumps(message),
                        content_type="text/plain",
                        HTTP_X_AMZ_SNS_MESSAGE_TYPE="SubscriptionConfirmation")

    assert response.status_code == 400
    assert nothing_stored()


def test_an_unknown_or_other_kind_token_is_a_404_and_nothing_is_stored(api, cloudwatch,
                                                                      prometheus, fake_sns):
    message = fake_sns.notification(alarm())
    _, alertmanager_token = prometheus

    assert post(api, "no-such-token", message).status_code == 404
    assert post(api, alertmanager_token, message).status_code == 404
    assert nothing_stored()
    assert fake_sns.requests == []


def test_only_post_is_allowed(api, cloudwatch):
    _, token = cloudwatch
    response = api.get(f"/api/v1/integrations/{token}/cloudwatch")
    assert response.status_code == 405


def test_the_shipped_pattern_allows_only_sns_hosts_over_https(settings):
    from mindweave_ir import settings as shipped

    settings.SNS_HOST_PATTERN = shipped.SNS_HOST_PATTERN  # no test server's override
    for good in ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
                 "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
                 "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-a.pem"):
        sns.check_sns_url(good, "SigningCertURL", pem=True)
    for bad in ("http://sns.us-east-1.amazonaws.com/x.pem",
                "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
                "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
                "https://sns.us-east-1.amazonaws.com@evil.example/x.pem",
                "https://x@sns.us-east-1.amazonaws.com/x.pem",
                "https://s3.amazonaws.com/x.pem",
                "https://sns.us-east-1.amazonaws.com/x.txt",
                "https://127.0.0.1/x.pem",
                "https://sns.us-east-1.amazonaws.com:99999/x.pem",
                "https://sns.us-east-1.amazonaws.com/x .pem"):
        with pytest.raises(sns.SnsRefused):
            sns.check_sns_url(bad, "SigningCertURL", pem=True)


# --- set-up: the command and the admin ----------------------------------------------------

def test_create_integration_prints_the_subscription_url(db):
    out = io.StringIO()
    call_command("create_integration", "--kind", "cloudwatch", "--name", "AWS", stdout=out)

    lines = out.getvalue().splitlines()
    token = lines[-1]
    integration = Integration.objects.get()
    assert integration.kind == IntegrationKind.CLOUDWATCH
    assert integration.token_hash == hash_token(token)
    assert any(line.endswith(f"/api/v1/integrations/{token}/cloudwatch") for line in lines)


def test_the_admin_shows_kind_subscription_state_and_last_error(client, manager, cloudwatch,
                                                                api, fake_sns):
    integration, token = cloudwatch
    post(api, token, fake_sns.confirmation())
    fake_sns.confirm_status = 404
    ingest.confirm_subscription(InboundPayload.objects.get().pk)
    client.force_login(manager)

    page = client.get(reverse("admin:incidents_integration_changelist")).content.decode()

    assert "AWS CloudWatch (SNS)" in page
    assert "Confirmation failed" in page
    assert "SNS refused the confirmation with HTTP 404" in page
    detail = client.get(reverse("admin:incidents_integration_change",
                                args=[integration.pk])).content.decode()
    assert TOPIC in detail


def test_the_admin_confirms_a_subscription_again(client, manager, cloudwatch, api, fake_sns,
                                                 django_capture_on_commit_callbacks):
    integration, token = cloudwatch
    post(api, token, fake_sns.confirmation())
    fake_sns.confirm_status = 404
    ingest.confirm_subscription(InboundPayload.objects.get().pk)
    fake_sns.confirm_status = 200
    client.force_login(manager)

    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("admin:incidents_integration_changelist"), {
            "action": "confirm_subscriptions", "_selected_action": [integration.pk]})

    assert len(callbacks) == 1
    integration.refresh_from_db()
    assert integration.subscription_state == SubscriptionState.CONFIRMING
    assert ingest.confirm_subscription(InboundPayload.objects.get().pk) == "confirmed"
    integration.refresh_from_db()
    assert integration.subscription_state == SubscriptionState.CONFIRMED


# --- fuzzing: whatever arrives, the answer is JSON and never a 500 ------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=30) | HOSTILE_JSON,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=3),
    max_leaves=10,
)
ALARM_VALUES = JSON_VALUES | st.sampled_from(
    ["ALARM", "OK", "INSUFFICIENT_DATA", ARN, "2026-11-27T10:00:00.000+0000", ""])
ALARM_FIELDS = ("AlarmName", "AlarmDescription", "AWSAccountId", "NewStateValue",
                "NewStateReason", "StateChangeTime", "Region", "AlarmArn", "Trigger")


@hypothesis_settings(max_examples=100, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.fixed_dictionaries({}, optional={name: ALARM_VALUES for name in ALARM_FIELDS})
       | JSON_VALUES)
def test_fuzzed_alarms_in_signed_notifications_never_get_a_500(api, cloudwatch, fake_sns,
                                                               fields):
    _, token = cloudwatch
    response = post(api, token, fake_sns.notification(fields))

    assert response.status_code in (200, 400), response.content
    assert response["Content-Type"] == "application/json"


@hypothesis_settings(max_examples=100, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(envelope=st.fixed_dictionaries({}, optional={
    name: JSON_VALUES | st.sampled_from(["Notification", "SubscriptionConfirmation", "1", "2"])
    for name in ("Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
                 "SignatureVersion", "Signature", "SigningCertURL", "SubscribeURL", "Token")
}))
def test_fuzzed_unsigned_envelopes_are_refused_and_store_nothing(api, cloudwatch, fake_sns,
                                                                 envelope):
    _, token = cloudwatch
    response = post(api, token, envelope, header=False)

    assert response.status_code in (400, 403), response.content
    assert nothing_stored()
