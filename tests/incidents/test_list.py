"""The incident list: filters, sorting, the HTMX table region, the CSV export of the
filtered rows, and bad filter values."""

import csv
import io

import pytest

from incidents.models import (
    Severity,
)
from tests.incidents.helpers import (
    HX,
    assert_full_page,
    declare_bare,
    titles_in,
)
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db





def test_list_renders_the_table_with_every_incident(client, viewer, listed):
    client.force_login(viewer)
    response = client.get("/incidents/")
    assert response.status_code == 200
    assert_full_page(response)
    text = html(response)
    assert 'id="incident-table"' in text
    assert 'class="filters card"' in text
    assert titles_in(text, listed) == set(listed)
    for incident in listed.values():
        assert f'href="/incidents/{incident.ref}/"' in text


@pytest.mark.parametrize("query, expected", [
    ({"status": "investigating"}, {"slow"}),
    ({"status": ["declared"], "severity": ["1", "2"]}, {"outage", "db"}),
    ({"severity": "4"}, {"typo"}),
    ({"q": "SEARCH"}, {"slow"}),
    ({"q": "payments"}, {"outage"}),
])
def test_list_filters_narrow_the_rows(client, viewer, listed, query, expected):
    client.force_login(viewer)
    response = client.get("/incidents/", query)
    assert response.status_code == 200
    assert titles_in(html(response), listed) == expected


def test_list_filter_by_service(client, viewer, listed, checkout):
    client.force_login(viewer)
    response = client.get("/incidents/", {"service": checkout.pk})
    assert titles_in(html(response), listed) == {"outage", "db"}


def test_list_search_by_exact_ref(client, viewer, listed):
    client.force_login(viewer)
    response = client.get("/incidents/", {"q": listed["typo"].ref.lower()})
    assert titles_in(html(response), listed) == {"typo"}


def test_list_default_order_is_newest_detected_first(client, viewer, listed):
    client.force_login(viewer)
    text = html(client.get("/incidents/"))
    positions = [text.index(listed[k].title) for k in ("db", "typo", "slow", "outage")]
    assert positions == sorted(positions)


def test_list_sort_by_severity(client, viewer, listed):
    client.force_login(viewer)
    text = html(client.get("/incidents/", {"sort": "severity"}))
    positions = [text.index(listed[k].title) for k in ("outage", "db", "slow", "typo")]
    assert positions == sorted(positions)
    text = html(client.get("/incidents/", {"sort": "-severity"}))
    positions = [text.index(listed[k].title) for k in ("typo", "slow", "db", "outage")]
    assert positions == sorted(positions)


def test_list_htmx_returns_only_the_table_region(client, viewer, listed):
    client.force_login(viewer)
    response = client.get("/incidents/", {"severity": "1"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-table")
    text = html(response)
    assert 'class="filters card"' not in text
    assert titles_in(text, listed) == {"outage"}


def test_list_boosted_htmx_request_gets_the_full_page(client, viewer, listed):
    client.force_login(viewer)
    response = client.get("/incidents/", **HX, HTTP_HX_BOOSTED="true")
    assert_full_page(response)


def csv_rows(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_list_csv_exports_header_and_exactly_the_filtered_rows(client, viewer, listed):
    client.force_login(viewer)
    response = client.get("/incidents/", {"format": "csv", "severity": ["1", "2"]})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = csv_rows(response)
    assert header == ["ID", "Title", "Severity", "Status", "Commander", "Services",
                      "Detected", "Resolved"]
    assert sorted(row[0] for row in rows) == sorted([listed["outage"].ref, listed["db"].ref])
    db_row = next(row for row in rows if row[0] == listed["db"].ref)
    assert db_row[1:6] == ["Database failover", "SEV-2", "Declared", "ic", "Checkout, Search"]
    assert db_row[6] == listed["db"].detected_at.isoformat()
    assert db_row[7] == ""


def test_list_csv_defuses_formula_titles(client, viewer, ic):
    declare_bare(ic, title='=HYPERLINK("http://evil.example","click")')
    declare_bare(ic, title="+1 plus", severity=Severity.SEV3)
    declare_bare(ic, title="@SUM(A1)", severity=Severity.SEV3)
    client.force_login(viewer)
    rows = csv_rows(client.get("/incidents/", {"format": "csv"}))[1:]
    titles = {row[1] for row in rows}
    assert titles == {'\'=HYPERLINK("http://evil.example","click")', "'+1 plus", "'@SUM(A1)"}


@pytest.mark.parametrize("query", [
    {"severity": "9", "detected_after": "notadate"},
    {"status": "exploded"},
    {"service": "999999"},
    {"service": "abc", "commander": "abc"},
    {"detected_before": "2025-13-45T99:99"},
    {"sort": "no_such_column"},
    {"page": "abc"},
    {"page": "999"},
])
def test_list_invalid_filter_values_never_500(client, viewer, listed, query):
    client.force_login(viewer)
    assert client.get("/incidents/", query).status_code == 200
    assert client.get("/incidents/", query, **HX).status_code == 200


def test_list_invalid_filter_shows_the_error(client, viewer, listed):
    client.force_login(viewer)
    text = html(client.get("/incidents/", {"severity": "9", "detected_after": "notadate"}))
    assert "Select a valid choice" in text
    assert "Enter a valid date/time." in text


def test_list_csv_with_invalid_filter_values_is_not_500(client, viewer, listed):
    client.force_login(viewer)
    response = client.get("/incidents/", {"format": "csv", "detected_after": "notadate"})
    assert response.status_code == 200
    assert csv_rows(response)[0][0] == "ID"
