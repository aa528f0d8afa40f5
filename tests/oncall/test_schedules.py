"""Schedule pages through the client: list, calendar, overrides, create/edit, my shifts.

HTMX requests get only the fragment they swap; refusals are 4xx with the reason
in the fragment and nothing saved. The clock is frozen on Wednesday 4 March 2026,
12:00 UTC (07:00 in New York, EST), four days before New York's DST change.
"""

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oncall import calendar, dashboard, services
from oncall.models import Override, Profile, Schedule, ScheduleMember
from tests.conftest import make_user
from tests.oncall.factories import ScheduleFactory, business_hours, email
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def schedule(ic, responder, manager):
    """Weekly, Mondays 09:00 New York, from Monday 5 January: ic, then responder.

    Week of 2 March (handoff 8) is ic's; responder takes over Monday 9 March.
    """
    return ScheduleFactory(name="Primary On-Call", members=[ic, responder], by=manager)


def field_errors(response, name):
    """The error text shown beside field `name` (empty when none)."""
    pattern = (rf'<div class="field field-{name} has-error">'
               r'.*?<div class="errors" role="alert">(.*?)</div>')
    match = re.search(pattern, html(response), re.S)
    return re.sub(r"<[^>]+>", " ", match.group(1)) if match else ""


def schedule_data(**overrides):
    data = {
        "name": "Secondary On-Call", "description": "", "rotation_kind": "weekly",
        "custom_length_hours": "", "timezone": "America/New_York", "handoff_day": "0",
        "handoff_time": "09:00", "starts_on": "2026-01-05", "coverage": "24x7",
        "business_start": "", "business_end": "", "escalation_timeout_minutes": "15",
        "members": "responder\nic",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def override_data(user, start="2026-03-05T10:00", end="2026-03-05T18:00", **extra):
    return {"user": user.pk, "start": start, "end": end, "reason": "dentist", **extra}


# --- List and dashboard panel -----------------------------------------------------------

def test_schedule_list_shows_rotation_zone_who_is_on_call_and_warnings(
        client, viewer, schedule, ic, responder):
    client.force_login(viewer)
    response = client.get("/oncall/schedules/")
    assert response.status_code == 200
    text = html(response)
    assert "Primary On-Call" in text
    assert "Weekly, Mondays 09:00 (America/New_York); 24x7" in text
    row = text[text.index("Primary On-Call"):]
    assert row.index("Ic") < row.index("Responder")  # ic now, responder next
    assert "2026-03-09 13:00 UTC" in row  # next handoff, in the viewer's zone (UTC)
    # Neither member has a contact method: two warnings.
    assert re.search(r'class="badge warn"[^>]*>2</a>', text)
    assert "New schedule" not in text  # viewers cannot create


def test_on_call_panel_names_current_until_and_next(schedule, ic, responder):
    [row] = dashboard.on_call_panel(NOW)
    assert row["schedule"] == schedule
    assert row["on_call"] == ic and not row["is_override"]
    assert row["until"] == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # 09:00 EDT
    assert row["next"] == responder
    assert row["next_start"] == row["until"]


def test_on_call_panel_shows_an_override_in_force(schedule, ic, manager, django_user_model):
    cover = make_user(django_user_model, "cover")
    services.create_override(schedule, user=cover, start=NOW - timedelta(hours=1),
                             end=NOW + timedelta(hours=2), by=manager)
    [row] = dashboard.on_call_panel(NOW)
    assert row["on_call"] == cover and row["is_override"]
    assert row["until"] == NOW + timedelta(hours=2)
    assert row["next"] == ic


def test_on_call_panel_template_renders_the_list(schedule, rf, viewer):
    from django.template.loader import render_to_string

    text = render_to_string("oncall/_on_call_panel.html",
                            {"on_call": dashboard.on_call_panel(NOW)})
    assert "On call now" in text and "Primary On-Call" in text and "Ic" in text
    assert "No on-call schedules yet" in render_to_string("oncall/_on_call_panel.html",
                                                          {"on_call": []})


def test_list_queries_do_not_grow_with_schedules_or_members(
        client, viewer, manager, django_user_model):
    people = [make_user(django_user_model, f"person{i}") for i in range(6)]
    for person in people[:3]:
        email(person)

    def count():
        client.force_login(viewer)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/oncall/schedules/").status_code == 200
        return len(queries)

    ScheduleFactory(members=people[:2], by=manager)
    few = count()
    for i in range(4):
        ScheduleFactory(members=people, by=manager,
                        **(business_hours() if i % 2 else {}))
    assert count() == few


# --- Detail and calendar ----------------------------------------------------------------

def test_detail_page_shows_week_calendar_in_the_viewers_zone(client, viewer, schedule):
    Profile.objects.create(user=viewer, timezone="Europe/Berlin")
    client.force_login(viewer)
    response = client.get(f"/oncall/schedules/{schedule.pk}/")
    assert response.status_code == 200
    text = html(response)
    assert 'id="schedule-calendar"' in text and 'id="schedule-overrides"' in text
    assert "02 Mar – 08 Mar 2026" in text
    assert "Times in your zone, <strong>Europe/Berlin</strong>" in text
    # Responder takes over Monday 9 March 09:00 EDT = 14:00 in Berlin (CET).
    response = client.get(f"/oncall/schedules/{schedule.pk}/?start=2026-03-09")
    monday = html(response).split("Mon 9 Mar", 1)[1].split("</td>", 1)[0]
    assert "…00:00–14:00" in monday and "14:00–24:00…" in monday
    assert monday.index("Ic") < monday.index("Responder")
    # The feed URL needs a token; the viewer has one (their profile exists).
    assert f"calendar.ics?token={viewer.profile.calendar_token}" in text


def test_calendar_fragment_for_htmx_and_whole_page_for_a_plain_link(client, viewer, schedule):
    client.force_login(viewer)
    url = f"/oncall/schedules/{schedule.pk}/calendar/?view=month&start=2026-04-15"
    response = client.get(url, **HX)
    assert response.status_code == 200
    assert_fragment(response, "schedule-calendar")
    assert "April 2026" in html(response)
    assert 'hx-push-url="/oncall/schedules/' in html(response)
    previous = f'href="/oncall/schedules/{schedule.pk}/?view=month&amp;start=2026-03-01"'
    assert previous in html(response)
    plain = client.get(url)
    assert plain.status_code == 200
    assert "<html" in html(plain) and "April 2026" in html(plain)


@pytest.mark.parametrize("query", [
    "start=not-a-date", "start=2026-13-45", "start=9999-12-31", "start=0001-01-01",
    "view=year&start=", "start=2026-03-04&start=x",
])
def test_bad_calendar_parameters_fall_back_to_this_week(client, viewer, schedule, query):
    client.force_login(viewer)
    response = client.get(f"/oncall/schedules/{schedule.pk}/calendar/?{query}", **HX)
    assert response.status_code == 200
    assert "02 Mar – 08 Mar 2026" in html(response) or "March 2026" in html(response)


def test_a_nul_in_calendar_parameters_is_a_400(client, viewer, schedule):
    # NUL is refused before any view sees it (issue 16), never a 500 or a DataError.
    client.force_login(viewer)
    response = client.get(f"/oncall/schedules/{schedule.pk}/calendar/?view=%00", **HX)
    assert response.status_code == 400
    assert "NUL character" in html(response)


def test_calendar_marks_overrides_and_gaps(client, viewer, manager, django_user_model):
    member = make_user(django_user_model, "member")
    cover = make_user(django_user_model, "cover")
    schedule = ScheduleFactory(members=[member], by=manager, timezone="UTC",
                               **business_hours())
    services.create_override(schedule, user=cover, start=datetime(2026, 3, 4, 10, tzinfo=UTC),
                             end=datetime(2026, 3, 4, 12, tzinfo=UTC), by=manager)
    client.force_login(viewer)
    text = html(client.get(f"/oncall/schedules/{schedule.pk}/calendar/", **HX))
    wednesday = text.split("Wed 4 Mar", 1)[1].split("</td>", 1)[0]
    assert 'class="override"' in wednesday and "Cover" in wednesday
    assert "10:00–12:00" in wednesday and "09:00–10:00" in wednesday
    sunday = text.split("Sun 8 Mar", 1)[1].split("</td>", 1)[0]
    assert "Nobody on call" in sunday


def test_missing_schedule_is_404(client, viewer):
    client.force_login(viewer)
    assert client.get("/oncall/schedules/999/").status_code == 404
    assert client.get("/oncall/schedules/999/calendar/", **HX).status_code == 404


def test_pages_need_login(client, schedule):
    response = client.get(f"/oncall/schedules/{schedule.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- Overrides ----------------------------------------------------------------------------

def test_ic_adds_an_override_with_htmx_and_the_calendar_is_told_to_refresh(
        client, ic, schedule, django_user_model):
    cover = make_user(django_user_model, "cover")
    Profile.objects.create(user=ic, timezone="America/New_York")
    client.force_login(ic)
    response = client.post(f"/oncall/schedules/{schedule.pk}/overrides/",
                           override_data(cover), **HX)
    assert response.status_code == 200
    assert_fragment(response, "schedule-overrides")
    assert "schedule-changed" in response.headers["HX-Trigger"]
    override = Override.objects.get()
    # Entered as New York wall time (the viewer's zone), stored in UTC.
    assert override.start == datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    assert override.end == datetime(2026, 3, 5, 23, 0, tzinfo=UTC)
    assert override.user == cover and override.created_by == ic
    assert "Cover" in html(response) and "dentist" in html(response)


def test_override_form_posts_without_javascript(client, ic, schedule, responder):
    client.force_login(ic)
    response = client.post(f"/oncall/schedules/{schedule.pk}/overrides/",
                           override_data(responder))
    assert response.status_code == 302
    assert response["Location"] == f"/oncall/schedules/{schedule.pk}/"
    assert Override.objects.count() == 1


def test_overlapping_override_is_refused_beside_the_field(client, ic, schedule, responder):
    services.create_override(schedule, user=responder,
                             start=datetime(2026, 3, 5, 12, tzinfo=UTC),
                             end=datetime(2026, 3, 5, 20, tzinfo=UTC), by=ic)
    client.force_login(ic)
    response = client.post(f"/oncall/schedules/{schedule.pk}/overrides/",
                           override_data(ic, start="2026-03-05T18:00",
                                         end="2026-03-06T02:00"), **HX)
    assert response.status_code == 400
    assert_fragment(response, "schedule-overrides")
    assert "Overlaps the override for Responder" in field_errors(response, "start")
    assert Override.objects.count() == 1
    # Touching end to start is not an overlap.
    response = client.post(f"/oncall/schedules/{schedule.pk}/overrides/",
                           override_data(ic, start="2026-03-05T20:00",
                                         end="2026-03-06T02:00"), **HX)
    assert response.status_code == 200
    assert Override.objects.count() == 2


@pytest.mark.parametrize(("start", "end"), [
    ("2026-03-05T10:00", "2026-03-05T10:00"),
    ("2026-03-05T10:00", "2026-03-05T09:00"),
])
def test_zero_length_or_backwards_override_is_refused(client, ic, schedule, start, end):
    client.force_login(ic)
    response = client.post(f"/oncall/schedules/{schedule.pk}/overrides/",
                           override_data(ic, start=start, end=end), **HX)
    assert response.status_code == 400
    assert "must end after it starts" in field_errors(response, "end")
    assert not Override.objects.exists()


@pytest.mark.parametrize("data", [
    {"start": "yesterday", "end": "2026-03-05T10:00"},
    {"start": "", "end": ""},
    {"user": "999", "start": "2026-03-05T10:00", "end": "2026-03-05T11:00"},
    {"user": "abc", "start": "2026-03-05T10:00", "end": "2026-03-05T11:00"},
])
def test_garbage_override_input_is_a_400_not_a_500(client, ic, schedule, data):
    client.force_login(ic)
    payload = {"user": ic.pk, "reason": "", **data}
    response = client.post(f"/oncall/schedules/{schedule.pk}/overrides/", payload, **HX)
    assert response.status_code == 400
    assert not Override.objects.exists()


@pytest.mark.parametrize(("start", "end"), [
    ("2026-11-01T01:30", "2026-11-01T03:00"),  # 01:30 happens twice in New York
    ("2026-03-08T02:30", "2026-03-08T04:00"),  # 02:30 never happens in New York
])
def test_ambiguous_or_missing_local_times_are_refused_beside_the_field(
        client, ic, schedule, start, end):
    Profile.objects.create(user=ic, timezone="America/New_York")
    client.force_login(ic)
    response = client.post(f"/oncall/schedules/{schedule.pk}/overrides/",
                           override_data(ic, start=start, end=end), **HX)
    assert response.status_code == 400
    assert "America/New_York" in field_errors(response, "start")
    assert not Override.objects.exists()


def test_huge_ids_are_refused_not_crashed(client, ic, schedule):
    client.force_login(ic)
    response = client.post(f"/oncall/schedules/{schedule.pk}/overrides/",
                           override_data(ic) | {"user": "9" * 30}, **HX)
    assert response.status_code == 400
    response = client.get("/oncall/schedules/preview/", {"editing": "9" * 30}, **HX)
    assert response.status_code == 200
    response = client.get("/oncall/schedules/preview/", {"editing": "²"}, **HX)
    assert response.status_code == 200


def test_non_htmx_refusal_renders_the_whole_page_with_errors(client, ic, schedule):
    client.force_login(ic)
    response = client.post(f"/oncall/schedules/{schedule.pk}/overrides/",
                           override_data(ic, end="2026-03-05T10:00"))
    assert response.status_code == 400
    assert "<html" in html(response)
    assert "must end after it starts" in field_errors(response, "end")


def test_viewer_cannot_add_an_override(client, viewer, schedule):
    client.force_login(viewer)
    response = client.post(f"/oncall/schedules/{schedule.pk}/overrides/",
                           override_data(viewer), **HX)
    assert response.status_code == 403
    assert_fragment(response, "schedule-overrides")
    assert "Only members of this schedule" in html(response)
    assert not Override.objects.exists()
    assert "Add an override" not in html(client.get(f"/oncall/schedules/{schedule.pk}/"))


def test_member_can_add_an_override_on_their_own_schedule(client, responder, schedule):
    client.force_login(responder)  # a Responder, not a schedule manager, but a member
    response = client.post(f"/oncall/schedules/{schedule.pk}/overrides/",
                           override_data(responder), **HX)
    assert response.status_code == 200
    assert Override.objects.get().user == responder


def test_responder_who_is_not_a_member_cannot(client, manager, ic, django_user_model):
    other = make_user(django_user_model, "other", "Responder")
    schedule = ScheduleFactory(members=[ic], by=manager)
    client.force_login(other)
    response = client.post(f"/oncall/schedules/{schedule.pk}/overrides/",
                           override_data(other), **HX)
    assert response.status_code == 403
    assert not Override.objects.exists()


def test_member_deletes_an_override_and_the_calendar_refreshes(client, responder, ic, schedule):
    override = services.create_override(schedule, user=ic, start=NOW, end=NOW + timedelta(hours=1),
                                        by=ic)
    client.force_login(responder)
    response = client.post(
        f"/oncall/schedules/{schedule.pk}/overrides/{override.pk}/delete/", **HX)
    assert response.status_code == 200
    assert_fragment(response, "schedule-overrides")
    assert "schedule-changed" in response.headers["HX-Trigger"]
    assert not Override.objects.exists()


def test_viewer_cannot_delete_an_override(client, viewer, ic, schedule):
    override = services.create_override(schedule, user=ic, start=NOW, end=NOW + timedelta(hours=1),
                                        by=ic)
    client.force_login(viewer)
    response = client.post(
        f"/oncall/schedules/{schedule.pk}/overrides/{override.pk}/delete/", **HX)
    assert response.status_code == 403
    assert "remove overrides" in html(response)
    assert Override.objects.filter(pk=override.pk).exists()


def test_deleting_an_override_of_another_schedule_is_404(client, ic, manager, schedule):
    other = ScheduleFactory(members=[ic], by=manager)
    override = services.create_override(other, user=ic, start=NOW, end=NOW + timedelta(hours=1),
                                        by=ic)
    client.force_login(ic)
    response = client.post(f"/oncall/schedules/{schedule.pk}/overrides/{override.pk}/delete/")
    assert response.status_code == 404
    assert Override.objects.exists()


def test_override_service_checks_again(schedule, ic, viewer):
    start = datetime(2026, 3, 5, 10, tzinfo=UTC)
    services.create_override(schedule, user=ic, start=start, end=start + timedelta(hours=2),
                             by=ic)
    with pytest.raises(ValidationError) as overlap:
        services.create_override(schedule, user=ic, start=start + timedelta(hours=1),
                                 end=start + timedelta(hours=3), by=ic)
    assert "start" in overlap.value.message_dict
    with pytest.raises(ValidationError) as empty:
        services.create_override(schedule, user=ic, start=start, end=start, by=ic)
    assert "end" in empty.value.message_dict
    with pytest.raises(ValidationError):
        services.create_override(schedule, user=ic, start=datetime(2026, 4, 1, 10),
                                 end=datetime(2026, 4, 1, 12), by=ic)
    with pytest.raises(PermissionDenied):
        services.create_override(schedule, user=viewer, start=start + timedelta(days=9),
                                 end=start + timedelta(days=10), by=viewer)
    assert Override.objects.count() == 1


# --- Create and edit ----------------------------------------------------------------------

def test_ic_creates_a_schedule_with_members_in_order(client, ic, responder):
    client.force_login(ic)
    assert client.get("/oncall/schedules/new/").status_code == 200
    response = client.post("/oncall/schedules/new/", schedule_data())
    schedule = Schedule.objects.get(name="Secondary On-Call")
    assert response.status_code == 302
    assert response["Location"] == f"/oncall/schedules/{schedule.pk}/"
    assert schedule.member_ids() == [responder.pk, ic.pk]
    assert schedule.timezone == "America/New_York"
    assert schedule.escalation_timeout_minutes == 15


def test_manager_creates_a_business_hours_schedule(client, manager, ic):
    client.force_login(manager)
    data = schedule_data(members="ic", coverage="business", business_days=["0", "1", "2"],
                         business_start="09:00", business_end="17:00")
    assert client.post("/oncall/schedules/new/", data).status_code == 302
    schedule = Schedule.objects.get()
    assert schedule.business_days == [0, 1, 2]
    assert schedule.business_start == time(9) and schedule.business_end == time(17)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"members": ""}, "members", "This field is required"),
    ({"members": " , \n"}, "members", "at least one member"),
    ({"members": "ic nobody"}, "members", "No active user named: nobody"),
    ({"members": "ic ic"}, "members", "Listed twice: ic"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone", "not a known time zone"),
    ({"timezone": ""}, "timezone", "This field is required"),
    ({"rotation_kind": "custom"}, "custom_length_hours", "custom rotation needs"),
    ({"rotation_kind": "custom", "custom_length_hours": "0"}, "custom_length_hours",
     "custom rotation needs"),
    ({"rotation_kind": "custom", "custom_length_hours": "99999999"}, "custom_length_hours",
     "At most"),
    ({"coverage": "business", "business_start": "09:00", "business_end": "17:00"},
     "business_days", "Choose the weekdays"),
    ({"coverage": "business", "business_days": ["0"], "business_start": "17:00",
      "business_end": "09:00"}, "business_end", "must end after they start"),
    ({"starts_on": "9999-12-31"}, "starts_on", "between"),
    ({"starts_on": "soon"}, "starts_on", "Enter a valid date"),
    ({"handoff_day": "9"}, "handoff_day", "Select a valid choice"),
])
def test_bad_schedule_is_refused_beside_the_field_and_nothing_saved(
        client, ic, responder, changes, field, message):
    client.force_login(ic)
    response = client.post("/oncall/schedules/new/", schedule_data(**changes))
    assert response.status_code == 400
    assert message in field_errors(response, field)
    assert not Schedule.objects.exists()
    assert not ScheduleMember.objects.exists()


