"""Heartbeat monitors (issue 6 item 5): the ping URL, the beat that raises one alert
for a missed ping through the ingest path, the ping that resolves it, the command
and the admin."""

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from incidents import heartbeats, ingest, services, tasks
from incidents import matchers as silences
from incidents.models import (
    Alert,
    AlertStatus,
    Heartbeat,
    HeartbeatState,
    InboundPayload,
    Incident,
    Integration,
    IntegrationKind,
    PayloadOutcome,
    Severity,
)
from oncall.models import Page
from oncall.tokens import hash_token
from tests.incidents.test_concurrency import run_at_once

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def integration():
    made, _ = ingest.create_integration(name="Cron jobs", kind=IntegrationKind.EVENTS)
    return made


@pytest.fixture
def backup(integration):
    """A heartbeat expecting a ping every 60 minutes, with 5 minutes' grace."""
    return heartbeats.create_heartbeat(name="Nightly backup", integration=integration,
                                       interval_minutes=60, grace_minutes=5)


def ping(token, method="post"):
    return getattr(Client(enforce_csrf_checks=True), method)(
        f"/api/v1/heartbeats/{token}/ping")


def test_a_ping_records_the_time_without_login_or_csrf(backup):
    heartbeat, token = backup

    posted = ping(token)
    got = ping(token, "get")

    assert posted.status_code == got.status_code == 200
    assert posted.json() == {"status": "success", "heartbeat": "Nightly backup",
                             "last_ping_at": NOW.isoformat()}
    heartbeat.refresh_from_db()
    assert heartbeat.last_ping_at == NOW and heartbeat.state == HeartbeatState.UP


def test_an_unknown_token_is_a_json_404_and_changes_nothing(backup):
    response = ping("not-a-token")

    assert response.status_code == 404
    assert response.json()["status"] == "not found"
    assert Heartbeat.objects.get().last_ping_at is None


def test_other_methods_are_refused(backup):
    _, token = backup

    response = Client().put(f"/api/v1/heartbeats/{token}/ping")

    assert response.status_code == 405
    assert Heartbeat.objects.get().last_ping_at is None


def test_the_token_is_stored_only_as_its_hash(backup):
    heartbeat, token = backup

    assert heartbeat.token_hash == hash_token(token)
    assert token not in str(Heartbeat.objects.values().get())


def test_nothing_is_raised_within_interval_and_grace(backup, clock):
    clock.shift(timedelta(minutes=65))  # created at NOW: due at NOW + 65 min, not yet past

    assert heartbeats.check_heartbeats() == 0
    assert not Alert.objects.exists()


def test_a_missed_ping_raises_one_alert_through_the_ingest_path(backup, default_policy,
                                                                  clock):
    heartbeat, token = backup
    ping(token)
    clock.shift(timedelta(minutes=65, seconds=1))

    assert heartbeats.check_heartbeats() == 1

    alert = Alert.objects.get()
    assert alert.key == f"heartbeat:{heartbeat.pk}"
    assert alert.summary == "Heartbeat Nightly backup missed"
    assert alert.status == AlertStatus.TRIGGERED
    assert alert.labels == {"alertname": "HeartbeatMissed", "heartbeat": "Nightly backup"}
    assert alert.incident is not None and alert.opened_incident and alert.paged
    assert alert.incident.severity == Severity.SEV3  # the integration's default severity
    assert Page.objects.get().policy == default_policy
    payload = InboundPayload.objects.get()  # the raw "body" is kept like an inbound one
    assert payload.outcome == PayloadOutcome.PROCESSED and '"event": "missed"' in payload.body
    heartbeat.refresh_from_db()
    assert heartbeat.state == HeartbeatState.DOWN


def test_the_beat_raises_a_missed_heartbeat_once(backup, default_policy, clock):
    clock.shift(timedelta(hours=2))

    first = tasks.check_heartbeats.apply().get()
    second = tasks.check_heartbeats.apply().get()
    clock.shift(timedelta(hours=2))
    third = heartbeats.check_heartbeats()

    assert first == "raised 1 missed heartbeats"
    assert second == "raised 0 missed heartbeats" and third == 0
    assert Alert.objects.get().count == 1
    assert Incident.objects.count() == 1 and Page.objects.count() == 1


def test_a_disabled_integration_raises_nothing_until_enabled_again(
        backup, default_policy, clock):
    heartbeat, _ = backup
    Integration.objects.filter(pk=heartbeat.integration_id).update(enabled=False)
    clock.shift(timedelta(hours=2))

    assert heartbeats.check_heartbeats() == 0
    assert not Alert.objects.exists() and not InboundPayload.objects.exists()
    heartbeat.refresh_from_db()
    assert heartbeat.state == HeartbeatState.UP

    Integration.objects.filter(pk=heartbeat.integration_id).update(enabled=True)
    assert heartbeats.check_heartbeats() == 1
    assert Alert.objects.get().summary == "Heartbeat Nightly backup missed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_beats_running_at_once_raise_one_alert(backup, default_policy, clock):
    clock.shift(timedelta(hours=2))

    results, errors = run_at_once([heartbeats.check_heartbeats] * 4)

    assert errors == [None] * 4
    assert sorted(results) == [0, 0, 0, 1]
    assert Alert.objects.get().count == 1
    assert Incident.objects.count() == 1 and Page.objects.count() == 1


