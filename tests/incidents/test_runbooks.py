"""Runbooks (§4): suggested by service and alert name, attached by an IC, steps ticked."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from incidents import services
from incidents.models import (
    Alert,
    Integration,
    Runbook,
    RunbookAttachment,
    RunbookStepTick,
    Severity,
)
from incidents.views import runbooks as runbook_views
from tests.incidents.factories import ServiceFactory, declare
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def login(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def service():
    return ServiceFactory(name="Checkout API")


def raise_alert(incident, **labels):
    integration, _ = Integration.objects.get_or_create(
        name="prom", defaults={"kind": "alertmanager", "token_hash": "x" * 64})
    return Alert.objects.create(integration=integration, key=f"k{Alert.objects.count()}",
                                summary="alert", severity=Severity.SEV2, labels=labels,
                                incident=incident)


def test_runbooks_linked_to_the_incident_services_are_suggested(ic, service):
    Runbook.objects.get(title="Service Down").services.add(service)
    incident = declare(ic, services=[service])
    assert [r.title for r in runbook_views.suggested(incident)] == ["Service Down"]
    assert runbook_views.suggested(declare(ic)) == []


def test_alert_names_suggest_runbooks_and_both_matches_come_first(ic, service):
    Runbook.objects.get(title="Database Issues").services.add(service)
    incident = declare(ic, services=[service])
    raise_alert(incident, alertname="HighErrorRate", severity="error")
    raise_alert(incident, alertname="SlowQueries")
    raise_alert(incident, job="api")  # no alertname: ignored
    assert [r.title for r in runbook_views.suggested(incident)] == \
        ["Database Issues", "High Error Rate"]


def test_an_incident_without_alerts_gets_service_suggestions_only(ic, service):
    Runbook.objects.get(title="High Error Rate").services.add(service)
    incident = declare(ic, services=[service])
    assert runbook_views.alert_names(incident) == set()
    assert [r.title for r in runbook_views.suggested(incident)] == ["High Error Rate"]


def test_ic_attaches_and_a_responder_ticks_steps(ic, responder, service):
    runbook = Runbook.objects.get(title="Service Down")
    runbook.services.add(service)
    incident = declare(ic, services=[service])
    with pytest.raises(PermissionDenied):
        services.attach_runbook(incident, runbook_id=runbook.pk, by=responder)
    attachment = services.attach_runbook(incident, runbook_id=runbook.pk, by=ic)
    with pytest.raises(services.IncidentError, match="already attached"):
        services.attach_runbook(incident, runbook_id=runbook.pk, by=ic)
    assert runbook_views.suggested(incident) == []
    with pytest.raises(PermissionDenied):
        services.tick_runbook_step(attachment, position=0, done=True, by=responder)
    services.join_incident(incident, by=responder)
    services.tick_runbook_step(attachment, position=0, done=True, by=responder)
    services.tick_runbook_step(attachment, position=0, done=True, by=responder)  # twice: one tick
    tick = RunbookStepTick.objects.get()
    assert tick.text == "Step 1: Check Pod Status" and tick.done_by == responder
    with pytest.raises(services.IncidentError, match="not in the runbook"):
        services.tick_runbook_step(attachment, position=99, done=True, by=ic)
    services.tick_runbook_step(attachment, position=0, done=False, by=ic)
    assert not RunbookStepTick.objects.exists()


def test_runbook_section_through_the_page(ic, service):
    runbook = Runbook.objects.get(title="High Error Rate")
    runbook.services.add(service)
    incident = declare(ic, services=[service])
    client = login(ic)
    response = client.get(f"/incidents/{incident.ref}/runbooks/", **HX)
    assert_fragment(response, "incident-runbooks")
    assert "High Error Rate" in html(response) and "Attach" in html(response)
    response = client.post(f"/incidents/{incident.ref}/runbooks/attach/",
                           {"runbook": runbook.pk}, **HX)
    assert_fragment(response, "incident-runbooks")
    attachment = RunbookAttachment.objects.get()
    assert "Step 1: Identify Error Types" in html(response)
    response = client.post(
        f"/incidents/{incident.ref}/runbooks/{attachment.pk}/steps/2/", {"done": "1"}, **HX)
    assert response.status_code == 200 and "checked" in html(response)
    assert RunbookStepTick.objects.get().text == "Step 3: Check Recent Deployments"


def test_runbook_markdown_is_sanitised(ic, service):
    runbook = Runbook.objects.create(
        title="Evil", body="### Step 1: Look\n<script>alert(1)</script>\n"
                           "[x](javascript:alert(1))")
    runbook.services.add(service)
    incident = declare(ic, services=[service])
    services.attach_runbook(incident, runbook_id=runbook.pk, by=ic)
    text = html(login(ic).get(f"/incidents/{incident.ref}/runbooks/", **HX))
    assert "<script>alert(1)" not in text and "javascript:" not in text


def test_viewer_sees_runbooks_without_controls(viewer, ic, service):
    Runbook.objects.get(title="Service Down").services.add(service)
    incident = declare(ic, services=[service])
    response = login(viewer).get(f"/incidents/{incident.ref}/runbooks/", **HX)
    assert "Service Down" in html(response) and "Attach" not in html(response)
    response = login(viewer).post(f"/incidents/{incident.ref}/runbooks/attach/",
                                  {"runbook": 1}, **HX)
    assert response.status_code == 403
