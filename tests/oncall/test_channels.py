"""Notification channels against real peers on 127.0.0.1.

An aiosmtpd server stands in for the mail relay and a ThreadingHTTPServer for Slack
and webhook receivers; nothing is mocked. No database is needed.
"""

import hashlib
import hmac
import json
import time

import pytest
from django.core.exceptions import ValidationError

from oncall.channels import (
    CHANNELS,
    KIND_CHOICES,
    ChannelError,
    EmailChannel,
    Message,
    PermanentChannelError,
    SlackChannel,
    TransientChannelError,
    WebhookChannel,
    channel_for,
)
from tests.oncall.conftest import free_port

SECRET = "whsec-do-not-leak-0123456789"
SLACK_PATH = "/services/T0001/B0002/SlackTokenDoNotLeak"


def make_message(**overrides):
    values = {
        "subject": "[SEV-1] Checkout API down",
        "text": "Checkout returns 500 for 40% of requests.\nPaged: ic (level 1).",
        "link": "https://ir.example.com/oncall/pages/7/",
        "ack_url": "https://ir.example.com/oncall/ack/7/signed-token/",
        "severity": "SEV-1",
        "dedup_key": "INC-2025-0001:page:7",
    }
    values.update(overrides)
    return Message(**values)


# --- Registry -------------------------------------------------------------


def test_registry_is_keyed_by_contact_method_kind():
    assert set(CHANNELS) == {"email", "slack", "webhook", "sms", "voice"}
    assert dict(KIND_CHOICES) == {"email": "Email", "slack": "Slack", "webhook": "Webhook",
                                  "sms": "SMS (Twilio)", "voice": "Voice call (Twilio)"}
    assert isinstance(channel_for("webhook"), WebhookChannel)


def test_unknown_kind_raises_value_error_naming_the_kind():
    with pytest.raises(ValueError, match="'pager'"):
        channel_for("pager")


def test_error_classes_say_whether_the_target_is_bad():
    assert PermanentChannelError("x").permanent is True
    assert TransientChannelError("x").permanent is False
    assert issubclass(PermanentChannelError, ChannelError)


# --- Validation -----------------------------------------------------------


def test_email_target_is_normalised():
    assert EmailChannel().validate_target("  Alice@Example.COM ") == "Alice@example.com"


@pytest.mark.parametrize("target", [
    "", "   ", "alice", "alice@", "Alice <alice@example.com>",
    "a@example.com, b@example.com", "alice@example.com\nBcc: eve@example.com",
])
def test_email_target_rejects_non_addresses(target):
    with pytest.raises(ValidationError):
        EmailChannel().validate_target(target)


@pytest.mark.parametrize("channel", [SlackChannel(), WebhookChannel()])
@pytest.mark.parametrize("target", [
    "", "ftp://example.com/hook", "javascript:alert(1)", "file:///etc/passwd",
    "example.com/hook", "https://", "https://user:pw@example.com/hook", "http://[::1",
])
def test_url_target_rejects_non_http_urls(channel, target):
    with pytest.raises(ValidationError):
        channel.validate_target(target)


@pytest.mark.parametrize("channel", [SlackChannel(), WebhookChannel()])
def test_url_target_accepts_http_and_https(channel):
    assert channel.validate_target(" https://hooks.slack.com/services/T/B/X ") == (
        "https://hooks.slack.com/services/T/B/X"
    )
    assert channel.validate_target("http://127.0.0.1:8080/hook") == "http://127.0.0.1:8080/hook"


def test_send_to_an_invalid_target_is_permanent_and_touches_no_network():
    with pytest.raises(PermanentChannelError):
        WebhookChannel().send("file:///etc/passwd", make_message())


# --- Email ----------------------------------------------------------------


