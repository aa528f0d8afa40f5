"""Live updates (issue 18, item 1): every write path moves the incident's version, and
the live URLs answer 204 while nothing changed, the changed sections otherwise."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from incidents import services
from incidents.models import (
    ChecklistPhase,
    CommsKind,
    PublicState,
    Runbook,
    Severity,
    Status,
    TimelineKind,
)
from mindweave_ir.live import versions
from mindweave_ir.live.models import LiveTopic
from oncall import paging
from oncall import services as oncall_services
from oncall.models import (
    ContactMethod,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    Page,
    Schedule,
    ScheduleMember,
)
from reports.services import pir as pir_services
from tests.incidents.factories import ServiceFactory, declare
from tests.pages import html
from tests.reports.factories import resolved_pir

pytestmark = pytest.mark.django_db

# session, user, time-zone profile (every signed-in request) + the version: nothing else.
UNCHANGED_POLL_MAX_QUERIES = 4


@pytest.fixture
def policy(ic, responder):
    """Level 1 pages the IC by e-mail; the responder is on level 2."""
    for user in (ic, responder):
        ContactMethod.objects.create(user=user, kind="email", target=f"{user.username}@ex.com")
    policy = EscalationPolicy.objects.create(name="Production Incidents", is_default=True)
    EscalationLevel.objects.create(policy=policy, position=1, timeout_minutes=5).users.set([ic])
    EscalationLevel.objects.create(policy=policy, position=2,
                                   timeout_minutes=5).users.set([responder])
    return policy


@pytest.fixture
def watched(ic, policy, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident = declare(ic, title="Checkout failing", severity=Severity.SEV2,
                           services=[ServiceFactory()])
        services.add_timeline_entry(incident, body="Error rate at 40%", by=ic)
    return incident


def version_of(incident):
    return versions.version(versions.incident_key(incident.pk))


def page_of(incident):
    return Page.objects.get(source=versions.incident_key(incident.pk))


def _note(incident):
    return incident.timeline.get(kind=TimelineKind.NOTE)


def _item(incident, phase=ChecklistPhase.TRIAGE):
    return incident.checklist.filter(phase=phase, done_at__isnull=True).first()


def _runbook(incident, ic):
    runbook = Runbook.objects.create(title="Restart", body="### Step 1: Restart the pods\n")
    services.attach_runbook(incident, runbook_id=runbook.pk, by=ic)
    return incident.runbooks.get()


def _deliver_first(incident):
    page = page_of(incident)
    paging.run_page(page.pk)
    first = Notification.objects.filter(page=page).order_by("pk").first()
    return paging.deliver(first.pk)


# Every verb a user (or the engine) can do to an incident, its page or its pages.
VERBS = {
    "change status": lambda inc, ic, r: services.change_status(
        inc, to=Status.INVESTIGATING, by=ic),
    "change severity": lambda inc, ic, r: services.change_severity(
        inc, to=Severity.SEV1, by=ic),
    "assign role": lambda inc, ic, r: services.assign_role(
        inc, role="technical_lead", user=r, by=ic),
    "join": lambda inc, ic, r: services.join_incident(inc, by=r),
    "add timeline entry": lambda inc, ic, r: services.add_timeline_entry(
        inc, body="Rolled back", by=ic),
    "edit timeline entry": lambda inc, ic, r: services.edit_timeline_entry(
        _note(inc), body="Error rate at 45%", expected_version=_note(inc).version, by=ic),
    "delete timeline entry": lambda inc, ic, r: services.delete_timeline_entry(
        _note(inc), expected_version=_note(inc).version, by=ic),
    "tick checklist item": lambda inc, ic, r: services.set_checklist_item(
        _item(inc), done=True, by=ic),
    "waive closure item": lambda inc, ic, r: services.waive_checklist_item(
        _item(inc, ChecklistPhase.CLOSURE), reason="Not needed", by=ic),
    "send update": lambda inc, ic, r: services.send_update(
        inc, channel=CommsKind.STATUS_PAGE, subject="Investigating",
        body="We are looking into it.", state=PublicState.INVESTIGATING, by=ic),
    "set slack webhook": lambda inc, ic, r: services.set_slack_webhook(
        inc, url="", by=ic),
    "attach runbook": lambda inc, ic, r: _runbook(inc, ic),
    "acknowledge page": lambda inc, ic, r: paging.acknowledge_page(page_of(inc), by=ic),
    "escalation step (engine)": lambda inc, ic, r: paging.run_page(page_of(inc).pk),
    "resolve": lambda inc, ic, r: services.resolve_incident(
        inc, resolution="Fixed", by=ic,
        fulfilled=[i.text for i in inc.checklist.filter(phase=ChecklistPhase.CLOSURE)]),
}


@pytest.mark.parametrize("verb", VERBS)
def test_every_write_moves_the_incident_and_dashboard_versions(
        verb, watched, ic, responder, django_capture_on_commit_callbacks):
    before, dashboard = version_of(watched), versions.version(versions.DASHBOARD)
    with django_capture_on_commit_callbacks(execute=True):
        VERBS[verb](watched, ic, responder)
    assert version_of(watched) > before
    assert versions.version(versions.DASHBOARD) > dashboard


def test_the_engine_sending_a_notification_moves_the_version(
        watched, django_capture_on_commit_callbacks):
    """The paging card said "Nobody notified yet" after the engine had sent the e-mails."""
    page = page_of(watched)
    with django_capture_on_commit_callbacks(execute=True):
        paging.run_page(page.pk)
    before = version_of(watched)
    with django_capture_on_commit_callbacks(execute=True):
        assert _deliver_first(watched).startswith("sent")
    assert version_of(watched) > before


def test_a_step_of_the_runbook_moves_the_version(watched, ic,
                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        attachment = _runbook(watched, ic)
    before = version_of(watched)
    with django_capture_on_commit_callbacks(execute=True):
        services.tick_runbook_step(attachment, position=0, done=True, by=ic)
    assert version_of(watched) > before


def test_a_service_moves_a_version_once_and_a_rollback_not_at_all(
        watched, ic, django_capture_on_commit_callbacks):
    before = version_of(watched)
    with django_capture_on_commit_callbacks() as queued:
        services.add_timeline_entry(watched, body="Two bumps", by=ic)  # lock + entry
    assert len(queued) == 1  # the service's bumps gathered in one callback
    queued[0]()
    assert version_of(watched) == before + 1

    with django_capture_on_commit_callbacks() as queued:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.add_timeline_entry(watched, body="Rolled back", by=ic)
            raise RuntimeError
        services.add_timeline_entry(watched, body="After the rollback", by=ic)
    assert len(queued) == 1  # the rolled-back bump is gone with its savepoint
    queued[0]()
    assert version_of(watched) == before + 2


# --- the live URLs ---------------------------------------------------------------------

def live_url(incident, version):
    return f"/incidents/{incident.ref}/live/?v={version}"


def test_unchanged_incident_answers_204_with_no_body(watched, client, ic):
    client.force_login(ic)
    response = client.get(live_url(watched, version_of(watched)))
    assert response.status_code == 204 and response.content == b""


def test_a_change_by_someone_else_comes_back_with_its_new_version(
        watched, client, ic, responder, django_capture_on_commit_callbacks):
    client.force_login(responder)
    seen = version_of(watched)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_severity(watched, to=Severity.SEV1, by=ic)
    response = client.get(live_url(watched, seen))
    assert response.status_code == 200
    text = html(response)
    assert f'data-live-version="{version_of(watched)}"' in text
    for section in ("incident-header", "incident-timeline", "timeline-form", "incident-roles",
                    "incident-paging", "incident-checklist", "incident-alerts",
                    "incident-comms", "incident-runbooks"):
        assert f'id="{section}"' in text, section
    assert "SEV-1" in text
    assert client.get(live_url(watched, version_of(watched))).status_code == 204


@pytest.mark.parametrize("bad", ["", "abc", "-1", "99999999999999999999999"])
def test_a_bad_version_is_just_changed(watched, client, viewer, bad):
    client.force_login(viewer)
    response = client.get(f"/incidents/{watched.ref}/live/?v={bad}")
    assert response.status_code == 200 and 'id="incident-header"' in html(response)


def test_live_needs_login_and_a_real_incident(watched, client, viewer):
    response = client.get(live_url(watched, 0))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(viewer)
    assert client.get("/incidents/INC-1999-9999/live/?v=0").status_code == 404
    assert client.post(live_url(watched, 0)).status_code == 405


def test_the_page_carries_its_live_url_and_version(watched, client, viewer):
    client.force_login(viewer)
    text = html(client.get(f"/incidents/{watched.ref}/"))
    assert f'data-live-url="/incidents/{watched.ref}/live/"' in text
    assert f'data-live-version="{version_of(watched)}"' in text
    assert "js/live.js" in text


def test_an_unchanged_poll_runs_a_constant_handful_of_queries(
        watched, client, ic, django_assert_max_num_queries):
    client.force_login(ic)
    for i in range(30):
        services.add_timeline_entry(watched, body=f"Entry {i}", by=ic)  # not committed:
    current = version_of(watched)                                       # no bump
    with django_assert_max_num_queries(UNCHANGED_POLL_MAX_QUERIES):
        assert client.get(live_url(watched, current)).status_code == 204


# --- the dashboard -----------------------------------------------------------------------

def test_dashboard_answers_204_until_an_incident_is_declared(
        client, viewer, ic, policy, django_capture_on_commit_callbacks,
        django_assert_max_num_queries):
    client.force_login(viewer)
    text = html(client.get("/"))
    assert 'data-live-url="/live/"' in text
    seen = versions.version(versions.DASHBOARD)
    assert f'data-live-version="{seen}"' in text
    with django_assert_max_num_queries(UNCHANGED_POLL_MAX_QUERIES):
        assert client.get(f"/live/?v={seen}").status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        declare(ic, title="Payments down", severity=Severity.SEV1)
    response = client.get(f"/live/?v={seen}")
    assert response.status_code == 200
    assert 'id="dashboard-live"' in html(response) and "Payments down" in html(response)
    assert f'data-live-version="{versions.version(versions.DASHBOARD)}"' in html(response)


def test_dashboard_follows_overrides_of_the_on_call_panel(
        ic, django_capture_on_commit_callbacks):
    schedule = Schedule.objects.create(name="Primary", starts_on=timezone.localdate())
    ScheduleMember.objects.create(schedule=schedule, user=ic, position=0)
    before = versions.version(versions.DASHBOARD)
    start = timezone.now() + timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        oncall_services.create_override(schedule, user=ic, start=start,
                                        end=start + timedelta(hours=2), by=ic)
    assert versions.version(versions.DASHBOARD) == before + 1
    assert LiveTopic.objects.filter(key=versions.DASHBOARD).exists()


def test_the_review_changing_moves_its_incident(ic, django_capture_on_commit_callbacks):
    """The incident page's header names its review's state."""
    with django_capture_on_commit_callbacks(execute=True):
        pir = resolved_pir(ic)
    before = version_of(pir.incident)
    with django_capture_on_commit_callbacks(execute=True):
        pir_services.update_section(pir, section="summary", expected_version=pir.version,
                                    data={"impact": "Some customers could not pay."}, by=ic)
    assert version_of(pir.incident) == before + 1