def test_duplicate_schedule_name_is_refused(client, ic, schedule):
    client.force_login(ic)
    response = client.post("/oncall/schedules/new/", schedule_data(name="Primary On-Call"))
    assert response.status_code == 400
    assert "already exists" in field_errors(response, "name")
    assert Schedule.objects.count() == 1


def test_viewer_and_responder_cannot_create_schedules(client, viewer, responder):
    for user in (viewer, responder):
        client.force_login(user)
        assert client.get("/oncall/schedules/new/").status_code == 403
        assert client.post("/oncall/schedules/new/", schedule_data()).status_code == 403
    assert not Schedule.objects.exists()
    with pytest.raises(PermissionDenied):
        services.create_schedule(members=[viewer], by=viewer, name="x",
                                 starts_on=date(2026, 1, 1))


def test_schedule_service_refuses_what_the_form_refuses(ic, responder):
    base = {"name": "S", "starts_on": date(2026, 1, 5), "timezone": "UTC"}
    with pytest.raises(ValidationError) as no_members:
        services.create_schedule(members=[], by=ic, **base)
    assert "members" in no_members.value.message_dict
    with pytest.raises(ValidationError) as bad_zone:
        services.create_schedule(members=[ic], by=ic, **{**base, "timezone": "Nowhere/City"})
    assert "timezone" in bad_zone.value.message_dict
    with pytest.raises(ValidationError) as custom:
        services.create_schedule(members=[ic], by=ic, rotation_kind="custom", **base)
    assert "custom_length_hours" in custom.value.message_dict
    with pytest.raises(ValidationError) as hours:
        services.create_schedule(members=[ic], by=ic, coverage="business", business_days=[0],
                                 business_start=time(17), business_end=time(9), **base)
    assert "business_end" in hours.value.message_dict
    assert not Schedule.objects.exists()


