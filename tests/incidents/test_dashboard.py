"""The IC dashboard: active incidents worst first, and "my incidents"."""

import pytest

from incidents import services
from incidents.models import (
    Severity,
)
from tests.incidents.helpers import (
    declare_bare,
    section,
    titles_in,
    waive_closure,
)
from tests.pages import html

pytestmark = pytest.mark.django_db


def test_dashboard_lists_active_incidents_worst_first_without_resolved(
        client, viewer, ic, listed):
    old = declare_bare(ic, title="Old resolved thing", severity=Severity.SEV1)
    waive_closure(old, ic)
    services.resolve_incident(old, resolution="done", by=ic)
    client.force_login(viewer)
    response = client.get("/")
    assert response.status_code == 200
    text = html(response)
    assert '<span class="count">4</span>' in text
    assert "SEV-1 1" in text and "SEV-4 1" in text
    active = section(text, "All active, worst first")
    positions = [active.index(listed[k].title) for k in ("outage", "db", "slow", "typo")]
    assert positions == sorted(positions)
    assert "Old resolved thing" not in text


def test_dashboard_my_incidents_lists_only_mine(client, ic, responder, listed):
    services.join_incident(listed["slow"], by=responder)
    services.assign_role(listed["db"], role="communications_lead", user=responder, by=ic)
    client.force_login(responder)
    text = html(client.get("/"))
    mine = section(text, "<h2>My incidents</h2>", "All active, worst first")
    assert titles_in(mine, listed) == {"db", "slow"}
    assert mine.index(listed["db"].title) < mine.index(listed["slow"].title)


def test_dashboard_my_incidents_is_empty_for_someone_without_roles(client, viewer, listed):
    client.force_login(viewer)
    text = html(client.get("/"))
    mine = section(text, "<h2>My incidents</h2>", "All active, worst first")
    assert titles_in(mine, listed) == set()
    assert "You hold no role on an open incident." in mine
