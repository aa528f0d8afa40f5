"""SMS and voice pages end to end: the real paging engine (in a thread) sends through the
`twilio` library to a fake Twilio on 127.0.0.1; replies and key presses come back to our
webhooks signed as Twilio signs them; a real HTTP receiver stands for the next level."""

import time
from datetime import timedelta

import pytest
import time_machine

from oncall.models import (
    ContactMethod,
    DeliveryStatus,
    Notification,
    PageEventKind,
    PageStatus,
)
from tests.oncall import twilio_fake
from tests.oncall.test_paging_engine import policy, running, trigger, webhook
from tests.oncall.twilio_fake import FROM_NUMBER, SITE_URL, post_signed
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
IC_NUMBER = "+15551230001"


@pytest.fixture
def twilio(settings):
    fake = twilio_fake.serve()
    twilio_fake.configure(settings, fake)
    yield fake
    twilio_fake.stop(fake)


def sent(notification_filter):
    return Notification.objects.filter(status=DeliveryStatus.SENT, **notification_filter).exists()


def after_level_one(page):
    """Well past level 1's timeout: level 2 would be due by now if nobody acknowledged."""
    page.refresh_from_db()
    return time_machine.travel(page.created_at + timedelta(minutes=6), tick=True)


def test_sms_page_then_reply_1_acknowledges_and_the_next_level_is_never_paged(
        ic, responder, twilio, receiver, client):
    ContactMethod.objects.create(user=ic, kind="sms", target=IC_NUMBER)
    webhook(responder, receiver)
    pol = policy(([ic], 5), ([responder], 10))

    with running():
        page = trigger(pol, "sms-ack")
        assert wait_for(twilio.messages, 5), "the SMS never reached Twilio"
        assert wait_for(lambda: sent({"page": page}), 5)
        notification = Notification.objects.get(page=page)
        [message] = twilio.messages()
        assert message["To"] == IC_NUMBER and message["From"] == FROM_NUMBER
        assert message["Body"].startswith("[SEV-2] Page sms-ack")
        assert f"Reply 1 {page.pk} to ack, 2 {page.pk} to escalate." in message["Body"]
        assert message["StatusCallback"] == f"{SITE_URL}/twilio/status?ref=n{notification.pk}"
        assert all(r["auth_ok"] for r in twilio.requests)

        response = post_signed(client, f"{SITE_URL}/twilio/sms", {
            "From": IC_NUMBER, "To": FROM_NUMBER, "Body": " 1 ", "AccountSid":
            twilio_fake.ACCOUNT_SID, "MessageSid": "SM" + "1" * 32})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/xml")
        answer = response.content.decode()
        assert answer.startswith("<?xml") and "<Response><Message>" in answer
        assert f"Page {page.pk} (Page sms-ack) acknowledged by you" in answer

        page.refresh_from_db()
        assert page.status == PageStatus.ACKNOWLEDGED and page.acknowledged_by == ic
        assert page.events.filter(kind=PageEventKind.ACKNOWLEDGED,
                                  text__contains="(SMS)").exists()
        with after_level_one(page):
            time.sleep(1.2)  # two engine loops with level 2 long due, had nobody answered
    assert receiver.requests == []
    assert not Notification.objects.filter(page=page, level=2).exists()


def test_sms_reply_2_escalates_to_the_next_level_at_once(ic, responder, twilio, receiver,
                                                         client):
    ContactMethod.objects.create(user=ic, kind="sms", target=IC_NUMBER)
    webhook(responder, receiver)
    pol = policy(([ic], 30), ([responder], 10))

    with running():
        page = trigger(pol, "sms-escalate")
        assert wait_for(lambda: sent({"page": page}), 5)
        response = post_signed(client, f"{SITE_URL}/twilio/sms", {
            "From": IC_NUMBER, "To": FROM_NUMBER, "Body": f"2 {page.pk}"})
        assert "escalating to the next level now" in response.content.decode()
        # Level 1's timeout is 30 minutes away: only the reply can have paged level 2.
        assert wait_for(lambda: receiver.requests, 5), "level 2 was not paged"
    page.refresh_from_db()
    assert page.status == PageStatus.TRIGGERED and page.current_level == 2
    assert page.events.filter(kind=PageEventKind.ESCALATED,
                              text__endswith="asked to escalate now (SMS).").exists()


