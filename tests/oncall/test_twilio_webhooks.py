"""Twilio's webhooks into us (/twilio/sms, /twilio/voice, /twilio/status): signed exactly
as Twilio signs them (the twilio library's RequestValidator), refused with a 403 and no
change when they are not; every reply says what happened. The notifications are sent by
the paging engine's own functions to a fake Twilio on 127.0.0.1."""

import pytest

from mindweave_ir.live import versions
from oncall import paging
from oncall.models import (
    ContactMethod,
    Notification,
    PageEvent,
    PageEventKind,
    PageStatus,
)
from tests.oncall import twilio_fake
from tests.oncall.test_paging_engine import policy
from tests.oncall.twilio_fake import FROM_NUMBER, SITE_URL, post_signed

pytestmark = pytest.mark.django_db
NUMBER = "+15551230001"


@pytest.fixture
def twilio(settings):
    fake = twilio_fake.serve()
    twilio_fake.configure(settings, fake)
    yield fake
    twilio_fake.stop(fake)


def paged(pol, key, source=""):
    """A page whose first level's notifications were sent, as the engine sends them."""
    page = paging.trigger_page(title=f"Page {key}", severity="SEV-2", dedup_key=key,
                               policy=pol, source=source)
    paging.run_due_pages()
    for notification in Notification.objects.filter(page=page):
        assert paging.deliver(notification.pk).startswith("sent")
    return page


def sms_reply(client, body, number=NUMBER):
    response = post_signed(client, f"{SITE_URL}/twilio/sms",
                           {"From": number, "To": FROM_NUMBER, "Body": body})
    assert response.status_code == 200
    return response.content.decode()


def state(page):
    """Everything a refused request must leave as it was."""
    page.refresh_from_db()
    return (page.status, page.acknowledged_by_id, page.next_step_at,
            PageEvent.objects.filter(page=page).count(),
            list(Notification.objects.filter(page=page).values_list(
                "provider_id", "provider_status", "provider_error")))


# --- signatures ---------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["tampered", "wrong-token", "missing", "other-url"])
def test_each_webhook_refuses_a_request_twilio_did_not_sign_and_changes_nothing(
        how, ic, twilio, client):
    ContactMethod.objects.create(user=ic, kind="voice", target=NUMBER)
    page = paged(policy(([ic], 5)), "signed")
    ref = f"n{Notification.objects.get(page=page).pk}"
    voice_url = f"{SITE_URL}/twilio/voice?ref={ref}"
    before = state(page)
    requests = [
        (f"{SITE_URL}/twilio/sms", {"From": NUMBER, "Body": "2"}, {"Body": "1"}),
        (voice_url, {"To": NUMBER, "Digits": "2"}, {"Digits": "1"}),
        (f"{SITE_URL}/twilio/status?ref={ref}", {"CallSid": "CA" + "1" * 32,
                                                 "CallStatus": "ringing"},
         {"CallStatus": "no-answer"}),
    ]
    for url, params, edit in requests:
        if how == "tampered":
            response = post_signed(client, url, params, tamper=edit)
        elif how == "wrong-token":
            response = post_signed(client, url, params | edit, token="0" * 32)
        elif how == "other-url":  # a signature for another page's call, replayed here
            signed_for = url.replace(ref, "n999") if "ref=" in url else url + "?ref=n1"
            response = client.post(url.removeprefix(SITE_URL), params | edit,
                                   HTTP_X_TWILIO_SIGNATURE=twilio_fake.signature(
                                       signed_for, params | edit))
        else:
            response = client.post(url.removeprefix(SITE_URL), params | edit)
        assert response.status_code == 403, (url, response.content)
        assert b"not signed by Twilio" in response.content
    assert state(page) == before
    assert page.status == PageStatus.TRIGGERED


def test_with_twilio_not_configured_every_webhook_is_refused(ic, settings, client):
    settings.TWILIO_AUTH_TOKEN = ""
    for path in ("/twilio/sms", "/twilio/voice", "/twilio/status"):
        response = post_signed(client, SITE_URL + path, {"From": NUMBER, "Body": "1"},
                               token="")
        assert response.status_code == 403


def test_a_webhook_only_takes_post(client):
    assert client.get("/twilio/sms").status_code == 405


# --- SMS replies ------------------------------------------------------------------------------