def test_edit_replaces_members_in_order(client, manager, schedule, ic, responder,
                                        django_user_model):
    third = make_user(django_user_model, "third")
    client.force_login(manager)
    page = client.get(f"/oncall/schedules/{schedule.pk}/edit/")
    assert page.status_code == 200 and "ic\nresponder" in html(page)
    response = client.post(f"/oncall/schedules/{schedule.pk}/edit/",
                           schedule_data(name="Primary On-Call", members="third, ic",
                                         editing=str(schedule.pk)))
    assert response.status_code == 302
    assert schedule.member_ids() == [third.pk, ic.pk]


def test_refused_edit_keeps_the_saved_schedule(client, manager, schedule, ic, responder):
    client.force_login(manager)
    response = client.post(f"/oncall/schedules/{schedule.pk}/edit/",
                           schedule_data(name="Renamed", members=""))
    assert response.status_code == 400
    assert "Edit “Primary On-Call”" in html(response)
    schedule.refresh_from_db()
    assert schedule.name == "Primary On-Call"
    assert schedule.member_ids() == [ic.pk, responder.pk]


def test_viewer_cannot_edit(client, viewer, schedule):
    client.force_login(viewer)
    assert client.get(f"/oncall/schedules/{schedule.pk}/edit/").status_code == 403
    assert client.post(f"/oncall/schedules/{schedule.pk}/edit/",
                       schedule_data(name="Hacked")).status_code == 403
    schedule.refresh_from_db()
    assert schedule.name == "Primary On-Call"


