"""The profile page (/oncall/me/): contact methods, test notifications, calendar URLs.

Through the Django test client, HTMX variant included. E-mail goes to the locmem
backend pytest-django installs (`mail.outbox`); a failing webhook points at a
closed port on 127.0.0.1, so nothing is mocked.
"""

import socket
from datetime import date

import pytest
from django.core import mail
from django.utils import timezone

from oncall.models import ContactKind, ContactMethod, Profile, Schedule, ScheduleMember
from tests.conftest import make_user
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
ME = "/oncall/me/"
ADD = "/oncall/me/contact-methods/add/"
SLACK_URL = "https://hooks.slack.com/services/T000/B000/SecretPathDoNotShow"


def field_block(text, name):
    """The markup of one form field's wrapper (label, input, errors), up to the next field."""
    start = text.index(f'<div class="field field-{name}')
    ends = [i for i in (text.find('<div class="field ', start + 1), text.find("</form>", start))
            if i != -1]
    return text[start:min(ends)]


def add_data(**overrides):
    data = {"new-kind": "email", "new-target": "Pager@Example.COM", "new-label": "work",
            "new-notify_after_minutes": "0", "new-enabled": "on"}
    data.update(overrides)
    return data


def edit_data(method, **overrides):
    prefix = f"cm{method.pk}"
    data = {f"{prefix}-target": method.target if method.kind == ContactKind.EMAIL else "",
            f"{prefix}-label": method.label,
            f"{prefix}-notify_after_minutes": str(method.notify_after_minutes),
            f"{prefix}-enabled": "on"}
    data.update({f"{prefix}-{k}": v for k, v in overrides.items()})
    return {k: v for k, v in data.items() if v is not None}


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def email_method(responder):
    return ContactMethod.objects.create(user=responder, kind=ContactKind.EMAIL,
                                        target="responder@example.com", label="work")


@pytest.fixture
def client_as(client):
    def login(user):
        client.force_login(user)
        return client
    return login


# --- the page ----------------------------------------------------------------------------

def test_profile_warns_when_user_has_no_contact_method(client_as, responder):
    response = client_as(responder).get(ME)
    assert response.status_code == 200
    text = html(response)
    assert "You will not be paged." in text
    assert "You have no contact method." in text
    assert 'name="timezone"' in text
    assert "You have no calendar URL yet." in text


def test_profile_lists_methods_and_shows_why_one_was_disabled(client_as, responder,
                                                             email_method):
    ContactMethod.objects.create(
        user=responder, kind=ContactKind.SLACK, target=SLACK_URL, notify_after_minutes=10,
        disabled_at=timezone.now(), disabled_reason="Slack endpoint answered HTTP 404: no_service",
    )
    text = html(client_as(responder).get(ME))
    assert "You will not be paged." not in text
    assert "responder@example.com" in text
    assert "https://hooks.slack.com/…" in text
    assert "SecretPathDoNotShow" not in text
    assert "after 10 min" in text and "at once" in text
    assert 'class="errors disabled-reason"' in text
    assert "Slack endpoint answered HTTP 404: no_service" in text
    assert "never tested" in text


def test_profile_warns_when_every_enabled_method_failed_its_test(client_as, email_method):
    ContactMethod.objects.filter(pk=email_method.pk).update(
        last_test_at=timezone.now(), last_test_ok=False, last_test_error="Mail server refused")
    text = html(client_as(email_method.user).get(ME))
    assert "You have no working contact method: pages may not reach you." in text
    assert "Mail server refused" in text


def test_profile_only_lists_the_users_own_methods(client_as, responder, ic):
    ContactMethod.objects.create(user=ic, kind=ContactKind.EMAIL, target="ic@example.com")
    assert "ic@example.com" not in html(client_as(responder).get(ME))


# --- adding -----------------------------------------------------------------------------

def test_add_contact_method_plain_post_redirects_and_saves_normalised(client_as, responder):
    response = client_as(responder).post(ADD, add_data())
    assert response.status_code == 302
    assert response["Location"] == ME
    method = ContactMethod.objects.get(user=responder)
    assert (method.kind, method.target, method.label) == ("email", "Pager@example.com", "work")
    assert method.is_enabled
    text = html(client_as(responder).get(ME))
    assert "Added E-mail: Pager@example.com." in text
    assert "You will not be paged." not in text


