"""Silences (issue 6 item 5): label matchers, alerts stored but not routed while one is
active, nothing re-fired at expiry, the /incidents/silences/ page and the admin."""

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents import ingest, services
from incidents import matchers as matching
from incidents.models import Alert, Incident, IntegrationKind, Silence
from oncall.models import Page

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
CHECKOUT = "https://checkout.example.org"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def firing():
    return json.loads((FIXTURES / "alertmanager_firing.json").read_text())


def send(token, body):
    return Client().post(f"/api/v1/integrations/{token}/alertmanager", json.dumps(body),
                         content_type="application/json")


def silence(by, text=f'instance="{CHECKOUT}"', *, hours=2, comment="DB maintenance", **kw):
    return services.create_silence(matchers=matching.parse(text), by=by,
                                          ends_at=timezone.now() + timedelta(hours=hours),
                                          comment=comment, **kw)


# --- matchers (pure) ----------------------------------------------------------------

LABELS = {"alertname": "DiskFull", "instance": "db-12", "env": "prod"}


@pytest.mark.parametrize(("text", "expected"), [
    ('alertname="DiskFull"', True),
    ("alertname=DiskFull", True),
    ('alertname="Disk"', False),
    ('instance=~"db-[0-9]+"', True),
    ('instance=~"db-1"', False),  # a regex matches the whole value, not a prefix
    ('alertname="DiskFull"\ninstance!~"web-.*"', True),
    ('alertname="DiskFull"\nenv!="staging"', True),
    ('alertname="DiskFull"\nenv!="prod"', False),
    ('alertname="DiskFull"\nteam="payments"', False),  # every matcher must match
    ('alertname="DiskFull"\nteam=""', True),  # a missing label is the empty string
    ('alertname="DiskFull"\nteam=~"|payments"', True),
])
def test_matchers_follow_alertmanager_semantics(text, expected):
    assert matching.matches(matching.parse(text), LABELS) is expected


def test_matchers_round_trip_through_their_one_line_form():
    matchers = matching.parse('alertname="Disk \\"full\\""\ninstance=~"db-\\d+"')

    assert matchers == [
        {"name": "alertname", "value": 'Disk "full"', "is_regex": False, "is_equal": True},
        {"name": "instance", "value": "db-\\d+", "is_regex": True, "is_equal": True},
    ]
    assert matching.describe(matchers) == 'alertname="Disk \\"full\\"", instance=~"db-\\d+"'


@pytest.mark.parametrize(("text", "error"), [
    ("", "At least one label matcher"),
    ('instance=~"db-[0-9"', "invalid regular expression"),
    ("9lives=x", "is not `name=value`"),
    ('team=~".*"', "would silence every alert"),
    ('team!="prod"', "would silence every alert"),
])
def test_bad_matchers_are_refused_with_the_reason(text, error):
    with pytest.raises(matching.MatcherError, match=error):
        matching.parse(text)


@pytest.mark.parametrize("label", ["a" * 34 + "!", "a" * 100_000 + "!"])
def test_a_pathological_regex_against_a_pathological_label_costs_microseconds(label):
    """Issue 16 item 3: Python's backtracking `re` takes minutes here; RE2 is linear."""
    silence = matching.parse('alertname=~"(a+)+$"')
    matching.matches(silence, {"alertname": "warm-up"})  # compiled once, then cached

    started = time.perf_counter()
    found = matching.matches(silence, {"alertname": label})
    elapsed = time.perf_counter() - started

    assert found is False
    assert elapsed < 0.010, f"{elapsed * 1000:.1f} ms"
    assert matching.matches(silence, {"alertname": "aaaa"}) is True


def test_a_regex_is_compiled_once_per_pattern():
    matching._compiled.cache_clear()
    silence = matching.parse('instance=~"db-[0-9]+"')
    for number in range(50):
        matching.matches(silence, {"instance": f"db-{number}"})

    assert matching._compiled.cache_info().misses == 1


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=db)db-1", "db-(?!2)[0-9]+", "(?<=x)y",
                                     "(?<!x)y"])
def test_backreferences_and_lookaround_are_refused_with_the_reason(pattern):
    with pytest.raises(matching.MatcherError, match="RE2 has no backreferences") as refused:
        matching.parse(f'instance=~"{pattern}"')

    assert "Matcher 1 (instance): invalid regular expression" in str(refused.value)


