"""The busiest pages run a fixed number of queries, however many rows they show.

Each page is measured with a small and a larger data set against the same upper
bound: a query per row (an N+1) would blow the bound on the larger set. The bound
counts everything a request does, session, user, roles and profile included.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services
from incidents.models import Service, Severity, Status, TimelineEntry, TimelineKind
from mindweave_ir.markup import render_markdown
from oncall.roles import Role
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}

# As measured (SQLite). Each includes the four every signed-in request makes: session,
# user, the user's roles and the user's time-zone profile.
LIST_MAX_QUERIES = 9
LIST_FRAGMENT_MAX_QUERIES = 7
CSV_MAX_QUERIES = 5
DASHBOARD_MAX_QUERIES = 14  # + pages paging you, + the on-call panel (schedules prefetched),
#                             + its live version (read before the rest)
DETAIL_MAX_QUERIES = 12  # + the paging card: its pages and their notifications
TIMELINE_FRAGMENT_MAX_QUERIES = 8



@pytest.fixture
def people(db, django_user_model):
    """Four people who can hold roles, so rows have different commanders and authors."""
    return [make_user(django_user_model, f"person{i}", Role.INCIDENT_COMMANDER)
            for i in range(4)]


@pytest.fixture
def catalogue(db):
    return [Service.objects.create(name=f"Service {i}", slug=f"service-{i}") for i in range(5)]


def make_incidents(count, people, catalogue):
    """`count` open incidents, each with three services, two responders, mixed roles."""
    incidents = []
    start = timezone.now() - timedelta(hours=2)
    for i in range(count):
        commander = people[i % len(people)]
        incident = services.declare_incident(
            title=f"Incident number {i}", severity=Severity(i % 4 + 1), by=commander,
            services=[catalogue[(i + k) % len(catalogue)] for k in range(3)],
            started_at=start, detected_at=start + timedelta(minutes=i),
        )
        incident.technical_lead = people[(i + 1) % len(people)]
        incident.communications_lead = people[(i + 2) % len(people)]
        incident.save(update_fields=["technical_lead", "communications_lead"])
        incident.responders.add(people[(i + 3) % len(people)], people[0])
        if i % 3 == 0:
            services.change_status(incident, to=Status.INVESTIGATING, by=commander)
        incidents.append(incident)
    return incidents


def add_entries(incident, count, people):
    """`count` hand-written entries by rotating authors, every other one edited."""
    now = timezone.now()
    TimelineEntry.objects.bulk_create(
        TimelineEntry(
            incident=incident, kind=TimelineKind.NOTE, body=f"Note **{i}**",
            body_html=render_markdown(f"Note **{i}**"), author=people[i % len(people)],
            occurred_at=now - timedelta(minutes=count - i), created_at=now,
            edited_by=people[(i + 1) % len(people)] if i % 2 else None,
            edited_at=now if i % 2 else None, version=2 if i % 2 else 1,
        )
        for i in range(count)
    )


@pytest.mark.parametrize("count", [3, 30])
def test_incident_list_queries_do_not_grow_with_rows(
        client, people, catalogue, count, django_assert_max_num_queries):
    make_incidents(count, people, catalogue)
    client.force_login(people[0])
    with django_assert_max_num_queries(LIST_MAX_QUERIES):
        response = client.get("/incidents/")
    assert response.status_code == 200
    assert response.content.decode().count('class="badge sev-') == min(count, 25)


@pytest.mark.parametrize("count", [3, 30])
def test_incident_list_htmx_fragment_queries_do_not_grow_with_rows(
        client, people, catalogue, count, django_assert_max_num_queries):
    make_incidents(count, people, catalogue)
    client.force_login(people[0])
    with django_assert_max_num_queries(LIST_FRAGMENT_MAX_QUERIES):
        response = client.get("/incidents/", {"sort": "commander"}, **HX)
    assert response.status_code == 200
    assert response.content.decode().count('class="badge sev-') == min(count, 25)


@pytest.mark.parametrize("count", [3, 30])
def test_incident_csv_queries_do_not_grow_with_rows(
        client, people, catalogue, count, django_assert_max_num_queries):
    make_incidents(count, people, catalogue)
    client.force_login(people[0])
    with django_assert_max_num_queries(CSV_MAX_QUERIES):
        response = client.get("/incidents/", {"format": "csv"})
        # The rows are streamed: the queries run while the body is read.
        body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert len(lines) == count + 1
    assert all(line.count("Service ") == 3 for line in lines[1:])


@pytest.mark.parametrize("count", [3, 30])
def test_dashboard_queries_do_not_grow_with_rows(
        client, people, catalogue, count, django_assert_max_num_queries):
    make_incidents(count, people, catalogue)
    client.force_login(people[0])
    with django_assert_max_num_queries(DASHBOARD_MAX_QUERIES):
        response = client.get("/")
    assert response.status_code == 200
    # people[0] responds to every incident: each shows once in "mine" and once in "active".
    assert response.content.decode().count('<tr class="row-sev-') == 2 * count


@pytest.mark.parametrize("entries", [5, 60])
def test_incident_page_queries_do_not_grow_with_timeline(
        client, people, catalogue, entries, django_assert_max_num_queries):
    incident = make_incidents(1, people, catalogue)[0]
    add_entries(incident, entries, people)
    for n, item in enumerate(incident.checklist.all()[:12]):
        services.set_checklist_item(item, done=True, by=people[n % len(people)])
    client.force_login(people[1])
    with django_assert_max_num_queries(DETAIL_MAX_QUERIES):
        response = client.get(incident.get_absolute_url())
    assert response.status_code == 200
    text = response.content.decode()
    # The hand-written notes, the "declared" and the "investigating" entries.
    # + declared + status change; the "nobody was paged" note is not counted
    assert text.count('class="entry kind-') - text.count('kind-page"') == entries + 2


@pytest.mark.parametrize("entries", [5, 60])
def test_timeline_fragment_queries_do_not_grow_with_timeline(
        client, people, catalogue, entries, django_assert_max_num_queries):
    incident = make_incidents(1, people, catalogue)[0]
    add_entries(incident, entries, people)
    client.force_login(people[1])
    with django_assert_max_num_queries(TIMELINE_FRAGMENT_MAX_QUERIES):
        response = client.get(f"{incident.get_absolute_url()}timeline/", **HX)
    assert response.status_code == 200
    text = response.content.decode()
    assert text.count('class="entry kind-') - text.count('kind-page"') == entries + 2
