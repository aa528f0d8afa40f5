"""The incident as a Markdown report (handbook §6.1 generateReport) and its download."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import ChecklistPhase, Severity, TimelineEntry, TimelineKind
from reports.incident_report import hhmm, incident_report_markdown, iso_utc
from tests.incidents.factories import ServiceFactory

pytestmark = pytest.mark.django_db

LINE = re.compile(r"^- \*\*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\*\* \[(?P<author>[^\]]+)\]: "
                  r"(?P<kind>[^-]+) - (?P<details>.*)$")


def declare(by, **extra):
    started = timezone.now() - timedelta(hours=2, minutes=5)
    return incident_services.declare_incident(
        title="Checkout API returning 500s", severity=Severity.SEV2, by=by,
        customer_impact="Some customers cannot pay.", started_at=started, detected_at=started,
        page_oncall=False, **extra)


def resolve(incident, by, resolution="Rolled back release 2026.3.1."):
    for item in incident.checklist.filter(phase=ChecklistPhase.CLOSURE):
        incident_services.set_checklist_item(item, done=True, by=by)
    return incident_services.resolve_incident(incident, resolution=resolution, by=by)


def timeline_lines(report):
    section = report.split("## Timeline\n\n", 1)[1].split("\n\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("- ")]


def test_report_has_summary_timeline_services_and_resolution(ic):
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    incident = declare(ic, services=[checkout])
    incident_services.add_timeline_entry(incident, body="Restarted the checkout pods.", by=ic,
                                         kind=TimelineKind.ACTION)
    incident = resolve(incident, ic)

    report = incident_report_markdown(incident)

    assert report.startswith(f"# Incident Report: {incident.ref}\n")
    assert "- **Title**: Checkout API returning 500s" in report
    assert "- **Severity**: SEV-2 (" in report
    assert re.search(r"- \*\*Duration\*\*: 02:0[5-6]\n", report)
    assert "- **Impact**: Some customers cannot pay." in report
    assert "## Affected Services\n\n- Checkout\n" in report
    assert report.rstrip().endswith("## Resolution\n\nRolled back release 2026.3.1.")
    lines = timeline_lines(report)
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [m["kind"] for m in parsed] == ["Incident declared", "Action taken",
                                           "Incident resolved"]
    assert parsed[1]["author"] == "Ic"
    assert parsed[1]["details"] == "Restarted the checkout pods."


def test_timeline_is_oldest_first_in_utc_without_deleted_entries(ic):
    # Back-filling reaches 30 days before the start (issue 16): declare a day later.
    with time_machine.travel(datetime(2026, 1, 6, 12, 0, tzinfo=UTC), tick=False):
        incident = declare(ic)
    early = incident_services.add_timeline_entry(
        incident, body="Back-filled: the first alert.", by=ic,
        occurred_at=datetime(2026, 1, 5, 9, 30, tzinfo=ZoneInfo("America/New_York")))
    gone = incident_services.add_timeline_entry(incident, body="Typo entry.", by=ic)
    incident_services.delete_timeline_entry(gone, expected_version=gone.version, by=ic)

    report = incident_report_markdown(incident)

    lines = timeline_lines(report)
    assert lines[0].startswith("- **2026-01-05T14:30:00Z** [Ic]: Note - Back-filled")
    assert early.body in lines[0]
    assert "Typo entry." not in report


def test_multi_line_entries_stay_inside_their_list_item(ic):
    incident = declare(ic)
    incident_services.add_timeline_entry(
        incident, body="Connection pool saturated:\n\n- active: 100/100\n- waiting: 340", by=ic,
        kind=TimelineKind.FINDING)

    report = incident_report_markdown(incident)

    assert "Finding - Connection pool saturated:\n\n  - active: 100/100\n  - waiting: 340\n" \
        in report


def test_open_incident_says_ongoing_and_has_no_resolution(ic):
    incident = declare(ic)

    report = incident_report_markdown(incident)

    assert re.search(r"- \*\*Duration\*\*: 02:0[5-6] \(ongoing\)\n", report)
    assert "- **Resolved**: —" in report
    assert "## Affected Services\n\nNone recorded.\n" in report
    assert report.endswith("## Resolution\n\nN/A\n")


def test_system_entries_without_author_are_by_the_system(ic):
    incident = declare(ic)
    TimelineEntry.objects.create(incident=incident, kind=TimelineKind.SLA, author=None,
                                 body="Response target missed.", body_html="")

    report = incident_report_markdown(incident)

    assert "[system]: SLA - Response target missed." in report


def test_hhmm_runs_past_a_day_and_never_goes_negative():
    assert hhmm(timedelta(hours=26, minutes=5, seconds=59)) == "26:05"
    assert hhmm(timedelta(minutes=7)) == "00:07"
    assert hhmm(timedelta(seconds=-30)) == "00:00"


def test_iso_utc_converts_any_zone_to_z():
    moment = datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))

    assert iso_utc(moment) == "2026-07-01T10:00:00Z"
    assert iso_utc(datetime(2026, 7, 1, tzinfo=UTC)) == "2026-07-01T00:00:00Z"
    assert iso_utc(None) == "—"


# --- the download ------------------------------------------------------------------------


def test_viewer_downloads_the_report_as_markdown(client, viewer, ic):
    incident = resolve(declare(ic), ic)
    client.force_login(viewer)

    response = client.get(reverse("reports:incident-report", args=[incident.ref.lower()]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == \
        f'attachment; filename="{incident.ref}-report.md"'
    assert response.content.decode().startswith(f"# Incident Report: {incident.ref}\n")


def test_report_of_an_open_incident_downloads_too(client, viewer, ic):
    incident = declare(ic)
    client.force_login(viewer)

    response = client.get(reverse("reports:incident-report", args=[incident.ref]))

    assert response.status_code == 200
    assert "(ongoing)" in response.content.decode()


def test_report_is_404_for_an_unknown_id(client, viewer):
    client.force_login(viewer)

    response = client.get(reverse("reports:incident-report", args=["INC-1999-0001"]))

    assert response.status_code == 404


def test_report_needs_login(client, ic):
    incident = declare(ic)

    response = client.get(reverse("reports:incident-report", args=[incident.ref]))

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_report_queries_do_not_grow_with_the_timeline(client, viewer, ic,
                                                      django_assert_max_num_queries):
    incident = declare(ic, services=[ServiceFactory(), ServiceFactory()])
    TimelineEntry.objects.bulk_create(
        TimelineEntry(incident=incident, author=ic, body=f"Note {n}", body_html=f"<p>Note {n}</p>")
        for n in range(100))
    client.force_login(viewer)

    with django_assert_max_num_queries(6):
        response = client.get(reverse("reports:incident-report", args=[incident.ref]))

    assert response.content.decode().count("]: Note - Note ") == 100