def test_a_regex_longer_than_the_cap_is_refused():
    with pytest.raises(matching.MatcherError, match="regular expression must be text of at "
                                                    "most 1000 characters"):
        matching.parse('instance=~"' + "a" * 1001 + '"')
    with pytest.raises(matching.MatcherError, match="longer than 1300 characters"):
        matching.parse("instance=~" + " " * 100_000 + "x")


def test_a_label_longer_than_the_cap_satisfies_no_regex_matcher_either_way():
    long_label = {"alertname": "Big", "body": "a" * 4097}

    assert matching.matches(matching.parse('alertname="Big"\nbody=~"a*"'),
                            {"alertname": "Big", "body": "a" * 4096})
    assert not matching.matches(matching.parse('alertname="Big"\nbody=~"a*"'), long_label)
    assert not matching.matches(matching.parse('alertname="Big"\nbody!~"b*"'), long_label)


def test_validate_refuses_matchers_that_are_not_the_documented_shape():
    with pytest.raises(matching.MatcherError, match="is_regex and is_equal"):
        matching.validate([{"name": "a", "value": "b", "is_regex": "yes", "is_equal": True}])
    with pytest.raises(matching.MatcherError, match="not a label name"):
        matching.validate([{"name": "", "value": "b"}])


# --- ingestion ------------------------------------------------------------------------

def test_a_silenced_alert_is_stored_but_opens_no_incident_and_pages_nobody(
        prometheus, default_policy, ic):
    _, token = prometheus
    muted = silence(ic)

    response = send(token, firing())

    assert response.status_code == 200
    quiet = Alert.objects.get(key="1a30ba71cca2921f")
    loud = Alert.objects.get(key="6c1e5d0f2a9b4e77")
    assert quiet.incident is None and not quiet.paged and quiet.silence == muted
    assert f"silenced by silence #{muted.pk} (DB maintenance)" in quiet.routing
    # The other alert of the group is not silenced: it opens the incident and pages.
    assert loud.incident is not None and loud.paged and loud.silence is None
    assert Incident.objects.count() == 1 and Page.objects.count() == 1
    assert list(muted.suppressed_alerts.all()) == [quiet]
    outcomes = [a["outcome"] for a in response.json()["alerts"]]
    assert outcomes[0] == f"new alert #{quiet.pk} silenced by silence #{muted.pk}"


def test_a_silenced_alert_is_still_deduplicated(prometheus, default_policy, ic):
    _, token = prometheus
    silence(ic, 'alertname="ProbeFailure"')

    send(token, firing())
    send(token, firing())

    assert list(Alert.objects.values_list("count", flat=True)) == [2, 2]
    assert not Incident.objects.exists() and not Page.objects.exists()


def test_an_expired_silence_re_fires_nothing_but_the_next_message_is_routed(
        prometheus, default_policy, ic, clock):
    _, token = prometheus
    muted = silence(ic, 'alertname="ProbeFailure"', hours=1)
    send(token, firing())

    clock.shift(timedelta(hours=1, minutes=1))
    assert not Incident.objects.exists()  # expiring alone changes nothing
    response = send(token, firing())

    first = Alert.objects.get(key="1a30ba71cca2921f")
    assert first.incident is not None and first.opened_incident and first.paged
    assert first.silence == muted  # still shown on the silence it was suppressed by
    assert first.count == 2 and first.last_received_at == NOW + timedelta(hours=1, minutes=1)
    assert f"(silence #{muted.pk} no longer active)" in first.routing
    assert Incident.objects.count() == 1 and Page.objects.count() == 1
    assert response.json()["alerts"][0]["outcome"].startswith("silence over; ")


def test_a_repeat_while_silenced_stays_quiet(prometheus, default_policy, ic, clock):
    _, token = prometheus
    silence(ic, 'alertname="ProbeFailure"', hours=2)
    send(token, firing())

    clock.shift(timedelta(hours=1))
    response = send(token, firing())

    assert "still silenced" in response.json()["alerts"][0]["outcome"]
    assert not Incident.objects.exists()