def test_a_reply_naming_a_code_acts_on_that_page_not_the_latest(ic, twilio, client):
    ContactMethod.objects.create(user=ic, kind="sms", target=NUMBER)
    pol = policy(([ic], 5))
    first, second = paged(pol, "first"), paged(pol, "second")
    bodies = [m["Body"] for m in twilio.messages()]
    assert f"Reply 1 {first.pk} to ack" in bodies[0] and f"Reply 1 {second.pk}" in bodies[1]

    assert "acknowledged by you" in sms_reply(client, f"1 {first.pk}")
    first.refresh_from_db(), second.refresh_from_db()
    assert first.status == PageStatus.ACKNOWLEDGED and second.status == PageStatus.TRIGGERED
    # "1" alone: the latest page still waiting, which is now the second.
    assert f"Page {second.pk} (Page second) acknowledged by you" in sms_reply(client, "ACK")
    second.refresh_from_db()
    assert second.status == PageStatus.ACKNOWLEDGED


def test_a_second_ack_is_told_who_acknowledged_and_nothing_changes(ic, twilio, client):
    ContactMethod.objects.create(user=ic, kind="sms", target=NUMBER)
    page = paged(policy(([ic], 5)), "twice")
    sms_reply(client, f"1 {page.pk}")
    before = state(page)
    answer = sms_reply(client, f"1 {page.pk}")
    assert "This page is already acknowledged by" in answer and "Nothing was changed" in answer
    assert state(page) == before


@pytest.mark.parametrize(("body", "expected"), [
    ("hello", "Reply 1 to acknowledge your latest page"),
    ("142", "Reply 1 to acknowledge your latest page"),
    ("1 99999", "No page 99999 was sent to you. Nothing was changed."),
    ("3", "Reply 1 to acknowledge your latest page"),
])
def test_an_unclear_reply_gets_help_and_changes_nothing(body, expected, ic, twilio, client):
    ContactMethod.objects.create(user=ic, kind="sms", target=NUMBER)
    page = paged(policy(([ic], 5)), "unclear")
    before = state(page)
    assert expected in sms_reply(client, body)
    assert state(page) == before


def test_an_unknown_number_or_nothing_open_gets_a_clear_reply(ic, responder, twilio, client):
    ContactMethod.objects.create(user=ic, kind="sms", target=NUMBER)
    ContactMethod.objects.create(user=responder, kind="sms", target="+15551230009")
    page = paged(policy(([ic], 5)), "not-yours")
    before = state(page)
    assert "This number is not registered with MindWeave IR" in sms_reply(
        client, "1", number="+15559999999")
    assert "not registered" in sms_reply(client, "1", number="not-a-number")
    # The responder was never paged: nothing of theirs is open, and page codes of others'
    # pages are not theirs to answer.
    assert "You have no page waiting for acknowledgement" in sms_reply(
        client, "1", number="+15551230009")
    assert f"No page {page.pk} was sent to you" in sms_reply(
        client, f"1 {page.pk}", number="+15551230009")
    assert state(page) == before


def test_a_viewer_may_not_stop_escalation_by_sms(viewer, twilio, client):
    ContactMethod.objects.create(user=viewer, kind="sms", target=NUMBER)
    page = paged(policy(([viewer], 5)), "viewer")
    before = state(page)
    assert "Only people this page notified" in sms_reply(client, "1")
    assert "Only people this page notified" in sms_reply(client, "2")
    assert state(page) == before


def test_escalating_a_page_that_never_escalates_is_refused(ic, twilio, client):
    ContactMethod.objects.create(user=ic, kind="sms", target=NUMBER)
    pol = policy(([ic], 5))
    page = paging.trigger_page(title="SEV-3 thing", severity="SEV-3", dedup_key="sev3",
                               policy=pol, escalate=False)
    paging.run_due_pages()
    before = state(page)
    assert "notifies its first level only" in sms_reply(client, "2")
    assert state(page) == before


# --- calls --------------------------------------------------------------------------------------

def test_a_call_answered_after_someone_acknowledged_says_so_and_takes_no_key(
        ic, manager, twilio, client):
    ContactMethod.objects.create(user=ic, kind="voice", target=NUMBER)
    page = paged(policy(([ic], 5)), "late-answer")
    paging.acknowledge_page(page, by=manager)
    url = twilio.calls()[0]["Url"]
    twiml = post_signed(client, url, {"To": NUMBER}).content.decode()
    assert "This page is already acknowledged by" in twiml and "<Gather" not in twiml


def test_a_call_to_another_number_or_an_unknown_ref_acts_on_nothing(ic, twilio, client):
    ContactMethod.objects.create(user=ic, kind="voice", target=NUMBER)
    page = paged(policy(([ic], 5)), "mismatch")
    url = twilio.calls()[0]["Url"]
    before = state(page)
    for target, params in ((url, {"To": "+15550000000", "Digits": "1"}),
                           (f"{SITE_URL}/twilio/voice?ref=n999999", {"To": NUMBER,
                                                                     "Digits": "1"}),
                           (f"{SITE_URL}/twilio/voice?ref=bogus", {"To": NUMBER,
                                                                   "Digits": "1"})):
        twiml = post_signed(client, target, params).content.decode()
        assert "could not be matched to a page. Nothing was changed." in twiml
    assert state(page) == before


