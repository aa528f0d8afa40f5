"""Who may open what: every incident page needs a login (an anonymous HTMX post changes
nothing); the login page and the probes are open."""

import pytest

from tests.incidents.helpers import (
    HX,
    LOGIN,
    snapshot,
    url,
)
from tests.pages import html

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/incidents/", "/incidents/declare/", "/oncall/me/"])
def test_anonymous_get_redirects_to_login_with_next(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={path}"


def test_anonymous_incident_page_redirects_to_login(client, incident):
    response = client.get(url(incident))
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={url(incident)}"


def test_anonymous_htmx_post_is_refused_and_changes_nothing(client, incident):
    before = snapshot(incident)
    response = client.post(url(incident, "status/"), {"to": "investigating"}, **HX)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert snapshot(incident) == before


def test_login_page_is_open(client, db):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert 'name="password"' in html(response)


def test_healthz_is_open_and_says_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_readyz_is_open_and_reports_database_and_broker_ok(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "database": "ok", "broker": "ok", "pdf": "ok"}
