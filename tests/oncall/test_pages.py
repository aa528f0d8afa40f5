"""Escalation policies and pages through the Django test client.

Pages are raised with `paging.trigger_page` and stepped with `paging.run_page` /
`paging.deliver` directly: under the default `django_db` test transaction the
on-commit task enqueues never run, so nothing reaches a broker. E-mail goes to
the locmem backend (`mail.outbox`).
"""

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oncall import paging
from oncall.models import (
    ContactKind,
    ContactMethod,
    DeliveryStatus,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    Page,
    PageEvent,
    PageEventKind,
    PageStatus,
    Schedule,
    ScheduleMember,
)
from tests.conftest import make_user
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def email(user):
    return ContactMethod.objects.create(user=user, kind=ContactKind.EMAIL,
                                        target=f"{user.username}@example.com")


def make_policy(name, *levels, repeat_count=0):
    """Levels are lists of users (named-people levels) or Schedules."""
    policy = EscalationPolicy.objects.create(name=name, repeat_count=repeat_count)
    for position, who in enumerate(levels, start=1):
        if isinstance(who, Schedule):
            EscalationLevel.objects.create(policy=policy, position=position, schedule=who,
                                           timeout_minutes=5)
        else:
            level = EscalationLevel.objects.create(policy=policy, position=position,
                                                   timeout_minutes=5 * position)
            level.users.set(who)
    return policy


def start_page(policy, *, dedup_key="INC-2026-0001", title="Checkout API down"):
    """Trigger, run the first step, and deliver what is due now (as the worker would)."""
    page = paging.trigger_page(title=title, dedup_key=dedup_key, policy=policy,
                               severity="SEV-1", link="/incidents/INC-2026-0001/")
    paging.run_page(page.pk)
    for pk in Notification.objects.filter(page=page, status=DeliveryStatus.QUEUED) \
            .values_list("pk", flat=True):
        paging.deliver(pk)
    return Page.objects.get(pk=page.pk)


@pytest.fixture
def policy(responder, ic):
    email(responder)
    return make_policy("Checkout", [responder], [ic])


@pytest.fixture
def page(policy):
    return start_page(policy)


def ack_path(page, user):
    return urlsplit(paging.ack_url(page, user)).path


def assert_not_acknowledged(page):
    page.refresh_from_db()
    assert page.status == PageStatus.TRIGGERED
    assert page.acknowledged_by is None
    assert not page.events.filter(kind=PageEventKind.ACKNOWLEDGED).exists()


# --- the engine ran as the tests expect ----------------------------------------------------

def test_started_page_notified_level_one(page, responder):
    assert page.current_level == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["responder@example.com"]
    assert page.notifications.get().status == DeliveryStatus.SENT


# --- list and detail ---------------------------------------------------------------------------

def test_page_list_shows_open_pages_first_with_level_and_who_was_notified(
        client, viewer, page, policy, responder):
    closed = start_page(policy, dedup_key="INC-2026-0000", title="Old one")
    paging.resolve_page(closed, reason="Incident resolved.")
    client.force_login(viewer)
    response = client.get("/oncall/pages/")
    assert response.status_code == 200
    text = html(response)
    open_part = text[text.index('id="open-pages"'):text.index('id="recent-pages"')]
    recent_part = text[text.index('id="recent-pages"'):]
    assert "Checkout API down" in open_part and "Old one" not in open_part
    assert "Old one" in recent_part
    assert "Level 1" in open_part
    assert "Responder" in open_part
    assert "Triggered" in open_part
    assert "escalates to level 2" in open_part
    assert f'data-deadline="{page.next_step_at.isoformat()}"' in open_part
    assert "Resolved" in recent_part


def test_page_list_queries_do_not_grow_with_pages(client, viewer, policy):
    client.force_login(viewer)
    client.get("/healthz")  # the signed-in user is read once, then cached: not counted
    start_page(policy, dedup_key="a")
    with CaptureQueriesContext(connection) as few:
        client.get("/oncall/pages/")
    for key in "bcdef":
        start_page(policy, dedup_key=key)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/oncall/pages/").status_code == 200
    assert len(many) == len(few)


