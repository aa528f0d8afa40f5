"""/reports/metrics/ (page, filters, table, CSV), the admin index summary, and the
test/game-day marker on incidents."""

import csv
import io
import re
from html import unescape

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command

from incidents import services as incident_services
from incidents.forms import DeclareForm
from incidents.models import Exercise, Incident, Service, Severity
from oncall.models import Profile
from oncall.roles import Role
from tests.conftest import make_user
from tests.pages import assert_fragment, html
from tests.reports.metrics_history import (
    EXPECTED,
    NOW,
    at,
    build,
    bulk_history,
    incident_row,
)

pytestmark = pytest.mark.django_db

URL = "/reports/metrics/"
PERIOD = {"start": "2026-01-01", "end": "2026-03-20"}  # the history's period
HX = {"HTTP_HX_REQUEST": "true"}
# As measured (SQLite): session, user, roles, profile; the filter's services; the
# table's count and page; the grouped aggregate, three percentile windows, on-call load;
# the three aggregates that version the cached report.
PAGE_MAX_QUERIES = 14
FIGURE = re.compile(r'data-figure="([^"]+)">([^<]*)<')


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def history(db):
    return build()


def figures_on(response):
    """Every figure the page shows: key -> text."""
    return {key: unescape(text) for key, text in FIGURE.findall(html(response))}


def test_a_viewer_sees_every_kpi_against_its_target(client, viewer, history):
    client.force_login(viewer)

    response = client.get(URL, PERIOD)

    assert response.status_code == 200
    shown = figures_on(response)
    assert {key: text for key, (text, _, _) in EXPECTED.items()} == \
        {key: shown[key] for key in EXPECTED}
    text = html(response)
    for name in ("MTTA", "MTTI", "MTTR", "SEV-1/SEV-2 incidents per month", "Repeat-incident rate",
                 "Reviews approved within 5 business days", "Response within the §7.2 SLA",
                 "Resolution within the §7.2 SLA", "Pages per person"):
        assert name in text
    assert "Incidents never acknowledged are left out" in text
    assert "Unresolved incidents are left out" in text
    assert "test or a game day" in text
    # Met or missed at a glance: MTTA misses (SEV-1 mean exactly 5 min), MTTR meets.
    assert re.search(r'id="kpi-mtta".*?data-figure="mtta.sev-1.mean">5m 00s</span>\s*'
                     r'<span class="kpi-status kpi-missed">', text, re.S)
    assert re.search(r'id="kpi-mttr".*?data-figure="mttr.sev-1.mean">55m 00s</span>\s*'
                     r'<span class="kpi-status kpi-met">', text, re.S)


def test_trends_are_inline_svg_without_scripts(client, viewer, history):
    client.force_login(viewer)

    text = html(client.get(URL, PERIOD))

    charts = re.findall(r"<svg.*?</svg>", text, re.S)
    assert len(charts) == 8  # one per KPI card
    volume = re.search(r'id="kpi-volume".*?(<svg.*?</svg>)', text, re.S).group(1)
    assert volume.count("<rect") == 3  # January, February, March
    assert 'class="target"' in volume
    assert "<title>Jan 2026: 3</title>" in volume
    body = text[text.index("<main"):]
    assert "<script" not in body and " on" + "load=" not in body


def test_the_period_defaults_to_the_last_90_days_in_the_viewers_zone(client, history):
    person = make_user(get_user_model(), "tokyo-viewer", Role.VIEWER)
    Profile.objects.create(user=person, timezone="Asia/Tokyo")
    client.force_login(person)

    with time_machine.travel("2026-03-20T16:00:00Z", tick=False):  # 01:00 on 21 March, Tokyo
        response = client.get(URL)

    text = html(response)
    assert 'name="start" value="2025-12-22"' in text
    assert 'name="end" value="2026-03-21"' in text
    assert "2025-12-22 – 2026-03-21 (Asia/Tokyo)" in text


def test_severity_service_and_period_filters_narrow_the_numbers(client, viewer, history):
    incidents, _ = history
    payments = Service.objects.create(name="Payments", slug="payments")
    for key in ("A", "C", "F"):
        incidents[key].services.add(payments)
    client.force_login(viewer)

    by_severity = figures_on(client.get(URL, {**PERIOD, "severity": ["1", "2"]}))
    by_service = figures_on(client.get(URL, {**PERIOD, "service": payments.pk}))
    march = figures_on(client.get(URL, {"start": "2026-03-01", "end": "2026-03-20"}))

    assert by_severity["mtta.all.count"] == "5"  # A B C D H
    assert by_severity["sla_resolution.all.missed"] == "1"  # H
    assert by_service["mtta.all.count"] == "2"  # A C (F is a game day)
    assert by_service["oncall.all.pages"] == "5"  # A's three, C's two
    assert march["volume.2026-03.count"] == "2"
    assert "volume.2026-01.count" not in march
    assert march["mttr.all.count"] == "5"  # G H J M N


