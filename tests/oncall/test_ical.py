"""iCal feeds: open without login, authenticated by the per-user calendar token.

Parsed back with the `icalendar` package, as a calendar app would read them.
"""

from datetime import UTC, datetime, time, timedelta

import icalendar
import pytest
import time_machine

from oncall import services
from oncall.models import Profile
from tests.conftest import make_user
from tests.oncall.factories import ScheduleFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # Wednesday; New York changes to EDT 8 March


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def schedule(ic, responder, manager):
    return ScheduleFactory(name="Primary On-Call", members=[ic, responder], by=manager)


@pytest.fixture
def token(viewer):
    return services.regenerate_calendar_token(viewer).calendar_token


def fetch(client, url, token):
    response = client.get(url, {"token": token})
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return icalendar.Calendar.from_ical(response.content)


def events(cal):
    return {str(e["uid"]): e for e in cal.walk("VEVENT")}


def test_schedule_feed_is_open_without_login_and_lists_every_turn(client, schedule, token):
    cal = fetch(client, f"/oncall/schedules/{schedule.pk}/calendar.ics", token)
    assert str(cal["x-wr-calname"]) == "On call: Primary On-Call"
    assert str(cal["x-wr-timezone"]) == "America/New_York"
    found = events(cal)
    starts = sorted(e.decoded("dtstart") for e in found.values())
    # Turns from the one running 14 days ago (started Monday 16 Feb) to 90 days ahead.
    assert starts[0] == datetime(2026, 2, 16, 14, 0, tzinfo=UTC)
    assert starts[-1] < NOW + timedelta(days=90)
    assert max(e.decoded("dtend") for e in found.values()) == NOW + timedelta(days=90)
    assert len(found) == 16  # Mondays 16 February to 1 June
    summaries = {str(e["summary"]) for e in found.values()}
    assert summaries == {"On call: Primary On-Call (Ic)", "On call: Primary On-Call (Responder)"}


def test_times_are_utc_and_handoffs_stay_at_nine_local_across_dst(client, schedule, token):
    response = client.get(f"/oncall/schedules/{schedule.pk}/calendar.ics", {"token": token})
    text = response.content.decode()
    for line in text.splitlines():
        if line.startswith(("DTSTART", "DTEND")):
            assert line.endswith("Z") and ";TZID" not in line
    found = events(icalendar.Calendar.from_ical(response.content))
    by_start = {e.decoded("dtstart"): e for e in found.values()}
    assert datetime(2026, 3, 2, 14, 0, tzinfo=UTC) in by_start  # 09:00 EST
    assert datetime(2026, 3, 9, 13, 0, tzinfo=UTC) in by_start  # 09:00 EDT
    assert by_start[datetime(2026, 3, 2, 14, 0, tzinfo=UTC)].decoded("dtend") == \
        datetime(2026, 3, 9, 13, 0, tzinfo=UTC)


def test_uids_are_stable_across_fetches(client, schedule, token, clock, ic):
    services.create_override(schedule, user=ic, start=NOW + timedelta(days=1),
                             end=NOW + timedelta(days=1, hours=4), by=ic)
    url = f"/oncall/schedules/{schedule.pk}/calendar.ics"
    first = events(fetch(client, url, token))
    again = events(fetch(client, url, token))
    assert first.keys() == again.keys()
    clock.shift(timedelta(days=3, hours=5))
    later = events(fetch(client, url, token))
    shared = first.keys() & later.keys()
    assert len(shared) >= len(first) - 1
    for uid in shared:
        assert first[uid].decoded("dtstart") == later[uid].decoded("dtstart")
    assert all(uid.endswith("@mindweave-ir") for uid in first)


def test_override_events_are_present_and_the_covered_turn_is_cut(
        client, schedule, token, manager, django_user_model):
    cover = make_user(django_user_model, "cover")
    start, end = datetime(2026, 3, 5, 15, tzinfo=UTC), datetime(2026, 3, 6, 3, tzinfo=UTC)
    override = services.create_override(schedule, user=cover, start=start, end=end,
                                        reason="Ic at the dentist", by=manager)
    found = events(fetch(client, f"/oncall/schedules/{schedule.pk}/calendar.ics", token))
    event = found[f"override-{override.pk}@mindweave-ir"]
    assert event.decoded("dtstart") == start and event.decoded("dtend") == end
    assert str(event["summary"]) == "On call: Primary On-Call (Cover) – override"
    assert str(event["description"]) == "Ic at the dentist"
    # Ic's week is split around the override, and nothing overlaps it.
    for other in found.values():
        if other is not event:
            assert other.decoded("dtend") <= start or other.decoded("dtstart") >= end
    assert any(e.decoded("dtend") == start for e in found.values())
    assert any(e.decoded("dtstart") == end for e in found.values())


def test_my_feed_has_only_my_turns_and_overrides(client, schedule, ic, responder, manager):
    other = ScheduleFactory(name="Secondary On-Call", members=[responder], by=manager,
                            rotation_kind="daily", timezone="UTC", handoff_time=time(8))
    override = services.create_override(other, user=ic, start=NOW + timedelta(days=2),
                                        end=NOW + timedelta(days=2, hours=3), by=manager)
    profile = services.set_timezone(ic, "Europe/Berlin")
    cal = fetch(client, "/oncall/me/calendar.ics", profile.calendar_token)
    assert str(cal["x-wr-timezone"]) == "Europe/Berlin"
    found = events(cal)
    assert f"override-{override.pk}@mindweave-ir" in found
    rotation_uids = [uid for uid in found if uid.startswith("shift-")]
    assert rotation_uids
    assert all(uid.startswith(f"shift-{schedule.pk}-{ic.pk}-") for uid in rotation_uids)
    assert {str(e["summary"]) for e in found.values()} == {
        "On call: Primary On-Call", "On call: Secondary On-Call – override"}


@pytest.mark.parametrize("query", [{}, {"token": ""}, {"token": "wrong"},
                                   {"token": "x" * 500}, {"token": "ünïcode-tøken"}])
def test_missing_or_wrong_token_is_404(client, schedule, token, query):
    assert client.get(f"/oncall/schedules/{schedule.pk}/calendar.ics", query).status_code == 404
    assert client.get("/oncall/me/calendar.ics", query).status_code == 404


def test_token_of_an_inactive_user_is_404(client, schedule, viewer, token):
    viewer.is_active = False
    viewer.save()
    response = client.get(f"/oncall/schedules/{schedule.pk}/calendar.ics", {"token": token})
    assert response.status_code == 404


def test_unknown_schedule_is_404_even_with_a_good_token(client, token):
    assert client.get("/oncall/schedules/999/calendar.ics", {"token": token}).status_code == 404


def test_regenerating_the_token_invalidates_the_old_links(client, schedule, viewer, token):
    url = f"/oncall/schedules/{schedule.pk}/calendar.ics"
    assert client.get(url, {"token": token}).status_code == 200
    new = services.regenerate_calendar_token(viewer).calendar_token
    assert new != token
    assert client.get(url, {"token": token}).status_code == 404
    assert client.get("/oncall/me/calendar.ics", {"token": token}).status_code == 404
    assert client.get(url, {"token": new}).status_code == 200
    assert Profile.objects.get(user=viewer).calendar_token == new


def test_feeds_refuse_writes(client, schedule, token):
    url = f"/oncall/schedules/{schedule.pk}/calendar.ics?token={token}"
    assert client.post(url).status_code == 405
    assert client.head(url).status_code == 200
