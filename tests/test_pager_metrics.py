"""`/metrics` (mindweave_ir/metrics.py, oncall/metrics.py, incidents/metrics.py): scraped
with prometheus-client's own parser, as Prometheus would; the figures move when a page
is late or an inbound body waits; only a token or an allowed network gets in; a scrape
costs the same number of queries however much history there is; and the example alert
rules only name metrics the page really serves."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from incidents import ingest
from incidents.models import InboundPayload, IntegrationKind, Severity
from mindweave_ir import checks
from oncall import metrics as oncall_metrics
from oncall import paging, tasks
from oncall.models import EngineHeartbeat, EscalationLevel, EscalationPolicy, Notification
from tests.incidents.factories import declare
from tests.oncall.factories import email

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "docs" / "prometheus" / "mindweave-ir-rules.yml"
NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
TOKEN = "scrape-token-for-tests-0123456789"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def scrape_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    return settings


def scrape(client, **headers):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {family.name: family for family in
            text_string_to_metric_families(response.content.decode())}


def value(families, name, sample=None, **labels):
    """One sample's value: `sample` is its full name (default: the family's name)."""
    for s in families[name].samples:
        if s.name == (sample or name) and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError(f"no sample {sample or name} {labels} in {families[name].samples}")


def one_level_policy(user, minutes=5):
    policy = EscalationPolicy.objects.create(name="Metrics")
    EscalationLevel.objects.create(policy=policy, position=1,
                                   timeout_minutes=minutes).users.set([user])
    return policy


# --- access -------------------------------------------------------------------------

@pytest.mark.django_db
def test_off_without_a_token_or_network_setting(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS = "", []
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
def test_a_wrong_or_missing_token_is_refused_and_no_login_is_asked(client, scrape_settings):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"},
                    {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"},
                    {"HTTP_AUTHORIZATION": TOKEN}):
        response = client.get("/metrics", **headers)
        assert response.status_code == 403, headers
        assert b"mindweave_" not in response.content
    assert "sessionid" not in client.cookies
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


@pytest.mark.django_db
def test_an_allowed_network_gets_in_and_another_does_not(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.5.0/24", "fd00:5::/64"]
    assert client.get("/metrics", REMOTE_ADDR="10.0.5.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="fd00:5::9").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.0.5.8").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.0.6.7").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="not an address").status_code == 403


@pytest.mark.django_db
def test_only_get_and_head(client, scrape_settings):
    response = client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


# --- the figures move ---------------------------------------------------------------

@pytest.mark.django_db
def test_a_late_page_shows_as_overdue_then_in_the_lateness_histogram(
        client, scrape_settings, ic, clock):
    email(ic)
    page = paging.trigger_page(title="Disk full", dedup_key="disk", policy=one_level_policy(ic))
    families = scrape(client)
    assert value(families, "mindweave_escalation_overdue_seconds") == 0
    assert value(families, "mindweave_escalation_lateness_seconds_gcount") == 0

    clock.shift(timedelta(seconds=150))  # no engine ran: the first step is late
    families = scrape(client)
    assert value(families, "mindweave_escalation_overdue_seconds") == 150

    paging.run_due_pages()
    notification = Notification.objects.get(page=page)
    assert notification.due_at == page.created_at  # due when the step was, not when run
    assert paging.deliver(notification.pk).startswith("sent")
    families = scrape(client)
    assert value(families, "mindweave_escalation_overdue_seconds") == 0
    lateness = "mindweave_escalation_lateness_seconds"
    assert value(families, f"{lateness}_gcount") == 1
    assert value(families, f"{lateness}_gsum") == 150
    assert value(families, lateness, f"{lateness}_bucket", le="120.0") == 0
    assert value(families, lateness, f"{lateness}_bucket", le="300.0") == 1
    assert value(families, lateness, f"{lateness}_bucket", le="+Inf") == 1
    assert value(families, "mindweave_notifications", "mindweave_notifications_total",
                 channel="email", outcome="sent") == 1


@pytest.mark.django_db
def test_an_on_time_page_is_in_the_first_bucket_and_leaves_the_window(
        client, scrape_settings, ic, clock):
    email(ic)
    paging.trigger_page(title="CPU", dedup_key="cpu", policy=one_level_policy(ic))
    paging.run_due_pages()
    paging.deliver(Notification.objects.get().pk)
    lateness = "mindweave_escalation_lateness_seconds"
    families = scrape(client)
    assert value(families, lateness, f"{lateness}_bucket", le="1.0") == 1
    clock.shift(timedelta(minutes=scrape_settings.METRICS_LATENESS_WINDOW_MINUTES + 1))
    assert value(scrape(client), f"{lateness}_gcount") == 0


@pytest.mark.django_db
def test_a_waiting_inbound_body_shows_its_count_and_age(client, scrape_settings, clock):
    integration, _ = ingest.create_integration(name="Prometheus",
                                               kind=IntegrationKind.ALERTMANAGER)
    families = scrape(client)
    assert value(families, "mindweave_inbound_waiting") == 0
    assert value(families, "mindweave_inbound_oldest_age_seconds") == 0
    InboundPayload.objects.create(integration=integration, body="{}", received_at=NOW)
    clock.shift(timedelta(seconds=45))
    InboundPayload.objects.create(integration=integration, body="{}")
    families = scrape(client)
    assert value(families, "mindweave_inbound_waiting") == 2
    assert value(families, "mindweave_inbound_oldest_age_seconds") == 45


@pytest.mark.django_db
def test_open_incidents_by_severity_and_the_process_heartbeats(client, scrape_settings, ic):
    declare(ic, severity=Severity.SEV1)
    declare(ic, severity=Severity.SEV3)
    declare(ic, severity=Severity.SEV3)
    families = scrape(client)
    assert {s.labels["severity"]: s.value
            for s in families["mindweave_incidents_open"].samples} == {
        "SEV-1": 1, "SEV-2": 0, "SEV-3": 2, "SEV-4": 0}
    assert value(families, "mindweave_engines_running") == 0
    assert "mindweave_engine_last_loop_timestamp_seconds" not in families
    assert "mindweave_beat_last_run_timestamp_seconds" not in families

    tasks.beat_heartbeat()
    families = scrape(client)
    assert value(families, "mindweave_beat_last_run_timestamp_seconds") == NOW.timestamp()
    for kind in ("notification", "notice", "comms", "slack"):
        assert value(families, "mindweave_deliveries_failing", kind=kind) == 0
        assert value(families, "mindweave_deliveries_failed",
                     "mindweave_deliveries_failed_total", kind=kind) == 0


# --- cost -----------------------------------------------------------------------------

def _queries(client):
    with CaptureQueriesContext(connection) as queries:
        scrape(client)
    return len(queries)


@pytest.mark.django_db
def test_queries_per_scrape_do_not_grow_with_history(client, scrape_settings, ic, clock):
    email(ic)
    policy = one_level_policy(ic)
    integration, _ = ingest.create_integration(name="P", kind=IntegrationKind.ALERTMANAGER)
    before = _queries(client)
    for i in range(12):
        declare(ic, severity=Severity.SEV2)
        paging.trigger_page(title=f"Page {i}", dedup_key=f"k{i}", policy=policy)
        InboundPayload.objects.create(integration=integration, body="{}")
    paging.run_due_pages()
    for notification in Notification.objects.all():
        paging.deliver(notification.pk)
    oncall_metrics.note_beat()
    assert _queries(client) == before


# --- the example alert rules ----------------------------------------------------------

@pytest.mark.django_db
def test_the_example_alert_rules_name_only_metrics_served(client, scrape_settings):
    oncall_metrics.note_beat()
    EngineHeartbeat.objects.create(name="test", last_loop_at=NOW)
    families = scrape(client)
    served = {s.name for family in families.values() for s in family.samples}
    rules = [rule for group in yaml.safe_load(RULES.read_text())["groups"]
             for rule in group["rules"]]
    assert {"PagerEscalationLate", "PagerEngineStalled",
            "PagerInboundBacklogGrowing"} <= {rule["alert"] for rule in rules}
    for rule in rules:
        names = set(re.findall(r"\bmindweave_[a-z_]+", rule["expr"]))
        assert names, rule["alert"]
        assert names <= served, (rule["alert"], names - served)
        assert rule["labels"]["severity"] and rule["annotations"]["summary"]


# --- settings checks ---------------------------------------------------------------------

def test_bad_monitoring_settings_are_named_by_the_system_check(settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.5.0/24", "intranet"]
    settings.DEADMAN_URL = "hc-ping.com/abc"
    settings.DEADMAN_INTERVAL = 0
    errors = checks.check_pager_monitoring(None)
    assert [e.id for e in errors] == ["mindweave_ir.E030", "mindweave_ir.E031",
                                      "mindweave_ir.E032"]
    assert "'intranet'" in errors[0].msg
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.5.0/24"]
    settings.DEADMAN_URL, settings.DEADMAN_INTERVAL = "https://hc-ping.com/abc", 60
    assert checks.check_pager_monitoring(None) == []