def test_add_contact_method_htmx_returns_the_region(client_as, responder):
    response = client_as(responder).post(ADD, add_data(**{"new-kind": "webhook",
                                                          "new-target": "https://hooks.example.org/x/y",
                                                          "new-notify_after_minutes": "5"}),
                                          **HX)
    assert response.status_code == 200
    assert_fragment(response, "contact-methods")
    assert "https://hooks.example.org/…" in html(response)
    method = ContactMethod.objects.get(user=responder)
    assert method.notify_after_minutes == 5


def test_add_disabled_contact_method_saves_it_paused(client_as, responder):
    data = add_data()
    del data["new-enabled"]
    client_as(responder).post(ADD, data)
    method = ContactMethod.objects.get(user=responder)
    assert not method.is_enabled
    assert method.disabled_reason == "Paused by its owner."


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
@pytest.mark.parametrize("kind, target, error", [
    ("email", "not-an-address", "Enter a valid email address."),
    ("slack", "ftp://hooks.slack.com/x", "Enter a valid URL starting with https:// or http://."),
    ("webhook", "https://user:pw@example.org/hook", "Do not put user:password@ in the URL."),
])
def test_add_with_invalid_target_is_400_with_error_beside_field(client_as, responder, headers,
                                                                kind, target, error):
    response = client_as(responder).post(
        ADD, add_data(**{"new-kind": kind, "new-target": target}), **headers)
    assert response.status_code == 400
    text = html(response)
    block = field_block(text, "target")
    assert "has-error" in block
    assert error in block
    assert ContactMethod.objects.count() == 0
    if headers:
        assert_fragment(response, "contact-methods")
    else:
        assert "<html" in text


def test_add_with_negative_delay_is_refused(client_as, responder):
    response = client_as(responder).post(ADD, add_data(**{"new-notify_after_minutes": "-1"}),
                                         **HX)
    assert response.status_code == 400
    assert "has-error" in field_block(html(response), "notify_after_minutes")
    assert ContactMethod.objects.count() == 0


def test_add_requires_login(client):
    response = client.post(ADD, add_data())
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert ContactMethod.objects.count() == 0


# --- editing and deleting ----------------------------------------------------------------

def test_edit_form_is_shown_in_place(client_as, email_method):
    response = client_as(email_method.user).get(
        f"/oncall/me/contact-methods/{email_method.pk}/edit/", **HX)
    assert response.status_code == 200
    assert_fragment(response, "contact-methods")
    assert f'name="cm{email_method.pk}-target"' in html(response)
    full = client_as(email_method.user).get(f"/oncall/me/contact-methods/{email_method.pk}/edit/")
    assert "<html" in html(full)


def test_edit_own_method(client_as, email_method):
    response = client_as(email_method.user).post(
        f"/oncall/me/contact-methods/{email_method.pk}/edit/",
        edit_data(email_method, target="new@example.com", label="home",
                  notify_after_minutes="3", enabled=None), **HX)
    assert response.status_code == 200
    assert_fragment(response, "contact-methods")
    email_method.refresh_from_db()
    assert (email_method.target, email_method.label, email_method.notify_after_minutes) == (
        "new@example.com", "home", 3)
    assert not email_method.is_enabled
    assert "Paused by its owner." in html(response)


def test_edit_reenables_a_disabled_method(client_as, email_method):
    ContactMethod.objects.filter(pk=email_method.pk).update(disabled_at=timezone.now(),
                                                            disabled_reason="bounced")
    email_method.refresh_from_db()
    response = client_as(email_method.user).post(
        f"/oncall/me/contact-methods/{email_method.pk}/edit/", edit_data(email_method))
    assert response.status_code == 302
    email_method.refresh_from_db()
    assert email_method.is_enabled and email_method.disabled_reason == ""


def test_edit_webhook_with_blank_target_keeps_the_secret_url(client_as, responder):
    method = ContactMethod.objects.create(user=responder, kind=ContactKind.SLACK,
                                          target=SLACK_URL)
    client = client_as(responder)
    form = html(client.get(f"/oncall/me/contact-methods/{method.pk}/edit/", **HX))
    assert "SecretPathDoNotShow" not in form
    response = client.post(f"/oncall/me/contact-methods/{method.pk}/edit/",
                           edit_data(method, label="#pages"), **HX)
    assert response.status_code == 200
    method.refresh_from_db()
    assert (method.target, method.label) == (SLACK_URL, "#pages")


def test_edit_with_invalid_target_is_400_and_changes_nothing(client_as, email_method):
    response = client_as(email_method.user).post(
        f"/oncall/me/contact-methods/{email_method.pk}/edit/",
        edit_data(email_method, target="nope", label="changed"), **HX)
    assert response.status_code == 400
    assert "Enter a valid email address." in field_block(html(response), "target")
    email_method.refresh_from_db()
    assert (email_method.target, email_method.label) == ("responder@example.com", "work")