# --- Handoff preview --------------------------------------------------------------------

def test_handoff_preview_fragment_flags_the_dst_change(client, ic, responder):
    Profile.objects.create(user=ic, timezone="Europe/London")
    client.force_login(ic)
    response = client.post("/oncall/schedules/preview/",
                           schedule_data(members="ic responder"), **HX)
    assert response.status_code == 200
    assert_fragment(response, "handoff-preview")
    rows = re.findall(r"<tr class=\"(dst)?\">\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>",
                      html(response), re.S)
    assert len(rows) == 8
    first = rows[0]
    # Monday 9 March 09:00 EDT: New York changed offset on 8 March, London not yet.
    assert first[0] == "dst" and first[1].startswith("Mon 2026-03-09 09:00 EDT")
    assert first[2] == "Mon 2026-03-09 13:00 GMT"
    assert first[3] == "Responder"
    assert [r[0] for r in rows[1:]] == [""] * 7
    assert rows[1][3] == "Ic"
    assert not Schedule.objects.exists()


def test_handoff_preview_by_get_and_with_bad_fields(client, ic):
    client.force_login(ic)
    ok = client.get("/oncall/schedules/preview/",
                    {"rotation_kind": "daily", "timezone": "UTC", "handoff_day": "0",
                     "handoff_time": "08:00", "starts_on": "2026-03-01"}, **HX)
    assert ok.status_code == 200
    assert "Wed 2026-03-05 08:00 UTC" not in html(ok)
    assert "Thu 2026-03-05 08:00 UTC" in html(ok)
    bad = client.get("/oncall/schedules/preview/", {"timezone": "Nowhere"}, **HX)
    assert bad.status_code == 200
    assert "to see the handoffs" in html(bad)
    weird = client.get("/oncall/schedules/preview/",
                       {"rotation_kind": "custom", "custom_length_hours": "5",
                        "timezone": "UTC", "handoff_day": "0", "handoff_time": "08:00",
                        "starts_on": "2026-03-01", "editing": "abc"}, **HX)
    # Every 5 hours from 1 March 08:00: 4 March 11:00 is past, 16:00 is next.
    assert weird.status_code == 200 and "Wed 2026-03-04 16:00 UTC" in html(weird)
    assert "Wed 2026-03-04 11:00 UTC" not in html(weird)