def test_a_pending_silence_does_not_apply_yet(prometheus, default_policy, ic):
    _, token = prometheus
    silence(ic, 'alertname="ProbeFailure"', starts_at=timezone.now() + timedelta(hours=1),
            hours=3)

    send(token, firing())

    assert Incident.objects.count() == 1
    assert not Alert.objects.filter(silence__isnull=False).exists()


def test_a_silence_for_one_integration_leaves_the_others_alone(prometheus, default_policy, ic):
    _, token = prometheus
    other, _ = ingest.create_integration(name="Other", kind=IntegrationKind.ALERTMANAGER)
    silence(ic, 'alertname="ProbeFailure"', integration=other)

    send(token, firing())

    assert Incident.objects.count() == 1
    assert not Alert.objects.filter(silence__isnull=False).exists()


def test_resolving_a_silenced_alert_is_harmless(prometheus, ic):
    _, token = prometheus
    silence(ic, 'alertname="ProbeFailure"')
    send(token, firing())

    response = send(token, json.loads((FIXTURES / "alertmanager_resolved.json").read_text()))

    assert response.status_code == 200
    assert Alert.objects.get(key="1a30ba71cca2921f").status == "resolved"


# --- services ---------------------------------------------------------------------------

def test_only_commanders_and_managers_create_or_expire_silences(responder, viewer, ic):
    for user in (responder, viewer):
        with pytest.raises(PermissionDenied):
            silence(user)
    muted = silence(ic)
    with pytest.raises(PermissionDenied):
        services.expire_silence(muted, by=viewer)
    assert Silence.objects.get().ends_at > timezone.now()


def test_a_silence_must_end_after_it_starts_and_in_the_future(ic):
    with pytest.raises(ValidationError, match="end after it starts"):
        silence(ic, hours=-1, starts_at=timezone.now())
    with pytest.raises(ValidationError, match="already be over"):
        silence(ic, hours=-1, starts_at=timezone.now() - timedelta(hours=2))
    assert not Silence.objects.exists()


def test_expiring_ends_the_silence_now_and_twice_changes_nothing(ic, clock):
    muted = silence(ic)
    clock.shift(timedelta(minutes=10))

    services.expire_silence(muted, by=ic)
    clock.shift(timedelta(minutes=10))
    services.expire_silence(muted, by=ic)

    muted.refresh_from_db()
    assert muted.ends_at == NOW + timedelta(minutes=10)
    assert muted.state() == "expired"


def test_expiring_a_pending_silence_means_it_never_starts(ic):
    muted = silence(ic, starts_at=timezone.now() + timedelta(hours=1), hours=3)

    services.expire_silence(muted, by=ic)

    muted.refresh_from_db()
    assert muted.starts_at == muted.ends_at == NOW
    assert not Silence.objects.active().exists()


# --- the page ---------------------------------------------------------------------------

def form(**overrides):
    return {"matchers": 'alertname="DiskFull"\ninstance=~"db-[0-9]+"', "integration": "",
            "starts_at": "", "ends_at": "2026-11-27T14:00", "comment": "Disk swap",
            **overrides}


def test_an_ic_creates_a_silence_on_the_page(client, ic):
    client.force_login(ic)

    response = client.post(reverse("incidents:silences"), form())

    assert response.status_code == 302
    muted = Silence.objects.get()
    assert muted.created_by == ic and muted.comment == "Disk swap"
    assert muted.starts_at == NOW and muted.ends_at == datetime(2026, 11, 27, 14, tzinfo=UTC)
    assert muted.matchers[1] == {"name": "instance", "value": "db-[0-9]+", "is_regex": True,
                                 "is_equal": True}
    page = client.get(reverse("incidents:silences"))
    assert "Disk swap" in page.text and "instance=~&quot;db-[0-9]+&quot;" in page.text


@pytest.mark.parametrize(("overrides", "error"), [
    ({"matchers": 'instance=~"db-[0-9"'}, "invalid regular expression"),
    ({"matchers": 'instance=~"(?!db-2)db-[0-9]+"'}, "RE2 has no backreferences (\\1) and no "
                                                    "lookaround"),
    ({"matchers": 'instance=~"(db)-\\1"'}, "invalid escape sequence: \\1"),
    ({"matchers": 'instance=~"' + "x" * 1001 + '"'}, "at most 1000 characters"),
    ({"starts_at": "2026-11-27T15:00"}, "must end after it starts"),
    ({"ends_at": "2026-11-27T09:00"}, "must end after it starts"),
    ({"matchers": ""}, "This field is required"),
    ({"comment": ""}, "This field is required"),
])
def test_a_bad_silence_is_a_form_error_and_nothing_is_saved(client, ic, overrides, error):
    client.force_login(ic)

    response = client.post(reverse("incidents:silences"), form(**overrides))

    assert response.status_code == 400
    assert error in response.text
    assert not Silence.objects.exists()