def test_delete_own_method(client_as, email_method):
    client = client_as(email_method.user)
    response = client.post(f"/oncall/me/contact-methods/{email_method.pk}/delete/", **HX)
    assert response.status_code == 200
    assert_fragment(response, "contact-methods")
    assert "You will not be paged." in html(response)
    assert not ContactMethod.objects.exists()


def test_delete_plain_post_redirects(client_as, email_method):
    response = client_as(email_method.user).post(
        f"/oncall/me/contact-methods/{email_method.pk}/delete/")
    assert response.status_code == 302
    assert not ContactMethod.objects.exists()


def test_delete_needs_post(client_as, email_method):
    response = client_as(email_method.user).get(
        f"/oncall/me/contact-methods/{email_method.pk}/delete/")
    assert response.status_code == 405
    assert ContactMethod.objects.exists()


@pytest.mark.parametrize("action, method", [
    ("edit", "get"), ("edit", "post"), ("delete", "post"), ("test", "post"),
])
def test_cannot_touch_someone_elses_method(client_as, viewer, email_method, action, method):
    before = list(ContactMethod.objects.values())
    client = client_as(viewer)
    url = f"/oncall/me/contact-methods/{email_method.pk}/{action}/"
    response = getattr(client, method)(url, edit_data(email_method, target="x@evil.example")
                                       if method == "post" else None)
    assert response.status_code in (403, 404)
    assert list(ContactMethod.objects.values()) == before
    assert mail.outbox == []


# --- test notifications -------------------------------------------------------------------

def test_test_notification_is_sent_and_recorded(client_as, email_method):
    response = client_as(email_method.user).post(
        f"/oncall/me/contact-methods/{email_method.pk}/test/", **HX)
    assert response.status_code == 200
    assert_fragment(response, "contact-methods")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["responder@example.com"]
    assert "test" in mail.outbox[0].subject.lower()
    assert "delivered" in html(response)
    email_method.refresh_from_db()
    assert email_method.last_test_ok is True
    assert email_method.last_test_at is not None


def test_failed_test_notification_shows_the_error(client_as, responder):
    method = ContactMethod.objects.create(user=responder, kind=ContactKind.WEBHOOK,
                                          target=f"http://127.0.0.1:{closed_port()}/hook")
    response = client_as(responder).post(f"/oncall/me/contact-methods/{method.pk}/test/", **HX)
    assert response.status_code == 200
    text = html(response)
    method.refresh_from_db()
    assert method.last_test_ok is False
    assert method.last_test_error
    assert "failed" in text
    assert "could not connect" in text
    assert "You have no working contact method" in text


def test_test_notification_plain_post_redirects_with_the_outcome(client_as, email_method):
    client = client_as(email_method.user)
    response = client.post(f"/oncall/me/contact-methods/{email_method.pk}/test/")
    assert response.status_code == 302
    assert "delivered." in html(client.get(ME))


# --- calendar URLs ---------------------------------------------------------------------------

def test_calendar_urls_are_absolute_and_regenerate_replaces_them(client_as, responder, settings):
    settings.SITE_URL = "https://ir.example.com"
    schedule = Schedule.objects.create(name="Primary", starts_on=date(2026, 1, 5))
    ScheduleMember.objects.create(schedule=schedule, user=responder, position=0)
    client = client_as(responder)
    response = client.post("/oncall/me/calendar-token/")
    assert response.status_code == 302
    token = Profile.objects.get(user=responder).calendar_token
    text = html(client.get(ME))
    assert f"https://ir.example.com/oncall/me/calendar.ics?token={token}" in text
    assert f"https://ir.example.com/oncall/schedules/{schedule.pk}/calendar.ics?token={token}" \
        in text

    response = client.post("/oncall/me/calendar-token/", **HX)
    assert response.status_code == 200
    assert_fragment(response, "calendar-feeds")
    new = Profile.objects.get(user=responder).calendar_token
    assert new != token
    assert new in html(response) and token not in html(response)
    assert "the old ones no longer work" in html(response)


def test_regenerate_needs_post(client_as, responder):
    assert client_as(responder).get("/oncall/me/calendar-token/").status_code == 405
    assert not Profile.objects.filter(user=responder).exists()


def test_reading_the_profile_page_writes_nothing(client_as, django_user_model):
    user = make_user(django_user_model, "newcomer")
    client_as(user).get(ME)
    assert not Profile.objects.filter(user=user).exists()
