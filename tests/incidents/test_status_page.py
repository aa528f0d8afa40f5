"""The public status page: no login, component states only from published status-page
updates of open incidents, a banner that agrees with the lists, nothing internal, HTML
escaped."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from incidents import services
from incidents.models import CommsKind, CommsStatus, CommsUpdate, Exercise, Incident, Severity
from tests.incidents.factories import ServiceFactory, declare, note

pytestmark = pytest.mark.django_db

MARKER = "ZZ-INTERNAL-7f3a9c"


@pytest.fixture
def anon():
    return Client()


def publish(incident, by, state="investigating", subject="Investigating issues", body="Looking"):
    return services.send_update(incident, channel=CommsKind.STATUS_PAGE, subject=subject,
                             body=body, state=state, by=by)


def settle_closure(incident, by):
    for item in incident.checklist.filter(phase="closure"):
        services.set_checklist_item(item, done=True, by=by)


def resolve(incident, by):
    settle_closure(incident, by)
    return services.resolve_incident(incident, resolution="Rolled back.", by=by)


def test_status_page_and_json_need_no_login(anon):
    page = anon.get("/status/")
    assert page.status_code == 200 and "All systems operational" in page.content.decode()
    assert 'class="topbar"' not in page.content.decode()
    assert "/accounts/login/" not in page.content.decode()
    data = anon.get("/status/index.json").json()
    assert data["status"]["indicator"] == "operational"
    assert data["active"] == [] and data["resolved"] == []


@pytest.mark.parametrize(("severity", "state"), [
    (Severity.SEV1, "major_outage"), (Severity.SEV2, "partial_outage"),
    (Severity.SEV3, "degraded_performance"), (Severity.SEV4, "operational"),
])
def test_published_update_sets_its_components_by_severity_by_default(anon, ic, severity,
                                                                       state):
    hit = ServiceFactory(name="Checkout API")
    ServiceFactory(name="Search")
    update = publish(declare(ic, services=[hit], severity=severity), ic)
    assert update.component_state == state
    data = anon.get("/status/index.json").json()
    states = {c["name"]: c["status"] for c in data["components"]}
    assert states == {"Checkout API": state, "Search": "operational"}
    assert data["status"]["indicator"] == state


def test_an_unpublished_incident_changes_nothing_public(anon, ic):
    internal = ServiceFactory(name="Internal Tools")
    declare(ic, services=[internal], severity=Severity.SEV1, title="Secret outage")
    data = anon.get("/status/index.json").json()
    assert data["status"] == {"indicator": "operational",
                              "description": "All systems operational"}
    assert data["components"][0]["status"] == "operational" and data["active"] == []
    html = anon.get("/status/").content.decode()
    assert "Major outage" not in html and "All systems operational" in html


def test_the_sender_chooses_the_component_state_and_the_latest_update_wins(anon, ic):
    hit = ServiceFactory(name="Checkout API")
    incident = declare(ic, services=[hit], severity=Severity.SEV1)
    services.send_update(incident, channel=CommsKind.STATUS_PAGE, subject="Slow checkout",
                         body="Looking.", state="investigating", by=ic,
                         component_state="degraded_performance")
    assert anon.get("/status/index.json").json()["components"][0]["status"] == \
        "degraded_performance"
    publish(incident, ic, "monitoring", "Fix implemented", "Watching.")  # default: SEV-1
    assert anon.get("/status/index.json").json()["components"][0]["status"] == "major_outage"
    publish(incident, ic, "resolved", "Resolved", "All good.")  # resolved: operational
    assert anon.get("/status/index.json").json()["components"][0]["status"] == "operational"


def test_an_unknown_component_state_is_refused(ic):
    incident = declare(ic)
    with pytest.raises(services.IncidentError, match="components show"):
        services.send_update(incident, channel=CommsKind.STATUS_PAGE, subject="S", body="B",
                             state="investigating", by=ic, component_state="on_fire")
    assert not CommsUpdate.objects.exists()


def test_a_component_shows_the_worst_of_its_open_published_incidents(anon, ic):
    hit = ServiceFactory(name="Checkout API")
    publish(declare(ic, services=[hit], severity=Severity.SEV3), ic)
    publish(declare(ic, services=[hit], severity=Severity.SEV2), ic)
    declare(ic, services=[hit], severity=Severity.SEV1)  # not published: not counted
    assert anon.get("/status/index.json").json()["components"][0]["status"] == "partial_outage"


def test_the_banner_names_an_active_incident_whose_components_are_operational(anon, ic):
    publish(declare(ic, services=[ServiceFactory()], severity=Severity.SEV4), ic)
    data = anon.get("/status/index.json").json()
    assert data["status"] == {"indicator": "operational",
                              "description": "1 active incident; all components operational"}
    html = anon.get("/status/").content.decode()
    assert "1 active incident; all components operational" in html
    assert "All systems operational" not in html and "No active incidents" not in html


def test_a_resolved_incident_shows_resolved_under_its_public_title(anon, ic):
    service = ServiceFactory(name="Checkout API")
    incident = declare(ic, services=[service], severity=Severity.SEV1)
    publish(incident, ic, "investigating", "Investigating issues with Checkout API")
    publish(incident, ic, "monitoring", "Fix implemented, monitoring Checkout API")
    resolve(incident, ic)
    data = anon.get("/status/index.json").json()
    [entry] = data["resolved"]
    assert entry["status"] == "resolved"
    assert entry["name"] == "Investigating issues with Checkout API"
    assert data["components"][0]["status"] == "operational" and data["active"] == []
    html = anon.get("/status/").content.decode()
    assert "All systems operational" in html and "Resolved</span>" in html


def test_a_resolved_incident_with_a_published_resolution_is_listed_under_it(anon, ic):
    incident = declare(ic, services=[ServiceFactory()])
    publish(incident, ic, "investigating", "Investigating issues with Search")
    publish(incident, ic, "resolved", "Resolved - Search issue", "Fixed.")
    resolve(incident, ic)
    [entry] = anon.get("/status/index.json").json()["resolved"]
    assert entry["name"] == "Resolved - Search issue" and entry["status"] == "resolved"


def test_a_reopened_incident_stays_publicly_resolved_until_a_new_update(anon, ic):
    """Only what was published counts: reopening inside changes nothing outside until
    someone publishes again; then it is active under that update."""
    incident = declare(ic, services=[ServiceFactory(name="Search")], severity=Severity.SEV1)
    publish(incident, ic, "investigating", "Investigating issues with Search")
    publish(incident, ic, "resolved", "Resolved - Search issue", "Fixed.")
    incident = resolve(incident, ic)
    services.change_status(incident, to="investigating", by=ic)

    data = anon.get("/status/index.json").json()
    [entry] = data["resolved"]
    assert data["active"] == [] and entry["status"] == "resolved" and entry["resolved_at"]
    assert data["components"][0]["status"] == "operational"
    assert data["status"]["description"] == "All systems operational"

    publish(incident, ic, "investigating", "Search issue is back")
    data = anon.get("/status/index.json").json()
    [entry] = data["active"]
    assert data["resolved"] == [] and entry["status"] == "investigating"
    assert data["components"][0]["status"] == "major_outage"


def test_resolved_and_drill_incidents_leave_components_operational(anon, ic):
    service = ServiceFactory(name="Checkout API")
    resolve(declare(ic, services=[service], severity=Severity.SEV1), ic)
    declare(ic, services=[service], severity=Severity.SEV1, exercise=Exercise.GAME_DAY)
    data = anon.get("/status/index.json").json()
    assert data["components"][0]["status"] == "operational"


def test_active_incident_shows_its_published_updates_newest_first(anon, ic, time_machine):
    time_machine.move_to(timezone.now())
    service = ServiceFactory(name="Checkout API")
    incident = declare(ic, services=[service])
    publish(incident, ic, "investigating", "Investigating issues with Checkout API", "Looking.")
    time_machine.shift(timedelta(minutes=10))
    publish(incident, ic, "identified", "Issue identified with Checkout API", "Found it.")
    data = anon.get("/status/index.json").json()
    [active] = data["active"]
    assert active["id"] == incident.ref and active["status"] == "identified"
    assert active["name"] == "Issue identified with Checkout API"
    assert active["components"] == ["Checkout API"]
    assert [u["status"] for u in active["updates"]] == ["identified", "investigating"]
    html = anon.get("/status/").content.decode()
    assert html.index("Found it.") < html.index("Looking.")


def test_incident_without_published_updates_is_not_listed(anon, ic):
    declare(ic, title="Secret project outage")
    data = anon.get("/status/index.json").json()
    assert data["active"] == []
    assert "Secret project" not in anon.get("/status/").content.decode()


def test_resolved_incidents_of_the_last_90_days_only(anon, ic, time_machine):
    time_machine.move_to(timezone.now())
    old = declare(ic)
    publish(old, ic, body="Old problem.")
    resolve(old, ic)
    time_machine.shift(timedelta(days=91))
    recent = declare(ic)
    publish(recent, ic, body="Recent problem.")
    publish(recent, ic, "resolved", "Resolved", "All good.")
    resolve(recent, ic)
    data = anon.get("/status/index.json").json()
    assert [i["id"] for i in data["resolved"]] == [recent.ref]
    assert data["resolved"][0]["resolved_at"] is not None
    assert "Old problem." not in anon.get("/status/").content.decode()


def test_html_in_updates_is_escaped(anon, ic):
    incident = declare(ic)
    publish(incident, ic, subject="<b>Bold</b> title", body="<script>alert(1)</script>\nline 2")
    html = anon.get("/status/").content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>Bold</b>" not in html and "&lt;b&gt;Bold&lt;/b&gt;" in html


def test_nothing_internal_ever_reaches_the_public_page(anon, ic, responder):
    service = ServiceFactory(name="Checkout API")
    incident = declare(ic, services=[service], title=f"Title {MARKER}",
                       description=f"Description {MARKER}",
                       customer_impact=f"Impact {MARKER}")
    services.join_incident(incident, by=responder)
    note(incident, responder, body=f"Timeline note {MARKER}")
    publish(incident, ic, body="We are investigating.")
    # Other channels' text is not published either.
    CommsUpdate.objects.create(incident=incident, channel=CommsKind.SLACK, sent_by=ic,
                               subject=f"Slack {MARKER}", body=f"Slack {MARKER}",
                               status=CommsStatus.SENT)
    failed = publish(incident, ic, body=f"Draft {MARKER}")
    CommsUpdate.objects.filter(pk=failed.pk).update(status=CommsStatus.FAILED)
    settle_closure(incident, ic)
    services.resolve_incident(incident, resolution=f"Resolution {MARKER}", by=ic)
    resolved_open = declare(ic, services=[service], description=f"Second {MARKER}")
    publish(resolved_open, ic, body="Second incident, public text.")
    assert Incident.objects.filter(description__contains=MARKER).count() == 2

    page = anon.get("/status/").content.decode()
    raw_json = anon.get("/status/index.json").content.decode()
    for body in (page, raw_json):
        assert MARKER not in body
        assert "We are investigating." in body and "Second incident, public text." in body
        for name in ("Ic", "Responder", "ic", "responder"):
            assert f">{name}<" not in body and f'"{name}"' not in body


def test_status_page_queries_do_not_grow_with_incidents(anon, ic, django_assert_max_num_queries):
    service = ServiceFactory()
    for n in range(6):
        incident = declare(ic, services=[service])
        publish(incident, ic, body=f"Update {n}")
        if n % 2:
            resolve(incident, ic)
    with django_assert_max_num_queries(8):
        anon.get("/status/")