def test_email_is_delivered_with_subject_body_and_ack_link(smtp_server):
    summary = EmailChannel().send("oncall@example.com", make_message())

    assert "Message-ID" in summary
    [(recipients, mail)] = smtp_server.messages
    assert recipients == ["oncall@example.com"]
    assert mail["Subject"] == "[SEV-1] Checkout API down"
    assert mail["Auto-Submitted"] == "auto-generated"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Checkout API down" in part
        assert "SEV-1" in part
        assert "https://ir.example.com/oncall/ack/7/signed-token/" in part
        assert "https://ir.example.com/oncall/pages/7/" in part
    assert "Checkout returns 500 for 40% of requests." in text
    assert 'href="https://ir.example.com/oncall/ack/7/signed-token/"' in html
    assert ">Acknowledge</a>" in html
    assert "<img" not in html and "@import" not in html and "<link" not in html


def test_email_html_escapes_everything_and_text_stays_raw(smtp_server):
    message = make_message(
        subject='<script>alert("s")</script> & co',
        text="<b>bold</b> & 'quoted'",
        link="javascript:alert(1)",
    )
    EmailChannel().send("oncall@example.com", message)

    [(_, mail)] = smtp_server.messages
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;bold&lt;/b&gt; &amp;" in html
    assert "javascript:" not in html
    assert "<b>bold</b> & 'quoted'" in text
    assert mail["Subject"] == '<script>alert("s")</script> & co'


def test_test_notification_email_says_it_is_a_test(smtp_server):
    EmailChannel().send("oncall@example.com", make_message(kind="test", ack_url=""))

    [(_, mail)] = smtp_server.messages
    assert mail["Subject"].startswith("[TEST] ")
    assert "test notification" in mail.get_body(("plain",)).get_content()
    assert "Acknowledge" not in mail.get_body(("html",)).get_content()


def test_test_subject_is_not_prefixed_twice(smtp_server):
    EmailChannel().send("oncall@example.com", make_message(kind="test", subject="[TEST] Hi"))

    assert smtp_server.messages[0][1]["Subject"] == "[TEST] Hi"


def test_refused_recipient_is_permanent(smtp_server):
    with pytest.raises(PermanentChannelError, match="550"):
        EmailChannel().send("nobody@example.com", make_message())
    assert smtp_server.messages == []


