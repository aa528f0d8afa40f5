"""Automation rules (handbook §6.2): matching, duration, once per alert, rate limit, the
signed webhook to a real local receiver, paging a policy, the timeline, the dry run."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError

from incidents import automation, ingest
from incidents.models import (
    Alert,
    AutomationAction,
    AutomationFiring,
    AutomationRule,
    FiringResult,
    IntegrationKind,
    TimelineKind,
)
from oncall.models import EscalationLevel, EscalationPolicy, Page
from tests.oncall.conftest import receiver  # noqa: F401 - a real HTTP peer

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def prometheus(default_policy):
    integration, token = ingest.create_integration(name="Prometheus",
                                                   kind=IntegrationKind.ALERTMANAGER)
    integration.token = token
    return integration


def fire_alert(client, integration, alertname="PodCrashLoopBackOff", started=NOW,
               status="firing", **labels):
    labels = {"alertname": alertname, "severity": "critical", "namespace": "payments",
              "pod": "api-7f9c", "app": "api", **labels}
    body = {
        "version": "4", "groupKey": f"{{}}:{{alertname=\"{alertname}\"}}", "status": status,
        "receiver": "mindweave", "groupLabels": {"alertname": alertname},
        "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://am:9093",
        "truncatedAlerts": 0,
        "alerts": [{"status": status, "labels": labels,
                    "annotations": {"summary": f"{alertname} on {labels['pod']}"},
                    "startsAt": started.isoformat().replace("+00:00", "Z"),
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom/graph",
                    "fingerprint": hashlib.sha1(json.dumps(labels, sort_keys=True).encode())
                    .hexdigest()[:16]}],
    }
    response = client.post(f"/api/v1/integrations/{integration.token}/alertmanager",
                           json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return Alert.objects.order_by("-id").first()


def rule(**fields):
    values = {"name": "restart-crashing-pod", "enabled": True,
              "alert_name": "PodCrashLoopBackOff", "action": AutomationAction.WEBHOOK,
              "message": "Deleted crash-looping pod: {{ .Labels.pod }}", **fields}
    made = AutomationRule(**values)
    made.full_clean()
    made.save()
    return made


# --- templating and matching (pure) -----------------------------------------------------------

def test_messages_are_templated_from_labels_and_annotations():
    text = automation.render("Blocked {{ .Labels.source_ip }} ({{.Annotations.summary}}) "
                             "{{ .Labels.missing }}", {"source_ip": "203.0.113.9"},
                             {"summary": "rate limit"})

    assert text == "Blocked 203.0.113.9 (rate limit) <no value>"


def test_a_rule_needs_a_trigger_and_an_enabled_one_its_target():
    with pytest.raises(ValidationError) as no_trigger:
        AutomationRule(name="x", message="m").full_clean()
    with pytest.raises(ValidationError) as no_url:
        AutomationRule(name="y", alert_name="A", enabled=True, message="m").full_clean()
    with pytest.raises(ValidationError) as bad_regex:
        AutomationRule(name="z", alert_name="A", message="m",
                       matchers=[{"name": "pod", "value": "(", "is_regex": True,
                                  "is_equal": True}]).full_clean()

    assert "alert_name" in no_trigger.value.message_dict
    assert "webhook_url" in no_url.value.message_dict
    assert "matchers" in bad_regex.value.message_dict


# --- acting -------------------------------------------------------------------------------------

def test_a_matching_alert_calls_the_signed_webhook_once_and_notes_the_timeline(
        client, prometheus, receiver, clock):  # noqa: F811
    hook = rule(webhook_url=receiver.url(), duration_minutes=5)
    alert = fire_alert(client, prometheus, started=NOW - 2 * MINUTE)

    assert automation.evaluate() == 0  # firing for 2 of the 5 minutes
    clock.shift(3 * MINUTE)
    assert automation.evaluate() == 1
    assert automation.evaluate() == 0  # once per alert

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    expected = "sha256=" + hmac.new(hook.webhook_secret.encode(), request["body"],
                                    hashlib.sha256).hexdigest()
    assert request["headers"]["X-MindWeave-Signature"] == expected
    assert request["headers"]["X-MindWeave-Event"] == "automation"
    sent = json.loads(request["body"])
    assert sent["message"] == "Deleted crash-looping pod: api-7f9c"
    assert sent["alert"]["labels"]["namespace"] == "payments"
    assert sent["incident"]["id"] == alert.incident.ref
    firing = AutomationFiring.objects.get()
    assert firing.result == FiringResult.DONE and "HTTP 200" in firing.detail
    note = alert.incident.timeline.filter(kind=TimelineKind.AUTOMATION,
                                          body__contains="restart-crashing-pod").get()
    assert "Deleted crash-looping pod: api-7f9c" in note.body


def test_other_alerts_labels_and_severities_do_not_fire(client, prometheus, receiver):  # noqa: F811
    rule(webhook_url=receiver.url(), max_severity=2,
         matchers=[{"name": "namespace", "value": "payments", "is_regex": False,
                    "is_equal": True}])
    fire_alert(client, prometheus, alertname="HighCPUUsage")
    fire_alert(client, prometheus, namespace="search", pod="s-1")
    fire_alert(client, prometheus, severity="warning", pod="w-1")

    assert automation.evaluate() == 0
    assert receiver.requests == []


def test_a_disabled_rule_does_nothing_but_its_dry_run_says_what_it_would(
        client, prometheus, receiver, viewer):  # noqa: F811
    hook = rule(webhook_url=receiver.url(), enabled=False, duration_minutes=10)
    old = fire_alert(client, prometheus, started=NOW - 15 * MINUTE, pod="a")
    young = fire_alert(client, prometheus, started=NOW - MINUTE, pod="b")
    fire_alert(client, prometheus, alertname="HighCPUUsage")

    assert automation.evaluate() == 0
    rows = {alert.pk: reason for alert, reason, _ in automation.dry_run(hook)}
    client.force_login(viewer)
    page = client.get(f"/incidents/automations/{hook.pk}/dry-run/")

    assert rows == {old.pk: "", young.pk: "it has fired for 1 of the 10 minutes needed"}
    assert receiver.requests == []
    assert page.status_code == 200 and "1</strong> of 2 would fire" in page.content.decode()


def test_the_rate_limit_skips_and_records_the_rest(client, prometheus, receiver):  # noqa: F811
    rule(webhook_url=receiver.url(), max_per_hour=2)
    for pod in ("p1", "p2", "p3"):
        fire_alert(client, prometheus, pod=pod)

    assert automation.evaluate() == 3

    results = sorted(AutomationFiring.objects.values_list("result", flat=True))
    assert results == [FiringResult.DONE, FiringResult.DONE, FiringResult.RATE_LIMITED]
    assert len(receiver.requests) == 2


def test_a_failing_webhook_is_recorded_and_not_retried(client, prometheus, receiver):  # noqa: F811
    receiver.answer(500, "boom")
    rule(webhook_url=receiver.url())
    alert = fire_alert(client, prometheus)

    automation.evaluate()
    automation.evaluate()

    firing = AutomationFiring.objects.get()
    assert firing.result == FiringResult.FAILED and "HTTP 500" in firing.detail
    assert len(receiver.requests) == 1
    assert alert.incident.timeline.filter(body__contains="failed").exists()


def test_a_paging_rule_pages_its_policy_once(client, prometheus, default_policy, ic):
    failover = EscalationPolicy.objects.create(name="Database on-call")
    EscalationLevel.objects.create(policy=failover, position=1, timeout_minutes=5) \
        .users.set([ic])
    rule(name="failover-db", alert_name="DatabasePrimaryUnreachable",
         action=AutomationAction.PAGE, policy=failover,
         message="Initiated database failover to replica")
    fire_alert(client, prometheus, alertname="DatabasePrimaryUnreachable")

    automation.evaluate()
    automation.evaluate()

    page = Page.objects.get(policy=failover)
    assert page.title == "Initiated database failover to replica"
    assert AutomationFiring.objects.get().result == FiringResult.DONE


def test_a_resolved_alert_is_left_alone(client, prometheus, receiver):  # noqa: F811
    rule(webhook_url=receiver.url())
    fire_alert(client, prometheus)
    fire_alert(client, prometheus, status="resolved")

    assert automation.evaluate() == 0


def test_the_list_page_shows_rules_and_firings(client, prometheus, receiver, viewer):  # noqa: F811
    rule(webhook_url=receiver.url())
    fire_alert(client, prometheus)
    automation.evaluate()
    client.force_login(viewer)

    page = client.get("/incidents/automations/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "restart-crashing-pod" in text and "Done" in text


def test_the_handbooks_four_rules_are_seeded_disabled():
    seeded = dict(AutomationRule.objects.values_list("name", "enabled"))

    assert seeded == {"auto-scale-on-high-load": False, "auto-restart-failed-pod": False,
                      "auto-failover-database": False, "auto-block-suspicious-ip": False}
    restart = AutomationRule.objects.get(name="auto-restart-failed-pod")
    assert restart.alert_name == "PodCrashLoopBackOff"
    assert automation.render(restart.message, {"pod": "api-1"}, {}) == \
        "Deleted crash-looping pod: api-1"


def test_managers_write_rules_in_the_admin_with_matchers_one_per_line(client, manager):
    client.force_login(manager)
    form = {"name": "block-ip", "alert_name": "SuspiciousTrafficPattern", "action": "webhook",
            "message": "Blocked {{ .Labels.source_ip }}", "max_per_hour": "6",
            "duration_minutes": "0", "matchers_text": 'type="rate_limit_exceeded"\nenv!=dev',
            "firings-TOTAL_FORMS": "0", "firings-INITIAL_FORMS": "0"}

    bad = client.post("/admin/incidents/automationrule/add/",
                      {**form, "matchers_text": "pod=~\"(\""})
    good = client.post("/admin/incidents/automationrule/add/", form)

    lookahead = client.post("/admin/incidents/automationrule/add/",
                            {**form, "matchers_text": 'pod=~"(?=api)api-.*"'})
    assert bad.status_code == 200 and "invalid regular expression" in bad.content.decode()
    assert lookahead.status_code == 200
    assert "invalid perl operator: (?=" in lookahead.content.decode()
    assert "RE2 has no backreferences (\\1) and no lookaround" in lookahead.content.decode()
    assert good.status_code == 302
    made = AutomationRule.objects.get(name="block-ip")
    assert made.matchers == [
        {"name": "type", "value": "rate_limit_exceeded", "is_regex": False, "is_equal": True},
        {"name": "env", "value": "dev", "is_regex": False, "is_equal": False}]
    edit = client.get(f"/admin/incidents/automationrule/{made.pk}/change/").content.decode()
    assert "type=&quot;rate_limit_exceeded&quot;" in edit