def test_a_silence_already_over_is_a_form_error(client, ic):
    client.force_login(ic)

    response = client.post(reverse("incidents:silences"),
                           form(starts_at="2026-11-27T08:00", ends_at="2026-11-27T09:00"))

    assert response.status_code == 400
    assert "would already be over" in response.text
    assert not Silence.objects.exists()


def test_viewers_read_the_page_but_cannot_create_or_expire(client, viewer, ic):
    muted = silence(ic)
    client.force_login(viewer)

    page = client.get(reverse("incidents:silences"))
    created = client.post(reverse("incidents:silences"), form())
    expired = client.post(reverse("incidents:silence-expire", args=[muted.pk]))

    assert page.status_code == 200 and "DB maintenance" in page.text
    assert "Create silence" not in page.text and "Expire now" not in page.text
    assert created.status_code == expired.status_code == 403
    assert Silence.objects.count() == 1
    assert Silence.objects.get().ends_at > timezone.now()


def test_expire_now_on_the_page(client, manager):
    muted = silence(manager)
    client.force_login(manager)

    response = client.post(reverse("incidents:silence-expire", args=[muted.pk]))

    assert response.status_code == 302
    muted.refresh_from_db()
    assert muted.ends_at == NOW
    listing = client.get(reverse("incidents:silences")).text
    assert "were not re-fired" in listing


def test_the_silence_page_lists_the_alerts_it_suppressed(client, prometheus, ic):
    _, token = prometheus
    muted = silence(ic)
    send(token, firing())
    client.force_login(ic)

    response = client.get(reverse("incidents:silence", args=[muted.pk]))

    assert response.status_code == 200
    assert "Alerts it suppressed (1)" in response.text
    assert "BlackBox probe failure: https://checkout.example.org" in response.text
    listing = client.get(reverse("incidents:silences"))
    assert listing.context["current"][0].suppressed_count == 1


def test_the_list_queries_do_not_grow_with_the_silences(client, ic,
                                                       django_assert_max_num_queries):
    for number in range(30):
        silence(ic, f'alertname="Alert{number}"', hours=number + 1)
    Silence.objects.filter(pk__in=Silence.objects.order_by("id").values("pk")[:10]).update(
        starts_at=NOW - timedelta(days=2), ends_at=NOW - timedelta(days=1))
    client.force_login(ic)

    with django_assert_max_num_queries(8):
        response = client.get(reverse("incidents:silences"))

    assert response.status_code == 200
    assert len(response.context["current"]) == 20 and len(response.context["expired"]) == 10


def test_the_page_needs_login(client):
    assert client.get(reverse("incidents:silences")).status_code == 302


# --- admin ------------------------------------------------------------------------------

def test_the_admin_refuses_an_invalid_regex_and_saves_a_good_silence(client, manager):
    client.force_login(manager)
    add = reverse("admin:incidents_silence_add")
    fields = {"integration": "", "starts_at_0": "2026-11-27", "starts_at_1": "10:30:00",
              "ends_at_0": "2026-11-27", "ends_at_1": "12:00:00", "comment": "Upgrade"}

    bad = client.post(add, {**fields, "matchers": json.dumps(
        [{"name": "job", "value": "(", "is_regex": True, "is_equal": True}])})
    good = client.post(add, {**fields, "matchers": json.dumps(
        [{"name": "job", "value": "node", "is_regex": False, "is_equal": True}])})

    assert bad.status_code == 200 and "invalid regular expression" in bad.text
    assert good.status_code == 302
    assert Silence.objects.get().created_by == manager


def test_the_admin_expires_silences(client, manager):
    muted = silence(manager)
    client.force_login(manager)

    client.post(reverse("admin:incidents_silence_changelist"),
                {"action": "expire_now", "_selected_action": [muted.pk]})

    muted.refresh_from_db()
    assert muted.ends_at == NOW