def test_handoff_preview_without_javascript_renders_the_form(client, ic, schedule):
    client.force_login(ic)
    response = client.post("/oncall/schedules/preview/",
                           schedule_data(name="Primary On-Call", editing=str(schedule.pk)))
    assert response.status_code == 200
    assert "<html" in html(response) and 'id="handoff-preview"' in html(response)
    assert f'action="/oncall/schedules/{schedule.pk}/edit/"' in html(response)


def test_viewer_gets_no_preview(client, viewer):
    client.force_login(viewer)
    assert client.get("/oncall/schedules/preview/", **HX).status_code == 403


def test_form_page_shows_the_preview_of_the_saved_schedule(client, ic, schedule):
    client.force_login(ic)
    text = html(client.get(f"/oncall/schedules/{schedule.pk}/edit/"))
    assert "Mon 2026-03-09 09:00 EDT" in text
    assert 'hx-post="/oncall/schedules/preview/"' in text


# --- My shifts ----------------------------------------------------------------------------

def test_my_shifts_lists_the_next_four_weeks_across_schedules(
        client, responder, ic, manager, schedule):
    other = ScheduleFactory(name="Secondary On-Call", members=[responder], by=manager,
                            rotation_kind="daily", timezone="UTC", handoff_time=time(8))
    services.create_override(other, user=ic, start=datetime(2026, 3, 6, 8, tzinfo=UTC),
                             end=datetime(2026, 3, 7, 8, tzinfo=UTC), by=manager)
    services.regenerate_calendar_token(responder)
    client.force_login(responder)
    response = client.get("/oncall/me/shifts/")
    assert response.status_code == 200
    text = html(response)
    assert "Primary On-Call" in text and "Secondary On-Call" in text
    assert "2026-03-09 13:00 UTC" in text  # responder's Primary week starts
    assert "on call now" in text  # Secondary: responder is on today
    assert f"me/calendar.ics?token={responder.profile.calendar_token}" in text


