"""SMS and voice contact methods: added only with Twilio configured and an E.164 number,
tested from the profile page, retried on Twilio's 429 and disabled on a bad number
(21211), like every other channel's permanent error. Twilio is a fake on 127.0.0.1 that
the `twilio` library's own Client talks to."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from oncall import paging, services
from oncall.admin import ContactMethodAdminForm
from oncall.models import (
    ContactMethod,
    DeliveryStatus,
    Notification,
    PageEventKind,
)
from tests.oncall import twilio_fake
from tests.oncall.test_paging_engine import policy, trigger
from tests.oncall.twilio_fake import SITE_URL, post_signed

pytestmark = pytest.mark.django_db
NUMBER = "+15551230001"
ADD = "/oncall/me/contact-methods/add/"


def add(client, kind, target):
    return client.post(ADD, {"new-kind": kind, "new-target": target, "new-label": "",
                             "new-notify_after_minutes": "0", "new-enabled": "on"})


def page_to(user, key="p"):
    page = trigger(policy(([user], 5), name=f"policy {key}"), key)
    paging.run_due_pages()
    return page, Notification.objects.get(page=page)


# --- adding a method ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["sms", "voice"])
def test_without_twilio_configured_sms_and_voice_cannot_be_added(kind, ic, client):
    client.force_login(ic)
    page = client.get("/oncall/me/").content.decode()
    assert f'value="{kind}"' in page  # offered, and refused with the reason
    response = add(client, kind, NUMBER)
    assert response.status_code == 400
    assert "SMS and voice are not set up on this server" in response.content.decode()
    assert not ContactMethod.objects.exists()
    with pytest.raises(ValidationError, match="Twilio is not configured"):
        services.add_contact_method(user=ic, kind=kind, target=NUMBER, by=ic)


@pytest.mark.parametrize("number", ["555-1234", "15551230001", "+0155512300", "+1555abc0001",
                                    "+1234567", "+1234567890123456", "", "tel:+15551230001"])
def test_a_number_not_in_e164_is_refused_on_save_saying_how_to_write_it(number, ic, client,
                                                                         twilio):
    client.force_login(ic)
    response = add(client, "sms", number)
    assert response.status_code == 400
    body = response.content.decode()
    assert ("international (E.164) format" in body) or ("This field is required" in body)
    assert not ContactMethod.objects.exists()
    form = ContactMethodAdminForm(data={"user": ic.pk, "kind": "voice", "target": number,
                                        "notify_after_minutes": 0})
    assert not form.is_valid() and "target" in form.errors


@pytest.mark.parametrize(("typed", "stored"), [("+1 (555) 123-0001", "+15551230001"),
                                                ("0044 20 7946 0958", "+442079460958"),
                                                ("+49.30.1234567", "+49301234567")])
def test_a_number_is_stored_in_e164_with_its_delay(typed, stored, ic, client, twilio):
    client.force_login(ic)
    response = client.post(ADD, {"new-kind": "voice", "new-target": typed,
                                 "new-notify_after_minutes": "5", "new-enabled": "on"})
    assert response.status_code == 302
    method = ContactMethod.objects.get()
    assert (method.kind, method.target, method.notify_after_minutes) == ("voice", stored, 5)
    page = client.get("/oncall/me/").content.decode()
    assert f"<code>{stored}</code>" in page and "after 5 min" in page
    # Editing shows the number (not a secret, unlike a webhook URL) and keeps the rules.
    edit = client.get(f"/oncall/me/contact-methods/{method.pk}/edit/").content.decode()
    assert f'value="{stored}"' in edit


def test_a_voice_method_waits_its_delay_like_the_others(ic, twilio):
    ContactMethod.objects.create(user=ic, kind="voice", target=NUMBER, notify_after_minutes=3)
    page, notification = page_to(ic)
    # Due 3 minutes after its escalation step was due (the page's first: its creation).
    assert notification.due_at - page.created_at == timedelta(minutes=3)
    assert paging.deliver(notification.pk) == "not mine"  # not due yet
    assert twilio.calls() == []


# --- the test button ---------------------------------------------------------------------

def test_the_test_button_texts_the_number_and_a_failed_delivery_report_shows(ic, client,
                                                                            twilio):
    method = ContactMethod.objects.create(user=ic, kind="sms", target=NUMBER)
    client.force_login(ic)
    response = client.post(f"/oncall/me/contact-methods/{method.pk}/test/", HTTP_HX_REQUEST="true")
    assert "delivered" in response.content.decode()
    [message] = twilio.messages()
    assert message["To"] == NUMBER
    assert message["Body"].startswith("[TEST] MindWeave IR test notification")
    assert "if you can read it, paging reaches you by SMS" in message["Body"]
    assert "Reply" not in message["Body"]  # nothing to acknowledge
    assert message["StatusCallback"] == f"{SITE_URL}/twilio/status?ref=t{method.pk}"

    # Twilio accepted it, the carrier did not deliver it: the owner sees that.
    post_signed(client, message["StatusCallback"], {"MessageSid": "SM" + "1" * 32,
                                                     "MessageStatus": "undelivered",
                                                     "ErrorCode": "30005"})
    method.refresh_from_db()
    assert method.last_test_ok is False
    assert method.last_test_error == "Twilio: undelivered, Twilio error 30005: unknown number."
    page = client.get("/oncall/me/").content.decode()
    assert "Twilio error 30005: unknown number" in page


def test_the_test_button_calls_and_the_call_says_it_is_a_test(ic, client, twilio):
    method = ContactMethod.objects.create(user=ic, kind="voice", target=NUMBER)
    client.force_login(ic)
    client.post(f"/oncall/me/contact-methods/{method.pk}/test/")
    [call] = twilio.calls()
    assert call["Url"] == f"{SITE_URL}/twilio/voice?ref=t{method.pk}"
    twiml = post_signed(client, call["Url"], {"To": NUMBER}).content.decode()
    assert "This is a MindWeave I R test call." in twiml and "<Gather" not in twiml
    method.refresh_from_db()
    assert method.last_test_ok is True


# --- Twilio's errors ------------------------------------------------------------------------

def test_a_429_is_retried_with_backoff_then_sent(ic, twilio):
    ContactMethod.objects.create(user=ic, kind="sms", target=NUMBER)
    page, notification = page_to(ic)
    twilio.fail_next(20429)
    outcome = paging.deliver(notification.pk)
    assert outcome.startswith("retry in 10s") and "HTTP 429" in outcome
    notification.refresh_from_db()
    assert notification.status == DeliveryStatus.QUEUED and notification.attempts == 1
    assert paging.deliver(notification.pk) == "not mine"  # backing off
    outcome = paging.deliver(notification.pk, now=timezone.now() + timedelta(seconds=11))
    assert outcome.startswith("sent: Twilio SM")
    notification.refresh_from_db()
    assert notification.status == DeliveryStatus.SENT and notification.attempts == 2
    assert len(twilio.messages()) == 2
    assert ContactMethod.objects.get().is_enabled


def test_an_invalid_number_21211_disables_the_method_visibly(ic, client, twilio):
    method = ContactMethod.objects.create(user=ic, kind="sms", target=NUMBER)
    page, notification = page_to(ic)
    twilio.fail_next(21211)
    assert paging.deliver(notification.pk).startswith("failed")
    notification.refresh_from_db()
    method.refresh_from_db()
    assert notification.status == DeliveryStatus.FAILED
    assert not method.is_enabled
    assert method.disabled_reason == ("Twilio refused the number: invalid 'To' phone number "
                                      "(error 21211).")
    assert page.events.filter(kind=PageEventKind.FAILED, flagged=True).exists()
    client.force_login(ic)
    shown = client.get("/oncall/me/").content.decode()
    assert "invalid &#x27;To&#x27; phone number (error 21211)" in shown
    assert len(twilio.messages()) == 1  # never retried


def test_twilio_refusing_our_own_account_never_disables_anyones_method(ic, settings, twilio):
    ContactMethod.objects.create(user=ic, kind="voice", target=NUMBER)
    settings.TWILIO_AUTH_TOKEN = "wrong" * 6
    page, notification = page_to(ic)
    outcome = paging.deliver(notification.pk)
    assert outcome.startswith("retry in") and "error 20003" in outcome
    assert "not your number" in outcome and "wrong" not in outcome
    assert ContactMethod.objects.get().is_enabled


def test_twilio_unreachable_or_unconfigured_is_retried_not_disabling(ic, settings, twilio):
    ContactMethod.objects.create(user=ic, kind="sms", target=NUMBER)
    page, notification = page_to(ic)
    settings.TWILIO_API_BASE = "http://127.0.0.1:1"  # nothing listens there
    assert "Could not reach Twilio" in paging.deliver(notification.pk)
    settings.TWILIO_ACCOUNT_SID = ""
    outcome = paging.deliver(notification.pk, now=timezone.now() + timedelta(seconds=11))
    assert outcome.startswith("retry in") and "not set up on this server" in outcome
    assert ContactMethod.objects.get().is_enabled
    assert twilio.messages() == []


# --- what managers see -------------------------------------------------------------------

def test_the_admin_says_twilio_is_not_configured_and_what_to_set(manager, client):
    client.force_login(manager)
    page = client.get("/admin/").content.decode()
    assert "SMS and voice (Twilio)" in page
    assert ("Not configured: people cannot add SMS or voice methods. Set TWILIO_ACCOUNT_SID, "
            "TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER") in page


def test_the_admin_shows_twilio_configured_and_its_last_error_never_the_secrets(
        manager, ic, client, twilio):
    ContactMethod.objects.create(user=ic, kind="sms", target=NUMBER)
    client.force_login(manager)
    page = client.get("/admin/").content.decode()
    assert "Configured: sending from <code>+15005550006</code>" in page
    assert "account <code>AC…cdef</code>" in page
    assert "Last error</strong></td><td>none" in page
    assert f"<code>{SITE_URL}/twilio/sms</code>" in page
    assert twilio_fake.AUTH_TOKEN not in page and twilio_fake.ACCOUNT_SID not in page

    page_, notification = page_to(ic)
    twilio.fail_next(21211)
    paging.deliver(notification.pk)
    page = client.get("/admin/").content.decode()
    assert "Twilio refused the number: invalid &#x27;To&#x27; phone number (error 21211)." in page
    assert twilio_fake.AUTH_TOKEN not in page and twilio_fake.ACCOUNT_SID not in page


def test_only_managers_see_the_twilio_state(ic, client, twilio):
    client.force_login(ic)
    assert "twilio-status" not in client.get("/admin/", follow=True).content.decode()