def test_page_detail_shows_record_notifications_and_flagged_events(
        client, viewer, responder, django_user_model):
    nobody = make_user(django_user_model, "silent")  # no contact method: flagged skip
    email(responder)
    policy = make_policy("Payments", [nobody, responder], [responder])
    page = start_page(policy)
    client.force_login(viewer)
    response = client.get(f"/oncall/pages/{page.pk}/")
    assert response.status_code == 200
    text = html(response)
    assert "Checkout API down" in text
    assert 'id="page-status"' in text
    assert "Level 1" in text
    assert f'data-deadline="{page.next_step_at.isoformat()}"' in text
    notifications = text[text.index('id="page-notifications"'):text.index('id="page-events"')]
    assert "Responder" in notifications and "Sent" in notifications
    assert "responder@example.com" in notifications
    events = text[text.index('id="page-events"'):]
    assert "Silent on level 1 has no working contact method." in events
    assert 'class="entry kind-sla flagged"' in events
    assert "needs attention" in events
    # A viewer who was not notified gets no acknowledge button.
    assert "/acknowledge/" not in text


def test_page_detail_shows_failed_delivery_error(client, ic, responder):
    ContactMethod.objects.create(user=responder, kind=ContactKind.WEBHOOK,
                                 target="https://user:pw@example.org/hook")
    page = start_page(make_policy("Hooks", [responder]))
    client.force_login(ic)
    text = html(client.get(f"/oncall/pages/{page.pk}/"))
    assert "Failed" in text
    assert "Do not put user:password@ in the URL." in text
    assert "Delivery failed" in text


def test_unknown_page_is_404(client, viewer):
    client.force_login(viewer)
    assert client.get("/oncall/pages/999/").status_code == 404