def test_user_shifts_follow_overrides_and_handoffs(responder, ic, manager):
    daily = ScheduleFactory(name="Daily", members=[responder], by=manager,
                            rotation_kind="daily", timezone="UTC", handoff_time=time(8))
    services.create_override(daily, user=ic, start=datetime(2026, 3, 6, 8, tzinfo=UTC),
                             end=datetime(2026, 3, 7, 8, tzinfo=UTC), by=manager)
    end = NOW + timedelta(days=4)
    mine = calendar.user_shifts(responder.pk, NOW, end)
    assert [(r["start"].day, r["end"].day, r["is_current"]) for r in mine] == [
        (4, 5, True), (5, 6, False), (7, 8, False), (8, 8, False)]
    assert mine[0]["start"] == datetime(2026, 3, 4, 8, tzinfo=UTC)  # its real start
    theirs = calendar.user_shifts(ic.pk, NOW, end)
    assert [(r["start"].day, r["is_override"]) for r in theirs] == [(6, True)]


def test_my_shifts_without_a_profile_offers_to_create_the_calendar_link(client, viewer):
    client.force_login(viewer)
    response = client.get("/oncall/me/shifts/")
    assert response.status_code == 200
    assert "no on-call shifts" in html(response)
    assert "Create my calendar link" in html(response)
    assert not Profile.objects.filter(user=viewer).exists()  # reading never writes


# --- Concurrency (PostgreSQL) ------------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_overlapping_overrides_posted_at_once_save_only_one(ic, responder, manager):
    """The schedule row lock makes the overlap check and the insert one step."""
    import threading

    schedule = ScheduleFactory(members=[ic, responder], by=manager)
    start = datetime(2026, 3, 5, 10, tzinfo=UTC)
    threads_count = 6
    barrier = threading.Barrier(threads_count)
    outcomes = [None] * threads_count

    def work(index):
        try:
            barrier.wait(timeout=10)
            services.create_override(schedule, user=ic, start=start + timedelta(minutes=index),
                                     end=start + timedelta(hours=2), by=manager)
            outcomes[index] = "saved"
        except ValidationError:
            outcomes[index] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["refused"] * (threads_count - 1) + ["saved"]
    assert Override.objects.count() == 1
