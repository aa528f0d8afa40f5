"""Problem reports and their triage (issue 6 item 6, handbook §3.1): the short report
form for anyone logged in, the triage queue, declaring an incident from a report
(services.declare_from_report, and the declare wizard's `?from_report=`), and
dismissing one with a reason."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from incidents.models import Incident, ManualReport, ReportState, TimelineKind
from incidents.services import IncidentError, triage
from tests.incidents.factories import ServiceFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
HX = {"HTTP_HX_REQUEST": "true"}
SEV2_ANSWERS = {"q_security_breach": "no", "q_service_unavailable": "no",
                "q_majority_affected": "yes"}
DECLARE = "/incidents/declare/"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def report(viewer):
    return triage.submit_report(what="Checkout spinner never ends",
                                 who_affected="EU customers paying by card",
                                 since=NOW - timedelta(minutes=40), by=viewer)


def report_form(**overrides):
    return {"what": "Login page 502", "who_affected": "Everyone on the mobile app",
            "since": "2026-11-27T10:00", "service": "", **overrides}


def declare_details(report_pk, **overrides):
    return {**SEV2_ANSWERS, "from_report": report_pk, "declare": "1",
            "title": "Checkout spinner never ends", "severity": "2",
            "detection_source": "customer_support", "description": "",
            "customer_impact": "EU customers paying by card",
            "started_at": "2026-11-27T09:50:00", **overrides}


# --- reporting ------------------------------------------------------------------------

def test_a_viewer_files_a_report_that_lands_in_the_triage_queue(client, viewer):
    service = ServiceFactory(name="Identity")
    client.force_login(viewer)

    response = client.post(reverse("incidents:report"), report_form(service=service.pk),
                           follow=True)

    report = ManualReport.objects.get()
    assert report.reporter == viewer and report.state == ReportState.OPEN
    assert report.what == "Login page 502" and report.service == service
    assert report.since == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert response.redirect_chain[-1][0] == reverse("incidents:triage")
    assert f"report #{report.pk} is in the triage queue" in response.text
    assert "Login page 502" in response.text


@pytest.mark.parametrize(("field", "value", "error"), [
    ("what", "", "This field is required"),
    ("who_affected", "   ", "This field is required"),
    ("since", "", "This field is required"),
    ("since", "2026-11-27T11:00", "Pick a time between"),
])
def test_a_blank_or_bad_field_is_a_form_error_and_nothing_is_saved(client, viewer, field,
                                                                    value, error):
    client.force_login(viewer)

    response = client.post(reverse("incidents:report"), report_form(**{field: value}))

    assert response.status_code == 400
    assert error in response.text
    assert not ManualReport.objects.exists()


def test_reporting_needs_login(client):
    assert client.get(reverse("incidents:report")).status_code == 302
    assert client.post(reverse("incidents:report"), report_form()).status_code == 302
    assert not ManualReport.objects.exists()


# --- the triage queue ---------------------------------------------------------------------

def test_everyone_reads_the_queue_but_only_ics_and_managers_get_the_actions(
        client, report, viewer, responder, ic, manager):
    for user, acts in ((viewer, False), (responder, False), (ic, True), (manager, True)):
        client.force_login(user)
        response = client.get(reverse("incidents:triage"))
        assert response.status_code == 200
        assert "Checkout spinner never ends" in response.text
        assert (f"?from_report={report.pk}" in response.text) is acts
        assert ("Dismiss</button>" in response.text) is acts


def test_the_queue_queries_do_not_grow_with_the_reports(client, viewer, ic, manager,
                                                        django_assert_max_num_queries):
    for number in range(20):
        made = triage.submit_report(what=f"Broken {number}", who_affected="Some",
                                     since=NOW, by=viewer, service=ServiceFactory())
        if number % 2:
            triage.dismiss_report(made, reason="Duplicate", by=manager)
    client.force_login(ic)

    with django_assert_max_num_queries(8):
        response = client.get(reverse("incidents:triage"))

    assert response.status_code == 200 and "Broken 19" in response.text


def test_dismissing_needs_a_reason(client, report, ic):
    client.force_login(ic)

    response = client.post(reverse("incidents:report-dismiss", args=[report.pk]),
                           {"reason": "  "})

    assert response.status_code == 400
    assert "This field is required" in response.text
    report.refresh_from_db()
    assert report.state == ReportState.OPEN


def test_an_ic_dismisses_a_report_with_a_reason(client, report, ic):
    client.force_login(ic)

    response = client.post(reverse("incidents:report-dismiss", args=[report.pk]),
                           {"reason": "Known slowness, tracked in INC-2026-0001"}, follow=True)

    report.refresh_from_db()
    assert report.state == ReportState.DISMISSED
    assert report.reason == "Known slowness, tracked in INC-2026-0001"
    assert report.decided_by == ic and report.decided_at == NOW and report.incident is None
    assert f"Report #{report.pk} dismissed." in response.text


def test_viewers_and_responders_cannot_dismiss(client, report, viewer, responder):
    for user in (viewer, responder):
        client.force_login(user)
        response = client.post(reverse("incidents:report-dismiss", args=[report.pk]),
                               {"reason": "nah"})
        assert response.status_code == 403
    report.refresh_from_db()
    assert report.state == ReportState.OPEN


def test_a_decided_report_cannot_be_dismissed_again(client, report, ic, manager):
    triage.dismiss_report(report, reason="Duplicate", by=manager)
    client.force_login(ic)

    response = client.post(reverse("incidents:report-dismiss", args=[report.pk]),
                           {"reason": "Other reason"}, follow=True)

    assert "already dismissed by Manager; nothing changed" in response.text
    report.refresh_from_db()
    assert report.reason == "Duplicate" and report.decided_by == manager


def test_the_services_refuse_what_the_rules_refuse(report, responder, ic):
    with pytest.raises(PermissionDenied):
        triage.dismiss_report(report, reason="x", by=responder)
    with pytest.raises(triage.TriageError, match="Say why"):
        triage.dismiss_report(report, reason="", by=ic)
    with pytest.raises(triage.TriageError, match="what is broken"):
        triage.submit_report(what="", who_affected="x", since=NOW, by=ic)
    report.refresh_from_db()
    assert report.state == ReportState.OPEN


# --- declaring from a report ------------------------------------------------------------

def test_declare_from_report_declares_links_and_notes_in_one_step(report, ic):
    incident = triage.declare_from_report(report, by=ic, title="Checkout spinner",
                                           severity=2)
    report.refresh_from_db()
    assert report.state == ReportState.DECLARED and report.incident == incident
    assert report.decided_by == ic
    assert incident.timeline.filter(kind=TimelineKind.ALERT,
                                    body__contains=f"manual report #{report.pk}").exists()


def test_declare_from_a_decided_report_declares_nothing(report, ic):
    triage.dismiss_report(report, reason="Duplicate of the outage", by=ic)
    with pytest.raises(IncidentError, match="already dismissed"):
        triage.declare_from_report(report, by=ic, title="Checkout spinner", severity=2)
    assert not Incident.objects.exists()


def test_declare_from_a_report_carries_it_through_the_wizard_and_prefills_the_details(
        client, report, ic):
    client.force_login(ic)

    first = client.get(DECLARE, {"from_report": report.pk})
    step = client.post(DECLARE, {"from_report": report.pk, "q_security_breach": "no"}, **HX)
    details = client.post(DECLARE, {"from_report": report.pk, **SEV2_ANSWERS})

    hidden = f'<input type="hidden" name="from_report" value="{report.pk}">'
    assert first.status_code == step.status_code == details.status_code == 200
    assert hidden in first.text and hidden in step.text and hidden in details.text
    form = details.context["form"]
    assert form["title"].value() == "Checkout spinner never ends"
    assert form["customer_impact"].value() == "EU customers paying by card"
    assert 'value="2026-11-27T09:50:00"' in details.text


def test_declaring_from_a_report_links_the_incident_back(client, report, ic):
    client.force_login(ic)

    response = client.post(DECLARE, declare_details(report.pk))

    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == incident.get_absolute_url()
    assert incident.started_at == datetime(2026, 11, 27, 9, 50, tzinfo=UTC)
    report.refresh_from_db()
    assert report.state == ReportState.DECLARED and report.incident == incident
    assert report.decided_by == ic and report.decided_at == NOW
    assert incident.timeline.filter(kind=TimelineKind.ALERT,
                                    body__startswith=f"Declared from manual report "
                                                     f"#{report.pk}").count() == 1
    assert list(incident.manual_reports.all()) == [report]
    triage = client.get(reverse("incidents:triage")).text
    assert f"Declared <a href=\"{incident.get_absolute_url()}\">{incident.ref}</a>" in triage


def test_declaring_from_a_decided_report_is_refused_and_declares_nothing(
        client, report, ic, manager):
    client.force_login(ic)
    triage.dismiss_report(report, reason="Duplicate", by=manager)

    opened = client.get(DECLARE, {"from_report": report.pk}, follow=True)
    submitted = client.post(DECLARE, declare_details(report.pk))
    over_htmx = client.post(DECLARE, declare_details(report.pk), **HX)

    assert opened.redirect_chain[-1][0] == reverse("incidents:triage")
    assert "already dismissed; nothing changed" in opened.text
    assert submitted.status_code == 302 and submitted["Location"] == reverse("incidents:triage")
    assert over_htmx["HX-Redirect"] == reverse("incidents:triage")
    assert not Incident.objects.exists()
    report.refresh_from_db()
    assert report.state == ReportState.DISMISSED and report.incident is None


def test_a_report_decided_while_the_wizard_was_open_undoes_the_declare(client, report, ic,
                                                                      monkeypatch):
    """The report is checked again, locked, in the declare's transaction."""
    client.force_login(ic)
    real = triage._locked_open

    def dismissed_meanwhile(report):
        ManualReport.objects.filter(pk=report.pk).update(state=ReportState.DISMISSED)
        return real(report)

    monkeypatch.setattr(triage, "_locked_open", dismissed_meanwhile)

    response = client.post(DECLARE, declare_details(report.pk))

    assert response.status_code == 400
    assert "already dismissed" in response.text
    assert not Incident.objects.exists()