@pytest.mark.parametrize(("query", "message"), [
    ({"start": "2026-13-45"}, "Enter a valid date."),
    ({"start": "2026-03-01", "end": "2026-02-01"}, "must end on or after the day it starts"),
    ({"start": "2000-01-01", "end": "2026-01-01"}, "at most 3660 days"),
    ({"severity": "9"}, "Select a valid choice."),
    ({"service": "999999"}, "Select a valid choice."),
    ({"service": "not-a-number"}, "Select a valid choice."),
    ({"kpi": "nonsense"}, "Select a valid choice."),
])
@pytest.mark.parametrize("fmt", [{}, {"format": "csv"}])
def test_bad_filter_values_are_a_400_with_the_reason_beside_the_field(
        client, viewer, query, message, fmt):
    client.force_login(viewer)

    response = client.get(URL, {**query, **fmt})

    assert response.status_code == 400
    text = html(response)
    assert message in text
    assert 'class="errors"' in text
    assert "data-figure" not in text


def test_the_csv_has_the_same_figures_as_the_page(client, viewer, history):
    client.force_login(viewer)

    page = figures_on(client.get(URL, PERIOD))
    response = client.get(URL, {**PERIOD, "format": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    assert "metrics-20260101-20260320.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["key", "kpi", "scope", "statistic", "value", "raw", "target", "status"]
    by_key = {row[0]: row for row in rows[1:]}
    assert set(by_key) == set(EXPECTED)
    for key, (text, raw, status) in EXPECTED.items():
        assert by_key[key][4] == page[key] == text, key
        assert by_key[key][5] == ("" if raw is None else str(raw)), key
        assert by_key[key][7] == status, key
    assert by_key["mtta.sev-1.mean"][6] == "SEV-1 mean < 5 min"


def test_the_table_lists_the_incidents_behind_a_kpi_and_links_to_them(client, viewer, history):
    incidents, _ = history
    client.force_login(viewer)

    response = client.get(URL, {**PERIOD, "kpi": "repeat", "sort": "detected_at"})

    table = html(response)[html(response).index('id="metrics-table"'):]
    refs = re.findall(r'<a href="/incidents/(INC-[0-9-]+)/">', table)
    assert refs == [incidents[k].ref for k in ("A", "B", "C", "D", "G", "H", "J", "N")]
    assert table.count(">repeat</span>") == 3
    assert "Only the incidents counted for Repeat rate" in table
    assert "Bad deployment" in table


def test_the_table_pages_and_sorts_over_htmx_without_the_kpis(
        client, viewer, history, django_assert_max_num_queries):
    client.force_login(viewer)
    client.get("/healthz")  # the signed-in user is read once, then cached: not counted

    # The session, the data's version (3 index lookups), the table's count and rows:
    # no KPI queries for a table fragment.
    with django_assert_max_num_queries(6):
        response = client.get(URL, {**PERIOD, "sort": "-ttr"}, **HX)

    assert response.status_code == 200
    assert_fragment(response, "metrics-table")
    assert "data-figure" not in html(response)
    refs = re.findall(r'<a href="/incidents/(INC-[0-9-]+)/">', html(response))
    assert refs[0] == history[0]["J"].ref  # the longest time to resolve first


@pytest.mark.parametrize("count", [10, 1000])
def test_page_queries_do_not_grow_with_incidents(
        client, viewer, count, django_assert_max_num_queries):
    bulk_history(count)
    client.force_login(viewer)

    with django_assert_max_num_queries(PAGE_MAX_QUERIES):
        response = client.get(URL, PERIOD)

    assert response.status_code == 200
    assert figures_on(response)["mttr.all.count"] == str(count)


def test_the_report_is_cached_until_the_data_changes(
        client, viewer, django_assert_max_num_queries):
    bulk_history(10)
    client.force_login(viewer)
    first = client.get(URL, PERIOD)

    with django_assert_max_num_queries(PAGE_MAX_QUERIES - 5):  # no KPI queries: cached
        again = client.get(URL, PERIOD)
    Incident.objects.bulk_create([incident_row("INC-2026-0999", 2, at(2026, 1, 5, 0, 0),
                                               ack=3, ident=10, resolved=40)])
    changed = client.get(URL, PERIOD)

    assert figures_on(again) == figures_on(first)
    assert figures_on(changed)["mttr.all.count"] == "11"


def test_the_page_needs_a_login(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_nav_links_to_metrics(client, viewer):
    client.force_login(viewer)

    assert f'<a href="{URL}">Metrics</a>' in html(client.get("/"))


# --- the admin index -------------------------------------------------------------------

def test_the_admin_index_summarises_the_last_30_days_for_a_manager(client, manager, history):
    client.force_login(manager)

    response = client.get("/admin/")

    assert response.status_code == 200
    summary = html(response)[html(response).index('id="metrics-summary"'):]
    summary = summary[:summary.index("</table>")]
    # 2026-02-19 .. 2026-03-20: G H J K L M N (F, the game day, is not counted).
    assert "Metrics, last 30 days (7 incidents)" in summary
    shown = figures_on(response)
    assert shown["repeat.all.rate"] == "25.0%"  # H repeats X, of G H J N
    assert shown["volume.all.worst_month"] == "2"  # H and L in March
    assert shown["mttr.sev-1.mean"] == "—"  # L, the only SEV-1, is unresolved
    assert shown["oncall.all.pages"] == "2"  # G's page
    assert "MTTA" in summary and "PIR completion" in summary and "✗ missed" in summary
    assert f'href="{URL}?start=2026-02-19&amp;end=2026-03-20"' in summary


def test_other_staff_see_the_admin_index_without_the_summary(client, history):
    staff = make_user(get_user_model(), "staff-responder", Role.RESPONDER, is_staff=True)
    client.force_login(staff)

    response = client.get("/admin/")

    assert response.status_code == 200
    assert "metrics-summary" not in html(response)


# --- tests and game days -------------------------------------------------------------

def test_declaring_offers_the_exercise_choice_and_the_service_keeps_it(responder):
    form = DeclareForm({"title": "Failover drill", "severity": "2", "detection_source": "other",
                        "exercise": "game_day"}, classified_severity=2)
    assert form.is_valid(), form.errors
    assert DeclareForm(classified_severity=2)["exercise"].initial == Exercise.REAL
    assert DeclareForm({"title": "x", "severity": "2", "detection_source": "other",
                        "exercise": "party"}, classified_severity=2).errors["exercise"]

    incident = incident_services.declare_incident(
        title="Failover drill", severity=Severity.SEV2, by=responder,
        exercise=form.cleaned_data["exercise"])

    assert Incident.objects.get(pk=incident.pk).exercise == Exercise.GAME_DAY


def test_the_declare_form_shows_the_exercise_field(client, responder):
    client.force_login(responder)

    response = client.post("/incidents/declare/", {
        "q_security_breach": "no", "q_service_unavailable": "no", "q_majority_affected": "yes"})

    text = html(response)
    assert 'name="exercise"' in text
    assert '<option value="game_day">Game day</option>' in text


def test_the_incident_page_tags_a_game_day(client, viewer, responder):
    drill = incident_services.declare_incident(title="Failover drill", severity=Severity.SEV3,
                                               by=responder, exercise=Exercise.GAME_DAY)
    real = incident_services.declare_incident(title="Checkout down", severity=Severity.SEV3,
                                              by=responder)
    client.force_login(viewer)

    assert '<span class="badge exercise"' in html(client.get(drill.get_absolute_url()))
    assert "Game day</span>" in html(client.get(drill.get_absolute_url()))
    assert 'class="badge exercise"' not in html(client.get(real.get_absolute_url()))


def test_managers_mark_an_exercise_in_the_admin(client, manager, responder):
    incident = incident_services.declare_incident(title="Checkout down",
                                                  severity=Severity.SEV3, by=responder)
    client.force_login(manager)

    change = html(client.get(f"/admin/incidents/incident/{incident.pk}/change/"))
    everything = html(client.get("/admin/incidents/incident/"))
    tests_only = html(client.get("/admin/incidents/incident/", {"exercise__exact": "test"}))

    assert re.search(r'<select name="exercise"[^>]*>', change)  # editable, not read-only
    assert "By exercise" in everything and incident.ref in everything
    assert incident.ref not in tests_only


# --- demo data ---------------------------------------------------------------------

def test_seeded_demo_data_gives_every_kpi_a_number(client):
    with time_machine.travel("2026-11-27T10:00:00Z", tick=False):
        call_command("seed_demo", incidents=80, stdout=io.StringIO())
        manager = get_user_model().objects.get(username="manager")
        client.force_login(manager)
        page = client.get(URL)
        # A generated one: approved review with action items, paged (SEV-3 or worse).
        bulk = Incident.objects.filter(severity__lte=3, pir__state="approved",
                                       pir__action_items__isnull=False).distinct().last()
        review = client.get(f"/reports/pir/{bulk.ref}/")
        incident = client.get(bulk.get_absolute_url())

    assert page.status_code == 200
    shown = figures_on(page)
    headline = ["mtta.sev-1.mean", "mtti.sev-1.mean", "mttr.sev-1.mean", "volume.all.worst_month",
                "repeat.all.rate", "pir.all.rate", "sla_response.all.rate",
                "sla_resolution.all.rate"]
    assert all(shown[key] not in ("—", "0") for key in headline), shown
    assert int(shown["oncall.all.pages"]) > 0
    assert int(shown["pir.all.reviews_due"]) > int(shown["pir.all.reviews_on_time"]) > 0
    assert review.status_code == 200 and "Approved" in html(review)
    assert incident.status_code == 200
    assert re.search(r"page: Resolved</a>.*?acknowledged by", html(incident), re.S)