def test_unreachable_mail_server_is_transient(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 1
    with pytest.raises(TransientChannelError):
        EmailChannel().send("oncall@example.com", make_message())


# --- Slack ----------------------------------------------------------------


def test_slack_posts_text_and_blocks_with_ack_button(receiver):
    summary = SlackChannel().send(receiver.url(SLACK_PATH), make_message())

    assert summary == "HTTP 200 OK"  # the standard reason: nothing the receiver wrote
    [request] = receiver.requests
    assert request["path"] == SLACK_PATH
    assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"
    payload = json.loads(request["body"])
    assert payload["text"].startswith("[SEV-1] Checkout API down")
    section, actions = payload["blocks"]
    assert "<https://ir.example.com/oncall/pages/7/|[SEV-1] Checkout API down>" in (
        section["text"]["text"]
    )
    assert actions["elements"][0]["url"] == "https://ir.example.com/oncall/ack/7/signed-token/"


def test_slack_escapes_control_characters_in_user_text(receiver):
    SlackChannel().send(receiver.url(), make_message(text="<!channel> a & b", ack_url=""))

    payload = json.loads(receiver.requests[0]["body"])
    assert "&lt;!channel&gt; a &amp; b" in payload["blocks"][0]["text"]["text"]
    assert len(payload["blocks"]) == 1  # no ack button without an ack URL


@pytest.mark.parametrize(("status", "body"), [
    (403, "invalid_token"), (404, "no_service"), (410, "channel_is_archived"),
    (200, "channel_not_found"),
])
def test_slack_dead_webhook_bodies_are_permanent(receiver, status, body):
    receiver.answer(status, body)
    with pytest.raises(PermanentChannelError, match=body):
        SlackChannel().send(receiver.url(SLACK_PATH), make_message())


def test_slack_error_never_shows_the_webhook_path(receiver):
    receiver.answer(404, f"Not found: {SLACK_PATH}")
    with pytest.raises(PermanentChannelError) as caught:
        SlackChannel().send(receiver.url(SLACK_PATH), make_message())

    text = str(caught.value)
    assert "SlackTokenDoNotLeak" not in text and "T0001" not in text
    assert f"http://127.0.0.1:{receiver.server_address[1]}/…" in text
    assert "404" in text


# --- Webhook --------------------------------------------------------------


def test_webhook_body_is_signed_with_the_secret(receiver):
    WebhookChannel().send(receiver.url(), make_message(), secret=SECRET)

    [request] = receiver.requests
    raw = request["body"]
    expected = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    signature = request["headers"]["X-MindWeave-Signature"]
    assert hmac.compare_digest(signature, f"sha256={expected}")
    assert request["headers"]["X-MindWeave-Event"] == "page"
    payload = json.loads(raw.decode("utf-8"))
    assert set(payload) == {"event", "subject", "text", "severity", "link", "ack_url",
                            "dedup_key", "is_test", "sent_at"}
    assert payload["event"] == "page"
    assert payload["dedup_key"] == "INC-2025-0001:page:7"
    assert payload["sent_at"].endswith("Z")
    compact = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert raw == compact


def test_webhook_test_event_and_utf8_body(receiver):
    WebhookChannel().send(receiver.url(), make_message(kind="test", text="Zürich ✓"),
                          secret=SECRET)

    request = receiver.requests[0]
    assert request["headers"]["X-MindWeave-Event"] == "test"
    assert "Zürich ✓".encode() in request["body"]
    assert json.loads(request["body"])["event"] == "test"


def test_webhook_without_secret_is_sent_unsigned(receiver):
    WebhookChannel().send(receiver.url(), make_message())

    assert "X-MindWeave-Signature" not in receiver.requests[0]["headers"]


@pytest.mark.parametrize(("status", "reason"), [
    (400, "Bad Request"), (401, "Unauthorized"), (403, "Forbidden"), (404, "Not Found"),
    (410, "Gone"),
])
def test_bad_target_statuses_are_permanent_and_never_echo_the_body(receiver, status, reason):
    receiver.answer(status, "go away")
    with pytest.raises(PermanentChannelError, match=f"answered HTTP {status} {reason}$") as caught:
        WebhookChannel().send(receiver.url(), make_message(), secret=SECRET)
    assert "go away" not in str(caught.value)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_busy_or_broken_receiver_is_transient(receiver, status):
    receiver.answer(status, "try later")
    with pytest.raises(TransientChannelError, match=f"HTTP {status}"):
        WebhookChannel().send(receiver.url(), make_message(), secret=SECRET)


def test_redirect_is_not_followed(receiver):
    receiver.answer(301, "", headers={"Location": receiver.url("/elsewhere")})
    with pytest.raises(PermanentChannelError, match="redirects are not followed"):
        WebhookChannel().send(receiver.url(), make_message())
    assert [r["path"] for r in receiver.requests] == ["/hook"]


def test_slow_receiver_times_out_as_transient(receiver, settings):
    settings.NOTIFICATION_HTTP_TIMEOUT = 1
    receiver.answer(200, "ok", delay=5)
    started = time.monotonic()
    with pytest.raises(TransientChannelError, match="timed out"):
        WebhookChannel().send(receiver.url(), make_message())
    assert time.monotonic() - started < 2.5


def test_closed_port_is_transient():
    url = f"http://127.0.0.1:{free_port()}/hook/token-do-not-leak"
    with pytest.raises(TransientChannelError) as caught:
        WebhookChannel().send(url, make_message(), secret=SECRET)
    assert "token-do-not-leak" not in str(caught.value)


def test_webhook_error_hides_secret_and_url_path(receiver):
    path = "/hooks/abc/token-do-not-leak"
    receiver.answer(500, f"bad signature for key {SECRET} at {receiver.url(path)} {path}")
    with pytest.raises(TransientChannelError) as caught:
        WebhookChannel().send(receiver.url(path) + "?key=qs-token", make_message(),
                              secret=SECRET)

    text = str(caught.value)
    assert SECRET not in text
    assert "token-do-not-leak" not in text
    assert "qs-token" not in text
