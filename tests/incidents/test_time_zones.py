"""Time zones: a person's zone is set on their profile and every time on the incident
pages is shown in it, named."""

import re
from datetime import UTC, datetime

import pytest

from oncall.models import Profile
from tests.incidents.helpers import (
    declare_bare,
    section,
    url,
)
from tests.pages import html

pytestmark = pytest.mark.django_db


def test_profile_changes_time_zone(client, responder):
    client.force_login(responder)
    assert client.get("/oncall/me/").status_code == 200
    response = client.post("/oncall/me/", {"timezone": "America/New_York"})
    assert response.status_code == 302
    assert response["Location"] == "/oncall/me/"
    assert Profile.objects.get(user=responder).timezone == "America/New_York"
    assert "Times are now shown in America/New_York." in html(client.get("/oncall/me/"))


def test_profile_rejects_unknown_time_zone(client, responder):
    client.force_login(responder)
    response = client.post("/oncall/me/", {"timezone": "Mars/Olympus_Mons"})
    assert response.status_code == 200
    assert "Select a valid choice" in html(response)
    assert not Profile.objects.filter(user=responder).exists()


@pytest.mark.parametrize("detected, shown", [
    (datetime(2025, 1, 15, 14, 0, tzinfo=UTC), "2025-01-15 09:00 EST"),
    (datetime(2025, 7, 15, 14, 0, tzinfo=UTC), "2025-07-15 10:00 EDT"),
])
def test_incident_page_shows_times_in_the_users_zone(client, ic, detected, shown):
    incident = declare_bare(ic, started_at=detected, detected_at=detected)
    client.force_login(ic)
    assert f"<dt>Detected</dt><dd>{detected:%Y-%m-%d %H:%M} UTC</dd>" in html(
        client.get(url(incident)))
    client.post("/oncall/me/", {"timezone": "America/New_York"})
    text = html(client.get(url(incident)))
    assert f"<dt>Detected</dt><dd>{shown}</dd>" in text
    assert "times in America/New_York" in text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T", section(text, 'id="incident-timeline"'))


def test_list_shows_times_in_the_users_zone(client, ic):
    detected = datetime(2025, 1, 15, 14, 0, tzinfo=UTC)
    declare_bare(ic, started_at=detected, detected_at=detected)
    client.force_login(ic)
    client.post("/oncall/me/", {"timezone": "America/New_York"})
    text = html(client.get("/incidents/"))
    assert "2025-01-15 09:00 EST" in text
    assert "times in America/New_York" in text


def test_incident_page_defaults_to_utc(client, ic):
    detected = datetime(2025, 1, 15, 14, 0, tzinfo=UTC)
    incident = declare_bare(ic, started_at=detected, detected_at=detected)
    client.force_login(ic)
    text = html(client.get(url(incident)))
    assert "<dt>Detected</dt><dd>2025-01-15 14:00 UTC</dd>" in text
    assert "times in UTC" in text