def test_voice_call_reads_the_page_and_pressing_1_acknowledges_it(
        ic, responder, twilio, receiver, client):
    ContactMethod.objects.create(user=ic, kind="voice", target=IC_NUMBER)
    webhook(responder, receiver)
    pol = policy(([ic], 5), ([responder], 10))

    with running():
        page = trigger(pol, "voice-ack")
        assert wait_for(twilio.calls, 5), "the call was never placed"
        assert wait_for(lambda: sent({"page": page}), 5)
        notification = Notification.objects.get(page=page)
        [call] = twilio.calls()
        voice_url = f"{SITE_URL}/twilio/voice?ref=n{notification.pk}"
        assert call["To"] == IC_NUMBER and call["From"] == FROM_NUMBER
        assert call["Url"] == voice_url
        assert call["StatusCallback"] == f"{SITE_URL}/twilio/status?ref=n{notification.pk}"

        # Answered: Twilio fetches the TwiML.
        answered = {"CallSid": "CA" + "2" * 32, "AccountSid": twilio_fake.ACCOUNT_SID,
                    "From": FROM_NUMBER, "To": IC_NUMBER, "CallStatus": "in-progress",
                    "Direction": "outbound-api"}
        twiml = post_signed(client, voice_url, answered).content.decode()
        assert f'<Gather action="{voice_url.replace("&", "&amp;")}"' in twiml
        assert 'numDigits="1"' in twiml
        assert "<Say>MindWeave I R page. SEV-2 Page voice-ack. Press 1 to acknowledge." in twiml

        # "press 1"
        pressed = post_signed(client, voice_url, answered | {"Digits": "1"}).content.decode()
        assert "<Say>Page" in pressed and "acknowledged by you. Escalation stopped." in pressed
        assert "<Hangup />" in pressed
        page.refresh_from_db()
        assert page.status == PageStatus.ACKNOWLEDGED and page.acknowledged_by == ic
        assert page.events.filter(text__contains="(phone call)").exists()
        with after_level_one(page):
            time.sleep(1.2)
    assert receiver.requests == []
    assert not Notification.objects.filter(page=page, level=2).exists()


def test_a_drill_says_so_by_sms_and_by_voice(ic, twilio, client):
    ContactMethod.objects.create(user=ic, kind="sms", target=IC_NUMBER)
    ContactMethod.objects.create(user=ic, kind="voice", target="+15551230002")
    pol = policy(([ic], 5))
    with running():
        from oncall import paging

        page = paging.trigger_page(title="INC-2026-0042 Game day", severity="SEV-1",
                                   dedup_key="drill", policy=pol, is_test=True)
        assert wait_for(lambda: twilio.messages() and twilio.calls(), 5)
    body = twilio.messages()[0]["Body"]
    assert body.startswith("[TEST] [SEV-1] INC-2026-0042 Game day")
    assert "TEST: a drill, not a real outage." in body
    call = twilio.calls()[0]
    twiml = post_signed(client, call["Url"], {"To": "+15551230002", "From": FROM_NUMBER,
                                              "CallSid": "CA" + "3" * 32}).content.decode()
    assert "This is a drill, not a real outage." in twiml
    page.refresh_from_db()
    assert page.status == PageStatus.TRIGGERED


def test_a_notice_goes_by_sms_from_a_real_celery_worker_and_its_report_is_recorded(
        ic, twilio, client):
    from celery.contrib.testing.worker import start_worker

    from mindweave_ir.celery import app
    from oncall import notices
    from oncall.models import Notice

    ContactMethod.objects.create(user=ic, kind="sms", target=IC_NUMBER)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        [notice] = notices.notify(ic, key="handoff:1:handed-off", subject="Handoff to you",
                                  text="Primary On-Call is yours; acknowledge the handoff.",
                                  link="/reports/handoffs/1/")
        assert wait_for(lambda: Notice.objects.get(pk=notice.pk).status
                        == DeliveryStatus.SENT, 10), "the worker never sent the notice"
    [message] = twilio.messages()
    assert message["Body"] == ("Handoff to you\nPrimary On-Call is yours; acknowledge the "
                               f"handoff.\n{SITE_URL}/reports/handoffs/1/")
    assert message["StatusCallback"] == f"{SITE_URL}/twilio/status?ref=x{notice.pk}"
    post_signed(client, message["StatusCallback"], {"MessageSid": "SM" + "9" * 32,
                                                     "MessageStatus": "delivered"})
    notice.refresh_from_db()
    assert (notice.provider_id, notice.provider_status) == ("SM" + "9" * 32, "delivered")