def test_only_ics_and_managers_declare_from_a_report(client, report, responder):
    client.force_login(responder)

    assert client.get(DECLARE, {"from_report": report.pk}).status_code == 403
    assert client.post(DECLARE, declare_details(report.pk)).status_code == 403
    assert not Incident.objects.exists()


@pytest.mark.parametrize("value", ["999", "abc"])
def test_an_unknown_report_is_a_404(client, ic, value):
    client.force_login(ic)

    assert client.get(DECLARE, {"from_report": value}).status_code == 404


def test_declaring_without_a_report_is_unchanged(client, ic):
    client.force_login(ic)

    page = client.get(DECLARE)
    response = client.post(DECLARE, declare_details("", title="Plain declare"))

    assert 'name="from_report"' not in page.text
    assert response.status_code == 302
    assert Incident.objects.get().title == "Plain declare"
    assert not ManualReport.objects.exists()


# --- admin ------------------------------------------------------------------------------

def test_managers_see_reports_read_only_in_the_admin(client, report, manager):
    client.force_login(manager)

    assert client.get(reverse("admin:incidents_manualreport_changelist")).status_code == 200
    assert client.get(reverse("admin:incidents_manualreport_change",
                              args=[report.pk])).status_code == 200
    assert client.get(reverse("admin:incidents_manualreport_add")).status_code == 403