def test_another_key_asks_again(ic, twilio, client):
    ContactMethod.objects.create(user=ic, kind="voice", target=NUMBER)
    page = paged(policy(([ic], 5)), "key-9")
    url = twilio.calls()[0]["Url"]
    twiml = post_signed(client, url, {"To": NUMBER, "Digits": "9"}).content.decode()
    assert "Sorry, that key does nothing." in twiml and "<Gather" in twiml
    page.refresh_from_db()
    assert page.status == PageStatus.TRIGGERED


# --- status callbacks ------------------------------------------------------------------------

def status(client, ref, **params):
    response = post_signed(client, f"{SITE_URL}/twilio/status?ref={ref}", params)
    assert response.status_code == 204
    return response


def test_status_callbacks_are_recorded_on_the_notification_and_never_go_backwards(
        ic, twilio, client, django_capture_on_commit_callbacks):
    ContactMethod.objects.create(user=ic, kind="sms", target=NUMBER)
    page = paged(policy(([ic], 5)), "status", source="incident:77")
    notification = Notification.objects.get(page=page)
    sid = "SM" + "a" * 32
    watched = versions.version("incident:77")
    with django_capture_on_commit_callbacks(execute=True):
        status(client, f"n{notification.pk}", MessageSid=sid, MessageStatus="sent")
    assert versions.version("incident:77") == watched + 1  # live watchers see it
    status(client, f"n{notification.pk}", MessageSid=sid, MessageStatus="delivered")
    status(client, f"n{notification.pk}", MessageSid=sid, MessageStatus="sent")  # late
    status(client, f"n{notification.pk}", MessageSid="SM" + "b" * 32,
           MessageStatus="failed")  # not this row's message
    notification.refresh_from_db()
    assert (notification.provider_id, notification.provider_status,
            notification.provider_error) == (sid, "delivered", "")
    assert notification.provider_status_at is not None
    assert not page.events.filter(kind=PageEventKind.FAILED).exists()


def test_an_undelivered_sms_is_flagged_on_the_page_for_its_people(ic, twilio, client):
    ContactMethod.objects.create(user=ic, kind="sms", target=NUMBER)
    page = paged(policy(([ic], 5)), "undelivered")
    notification = Notification.objects.get(page=page)
    for _ in range(2):  # Twilio may repeat a callback: flagged once
        status(client, f"n{notification.pk}", MessageSid="SM" + "c" * 32,
               MessageStatus="undelivered", ErrorCode="30003")
    notification.refresh_from_db()
    assert notification.provider_status == "undelivered"
    assert notification.provider_error == ("undelivered, Twilio error 30003: handset "
                                           "unreachable")
    [event] = page.events.filter(kind=PageEventKind.FAILED)
    assert event.flagged and "undelivered, Twilio error 30003" in event.text
    client.force_login(ic)
    shown = client.get(f"/oncall/pages/{page.pk}/").content.decode()
    assert "undelivered, Twilio error 30003: handset unreachable" in shown


def test_an_unanswered_call_is_recorded(ic, twilio, client):
    ContactMethod.objects.create(user=ic, kind="voice", target=NUMBER)
    page = paged(policy(([ic], 5)), "no-answer")
    notification = Notification.objects.get(page=page)
    status(client, f"n{notification.pk}", CallSid="CA" + "d" * 32, CallStatus="no-answer")
    notification.refresh_from_db()
    assert (notification.provider_status, notification.provider_error) == ("no-answer",
                                                                           "no-answer")
    assert page.events.filter(kind=PageEventKind.FAILED, text__contains="no-answer").exists()


def test_a_status_callback_with_an_unknown_ref_or_status_changes_nothing(ic, twilio, client):
    ContactMethod.objects.create(user=ic, kind="sms", target=NUMBER)
    page = paged(policy(([ic], 5)), "unknown")
    notification = Notification.objects.get(page=page)
    before = state(page)
    status(client, "n999999", MessageSid="SM" + "e" * 32, MessageStatus="delivered")
    status(client, f"n{notification.pk}", MessageSid="SM" + "e" * 32, MessageStatus="weird")
    status(client, "", MessageSid="SM" + "e" * 32, MessageStatus="delivered")
    assert state(page) == before