def test_pages_need_login(client, page):
    response = client.get(f"/oncall/pages/{page.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- acknowledging from the dashboard ---------------------------------------------------------

def test_notified_person_sees_the_acknowledge_button(client, responder, page):
    client.force_login(responder)
    assert f"/oncall/pages/{page.pk}/acknowledge/" in html(client.get(f"/oncall/pages/{page.pk}/"))


def test_acknowledge_plain_post_redirects_and_stops_escalation(client, responder, page):
    client.force_login(responder)
    response = client.post(f"/oncall/pages/{page.pk}/acknowledge/")
    assert response.status_code == 302
    assert response["Location"] == f"/oncall/pages/{page.pk}/"
    page.refresh_from_db()
    assert page.status == PageStatus.ACKNOWLEDGED
    assert page.acknowledged_by == responder
    assert page.next_step_at is None
    assert page.events.filter(kind=PageEventKind.ACKNOWLEDGED,
                              text__contains="(dashboard)").exists()


def test_acknowledge_htmx_returns_the_status_fragment(client, responder, page):
    client.force_login(responder)
    response = client.post(f"/oncall/pages/{page.pk}/acknowledge/", **HX)
    assert response.status_code == 200
    assert_fragment(response, "page-status")
    text = html(response)
    assert "Acknowledged" in text
    assert "escalation stopped" in text
    # The events log and notifications are refreshed out of band.
    assert 'id="page-events" class="card" hx-swap-oob="true"' in text
    assert 'id="page-notifications" class="card" hx-swap-oob="true"' in text
    assert "Acknowledged by Responder (dashboard)." in text
    assert Page.objects.get(pk=page.pk).status == PageStatus.ACKNOWLEDGED


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_acknowledging_twice_is_409_with_who_did_it(client, responder, ic, page, headers):
    paging.acknowledge_page(page, by=ic)
    client.force_login(responder)
    response = client.post(f"/oncall/pages/{page.pk}/acknowledge/", **headers)
    assert response.status_code == 409
    assert "This page is already acknowledged by Ic." in html(response)
    if headers:
        assert_fragment(response, "page-status")
    page.refresh_from_db()
    assert page.acknowledged_by == ic
    assert page.events.filter(kind=PageEventKind.ACKNOWLEDGED).count() == 1


def test_person_not_paged_cannot_acknowledge(client, viewer, page):
    client.force_login(viewer)
    response = client.post(f"/oncall/pages/{page.pk}/acknowledge/", **HX)
    assert response.status_code == 403
    assert_fragment(response, "page-status")
    assert "Only people this page notified" in html(response)
    assert_not_acknowledged(page)


def test_acknowledge_from_the_page_list_swaps_its_row(client, responder, page):
    client.force_login(responder)
    listing = html(client.get("/oncall/pages/"))
    assert f'hx-target="#page-{page.pk}"' in listing
    response = client.post(f"/oncall/pages/{page.pk}/acknowledge/", **HX,
                           HTTP_HX_TARGET=f"page-{page.pk}")
    assert response.status_code == 200
    assert_fragment(response, f"page-{page.pk}")
    text = html(response)
    assert text.lstrip().startswith("<tr")
    assert "Acknowledged: escalation stopped." in text
    assert "by Responder" in text
    assert "/acknowledge/" not in text  # no button left
    assert Page.objects.get(pk=page.pk).status == PageStatus.ACKNOWLEDGED


def test_acknowledge_from_the_dashboard_swaps_its_item(client, responder, page):
    client.force_login(responder)
    dashboard = html(client.get("/"))
    assert f'hx-target="#my-page-{page.pk}"' in dashboard
    response = client.post(f"/oncall/pages/{page.pk}/acknowledge/", **HX,
                           HTTP_HX_TARGET=f"my-page-{page.pk}")
    assert response.status_code == 200
    assert_fragment(response, f"my-page-{page.pk}")
    assert "Acknowledged by Responder: escalation stopped." in html(response)
    assert Page.objects.get(pk=page.pk).status == PageStatus.ACKNOWLEDGED


@pytest.mark.parametrize("target", ["page-{pk}", "my-page-{pk}"])
def test_acknowledging_taken_page_in_place_is_409_with_who(client, responder, ic, page,
                                                           target):
    paging.acknowledge_page(page, by=ic)
    client.force_login(responder)
    dom_id = target.format(pk=page.pk)
    response = client.post(f"/oncall/pages/{page.pk}/acknowledge/", **HX,
                           HTTP_HX_TARGET=dom_id)
    assert response.status_code == 409
    assert_fragment(response, dom_id)
    assert "This page is already acknowledged by Ic." in html(response)
    assert "<button" not in html(response)


def test_refused_acknowledge_in_place_is_403_with_the_reason(client, viewer, page):
    client.force_login(viewer)
    response = client.post(f"/oncall/pages/{page.pk}/acknowledge/", **HX,
                           HTTP_HX_TARGET=f"page-{page.pk}")
    assert response.status_code == 403
    assert_fragment(response, f"page-{page.pk}")
    assert "Only people this page notified" in html(response)
    assert_not_acknowledged(page)


def test_acknowledge_needs_post(client, responder, page):
    client.force_login(responder)
    assert client.get(f"/oncall/pages/{page.pk}/acknowledge/").status_code == 405
    assert_not_acknowledged(page)


# --- one-click links ---------------------------------------------------------------------------

def test_one_click_get_shows_confirmation_and_changes_nothing(client, responder, page):
    path = ack_path(page, responder)
    response = client.get(path)  # not signed in, as a mail scanner's prefetch
    assert response.status_code == 200
    text = html(response)
    assert "Checkout API down" in text
    assert "Acknowledge this page as <strong>Responder</strong>?" in text
    assert text.count("<button") == 1
    assert f'<form method="post" action="{path}">' in text
    assert response["Cache-Control"].startswith("max-age=0")
    assert_not_acknowledged(page)


def test_one_click_head_changes_nothing(client, responder, page):
    assert client.head(ack_path(page, responder)).status_code == 200
    assert_not_acknowledged(page)


def test_one_click_post_acknowledges_as_the_tokens_user(client, responder, page):
    response = client.post(ack_path(page, responder))
    assert response.status_code == 200
    assert "Acknowledged by Responder" in html(response)
    page.refresh_from_db()
    assert page.status == PageStatus.ACKNOWLEDGED
    assert page.acknowledged_by == responder
    assert PageEvent.objects.filter(page=page, kind=PageEventKind.ACKNOWLEDGED,
                                    text="Acknowledged by Responder (one-click link).").exists()


def test_one_click_post_by_someone_signed_in_still_acknowledges_as_the_tokens_user(
        client, viewer, responder, page):
    client.force_login(viewer)
    client.post(ack_path(page, responder))
    page.refresh_from_db()
    assert page.acknowledged_by == responder


def test_one_click_works_with_csrf_checks(responder, page):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    path = ack_path(page, responder)
    text = html(browser.get(path))
    token = text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    response = browser.post(path, {"csrfmiddlewaretoken": token})
    assert response.status_code == 200
    page.refresh_from_db()
    assert page.acknowledged_by == responder


@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_one_click_token_is_400_and_acknowledges_nothing(client, responder, page,
                                                                  method):
    path = ack_path(page, responder)
    token = path.rstrip("/").rsplit("/", 1)[1]
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    response = getattr(client, method)(f"/oncall/ack/{tampered}/")
    assert response.status_code == 400
    assert "This acknowledgement link is not valid" in html(response)
    assert "Nothing was acknowledged" in html(response)
    assert_not_acknowledged(page)


def test_one_click_token_for_another_page_cannot_be_forged(client, responder, page):
    # A token re-signed with another salt (e.g. some other signed value) is refused.
    from django.core import signing

    forged = signing.dumps({"p": page.pk, "u": responder.pk}, salt="something-else")
    response = client.post(f"/oncall/ack/{forged}/")
    assert response.status_code == 400
    assert_not_acknowledged(page)


@pytest.mark.parametrize("method", ["get", "post"])
def test_expired_one_click_token_is_400(client, responder, page, method):
    path = ack_path(page, responder)
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        response = getattr(client, method)(path)
    assert response.status_code == 400
    assert "This acknowledgement link has expired" in html(response)
    assert_not_acknowledged(page)


@pytest.mark.parametrize("method", ["get", "post"])
def test_one_click_after_acknowledgement_says_by_whom_and_when(client, responder, ic, page,
                                                              method):
    paging.acknowledge_page(page, by=ic)
    response = getattr(client, method)(ack_path(page, responder))
    assert response.status_code == 200
    text = html(response)
    assert "Already acknowledged by <strong>Ic</strong>" in text
    page.refresh_from_db()
    assert page.acknowledged_at.strftime("%Y-%m-%d %H:%M") in text
    assert page.acknowledged_by == ic
    assert "<form method=\"post\" action=\"/oncall/ack/" not in text


def test_one_click_on_resolved_page_acknowledges_nothing(client, responder, page):
    paging.resolve_page(page, reason="Incident resolved.")
    response = client.post(ack_path(page, responder))
    assert response.status_code == 200
    assert "Nothing to acknowledge" in html(response)
    page.refresh_from_db()
    assert page.status == PageStatus.RESOLVED and page.acknowledged_by is None


def test_one_click_for_deactivated_user_acknowledges_nothing(client, responder, page):
    path = ack_path(page, responder)
    responder.is_active = False
    responder.save()
    response = client.post(path)
    assert response.status_code == 404
    assert_not_acknowledged(page)


# --- policies ------------------------------------------------------------------------------------

def test_policy_list(client, viewer, policy):
    client.force_login(viewer)
    response = client.get("/oncall/policies/")
    assert response.status_code == 200
    assert f'href="/oncall/policies/{policy.pk}/"' in html(response)


def test_policy_detail_shows_levels_timeouts_and_services(client, viewer, policy):
    from incidents.models import Service  # the test may look across apps; oncall may not

    Service.objects.create(name="Checkout API", slug="checkout-api", escalation_policy=policy)
    policy.repeat_count = 2
    policy.save()
    client.force_login(viewer)
    text = html(client.get(f"/oncall/policies/{policy.pk}/"))
    assert "Checkout API" in text
    assert "after 5 min, escalate to the next level" in text
    assert "after 10 min, repeat from level 1" in text
    assert "2 more times" in text


def test_policy_detail_warns_about_people_without_contact_methods(client, viewer, policy):
    client.force_login(viewer)
    text = html(client.get(f"/oncall/policies/{policy.pk}/"))
    warnings = text[text.index('id="guardrails-title"'):]
    assert "Level 2: Ic has no working contact method and will not be paged." in warnings
    assert "Every level can resolve to nobody" not in warnings
    assert "Level 1:" not in warnings


def test_policy_detail_warns_when_every_level_resolves_to_nobody(client, viewer):
    empty_schedule = Schedule.objects.create(name="Nobody", starts_on=date(2026, 1, 5))
    policy = make_policy("Empty", empty_schedule, [])
    client.force_login(viewer)
    text = html(client.get(f"/oncall/policies/{policy.pk}/"))
    assert "Level 1 resolves to nobody right now (nobody is on call on “Nobody” right now)" \
        in text
    assert "Level 2 resolves to nobody right now (it names nobody)" in text
    assert "Every level can resolve to nobody" in text


@pytest.mark.parametrize("at, on_call, reachable", [
    (datetime(2020, 1, 8, 12, tzinfo=UTC), "Ic", True),  # week 1 of the rotation
    (datetime(2020, 1, 15, 12, tzinfo=UTC), "Responder", False),  # week 2
])
def test_policy_detail_checks_schedule_levels(client, viewer, responder, ic, at, on_call,
                                              reachable):
    email(ic)
    schedule = Schedule.objects.create(name="Primary", starts_on=date(2020, 1, 6))
    ScheduleMember.objects.create(schedule=schedule, user=ic, position=0)
    ScheduleMember.objects.create(schedule=schedule, user=responder, position=1)
    policy = make_policy("Scheduled", schedule)
    client.force_login(viewer)
    with time_machine.travel(at, tick=False):
        text = html(client.get(f"/oncall/policies/{policy.pk}/"))
    level = text[text.index('id="level-1"'):]
    assert "Primary" in level and "Ic" in level and "Responder" in level
    now_cell = level.split("<td>")[3]
    assert on_call in now_cell
    warnings = text[text.index('id="guardrails-title"'):text.index('id="level-1"')]
    assert "Level 1 (“Primary”): Responder has no contact method" in warnings
    assert "resolves to nobody" not in warnings
    assert ("Every level can resolve to nobody" in warnings) is not reachable


def test_policy_without_levels_is_flagged(client, viewer):
    policy = EscalationPolicy.objects.create(name="Hollow")
    client.force_login(viewer)
    assert "This policy has no levels" in html(client.get(f"/oncall/policies/{policy.pk}/"))


def test_policy_with_reachable_people_has_no_warnings(client, viewer, responder):
    email(responder)
    policy = make_policy("Fine", [responder])
    client.force_login(viewer)
    assert 'id="guardrails-title"' not in html(client.get(f"/oncall/policies/{policy.pk}/"))


# --- admin --------------------------------------------------------------------------------

def test_manager_reads_pages_in_the_admin_but_cannot_change_them(client, manager, page):
    client.force_login(manager)
    for model in ("page", "notification", "pageevent"):
        assert client.get(f"/admin/oncall/{model}/").status_code == 200
        assert client.get(f"/admin/oncall/{model}/add/").status_code == 403
    assert client.get(f"/admin/oncall/page/{page.pk}/change/").status_code == 200
    response = client.post(f"/admin/oncall/page/{page.pk}/change/", {"status": "resolved"})
    assert response.status_code == 403
    assert client.post(f"/admin/oncall/page/{page.pk}/delete/", {"post": "yes"}).status_code \
        == 403
    assert Page.objects.get(pk=page.pk).status == PageStatus.TRIGGERED


def test_admin_contact_method_list_hides_webhook_secrets(client, manager, responder):
    ContactMethod.objects.create(user=responder, kind=ContactKind.SLACK,
                                 target="https://hooks.slack.com/services/T/B/SecretPath")
    client.force_login(manager)
    text = html(client.get("/admin/oncall/contactmethod/"))
    assert "https://hooks.slack.com/…" in text
    assert "SecretPath" not in text


def test_oncall_admin_is_for_managers_only(client, ic):
    ic.is_staff = True
    ic.save()
    client.force_login(ic)
    assert client.get("/admin/oncall/escalationpolicy/").status_code == 403