def test_the_alert_dedups_even_if_the_state_were_lost(backup, default_policy, clock):
    heartbeat, _ = backup
    clock.shift(timedelta(hours=2))
    heartbeats.check_heartbeats()
    Heartbeat.objects.filter(pk=heartbeat.pk).update(state=HeartbeatState.UP)

    heartbeats.check_heartbeats()

    assert Alert.objects.get().count == 2  # folded into the open alert: no second incident
    assert Incident.objects.count() == 1 and Page.objects.count() == 1


def test_the_next_ping_resolves_the_alert_and_the_incident_stays_open(
        backup, default_policy, clock):
    heartbeat, token = backup
    clock.shift(timedelta(hours=2))
    heartbeats.check_heartbeats()
    clock.shift(timedelta(minutes=3))

    response = ping(token)
    replay = ping(token)

    assert response.status_code == replay.status_code == 200
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_at == NOW + timedelta(
        hours=2, minutes=3)
    assert alert.incident.is_open
    notes = alert.incident.timeline.filter(body__startswith="Alert resolved at its source")
    assert notes.count() == 1
    heartbeat.refresh_from_db()
    assert heartbeat.state == HeartbeatState.UP


def test_a_missed_heartbeat_after_recovery_opens_a_new_alert(backup, default_policy, clock):
    _, token = backup
    clock.shift(timedelta(hours=2))
    heartbeats.check_heartbeats()
    ping(token)
    clock.shift(timedelta(hours=2))

    heartbeats.check_heartbeats()

    assert list(Alert.objects.order_by("id").values_list("status", flat=True)) == [
        AlertStatus.RESOLVED, AlertStatus.TRIGGERED]


def test_a_silence_covers_heartbeat_alerts(backup, default_policy, ic, clock):
    services.create_silence(matchers=silences.parse('alertname="HeartbeatMissed"'),
                           ends_at=NOW + timedelta(hours=4), comment="Backup host moved",
                           by=ic)
    clock.shift(timedelta(hours=2))

    heartbeats.check_heartbeats()

    alert = Alert.objects.get()
    assert alert.incident is None and "Backup host moved" in alert.routing
    assert not Page.objects.exists()


def test_beat_schedule_runs_the_check_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["incidents-check-heartbeats"]
    assert entry == {"task": "incidents.tasks.check_heartbeats", "schedule": 60.0}


# --- create_heartbeat -------------------------------------------------------------------

def run(*args):
    out = io.StringIO()
    call_command("create_heartbeat", *args, stdout=out)
    return out.getvalue().splitlines()


def test_the_command_prints_a_working_ping_url_last(integration):
    lines = run("--name", "Invoice run", "--integration", "cron jobs", "--interval", "1440")

    url = lines[-1]
    heartbeat = Heartbeat.objects.get()
    assert heartbeat.interval_minutes == 1440 and heartbeat.grace_minutes == 5
    assert heartbeat.integration == integration
    assert url.startswith(settings.SITE_URL + "/api/v1/heartbeats/") and url.endswith("/ping")
    assert Client().get(url.removeprefix(settings.SITE_URL)).status_code == 200


@pytest.mark.parametrize(("args", "error"), [
    (("--integration", "nope", "--interval", "5"), "No integration named 'nope'"),
    (("--integration", "Cron jobs", "--interval", "0"), "at least 1"),
])
def test_the_command_refuses_bad_input(integration, args, error):
    with pytest.raises(CommandError, match=error):
        run("--name", "Invoice run", *args)
    assert not Heartbeat.objects.exists()


def test_the_command_refuses_a_duplicate_name(backup):
    with pytest.raises(CommandError, match="already exists"):
        run("--name", "nightly BACKUP", "--integration", "Cron jobs", "--interval", "5")


# --- admin ------------------------------------------------------------------------------

def test_adding_a_heartbeat_in_the_admin_shows_its_ping_url_once(client, manager, integration):
    client.force_login(manager)

    response = client.post(reverse("admin:incidents_heartbeat_add"), {
        "name": "Sitemap", "integration": integration.pk, "interval_minutes": 30,
        "grace_minutes": 2}, follow=True)

    heartbeat = Heartbeat.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    assert any("/api/v1/heartbeats/" in m for m in shown)
    token = shown[0].rsplit("/api/v1/heartbeats/", 1)[1].removesuffix("/ping")
    assert heartbeat.token_hash == hash_token(token)
    assert client.get(reverse("admin:incidents_heartbeat_changelist")).status_code == 200
