"""Notification channels: deliver one message to one contact-method target.

Pure delivery, no ORM: the caller records a delivery row before `Channel.send` and
updates it after. `TransientChannelError` means retry with backoff (timeouts, refused
connections, 429, 5xx, SMTP hiccups); `PermanentChannelError` means the target itself
is bad (invalid address, 3xx, 400/401/403/404/410, Slack's "no_service" ...): the caller
disables the contact method and shows the error to its owner. Error messages never hold
a secret nor anything a receiver wrote: URLs appear as scheme://host/…, answers as a
status code and its standard reason ("HTTP 404 Not Found")."""

import hashlib
import hmac
import json
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection, make_msgid
from django.core.validators import URLValidator, validate_email
from django.template.loader import render_to_string

from mindweave_ir import outbound
from mindweave_ir.redaction import redact_url  # also used as channels.redact_url

from . import phone

USER_AGENT = "MindWeave-IR/1 (+notifications)"
# The target is wrong, not the moment: retrying cannot help.
PERMANENT_HTTP_STATUSES = frozenset({400, 401, 403, 404, 410})
# Slack incoming-webhook error bodies that mean the webhook (not our payload) is dead.
# https://api.slack.com/messaging/webhooks#handling_errors
SLACK_PERMANENT_BODIES = frozenset({
    "invalid_token", "no_service", "no_team", "no_active_hooks", "channel_not_found",
    "channel_is_archived", "team_disabled", "action_prohibited", "user_not_found",
})


TEST_PREFIX = "[TEST]"


def marked_test(subject: str) -> str:
    """`subject` with the "[TEST]" prefix, once: what a drill's subjects and titles carry."""
    return subject if subject.startswith(TEST_PREFIX) else f"{TEST_PREFIX} {subject}"


@dataclass(frozen=True)
class Message:
    subject: str  # e.g. "[SEV-1] Checkout API down"; a drill's starts with "[TEST]"
    text: str  # plain-text body (what happened, who is paged, level)
    link: str  # absolute URL of the page/incident record
    ack_url: str  # absolute one-click acknowledgement URL (signed; may be "")
    severity: str  # "SEV-1" .. "SEV-4" or ""
    dedup_key: str
    kind: str = "page"  # "page", "test" (a user's test notification) or "notice"
    # About a test/game-day incident (a drill): real people are reached, and every
    # channel says it is a drill (issue 17 item 6).
    is_test: bool = False
    # SMS and voice (Twilio): the page's code a reply names ("1 42" acknowledges page 42),
    # and the delivery row the provider's callbacks are about ("n12" notification,
    # "x3" notice, "t7" a test of method 7); "" when there is none.
    reply_code: str = ""
    ref: str = ""


class ChannelError(Exception):
    """Delivery failed. `permanent` says whether the target itself is bad."""

    permanent: bool = False


class TransientChannelError(ChannelError):
    """Try again later: the peer is down, slow or rate-limiting."""


class PermanentChannelError(ChannelError):
    """The target is bad: disable the contact method and tell its owner."""

    permanent = True


def _safe_href(url: str) -> str:
    """Only http(s) links make it into an email or chat button."""
    return url if url.lower().startswith(("https://", "http://")) else ""


class Channel:
    """One delivery mechanism; stateless, so a single instance serves every target."""

    kind: str = ""
    label: str = ""

    def validate_target(self, target: str) -> str:
        """Return the normalised target or raise ValidationError with a clear message."""
        raise NotImplementedError

    def send(self, target: str, message: Message, *, secret: str = "") -> str:
        """Deliver `message`; return a short summary of the provider's answer."""
        raise NotImplementedError

    def _checked(self, target: str) -> str:
        # A target that slipped past form validation must never reach the network
        # (urllib would happily open file:// or ftp://).
        try:
            return self.validate_target(target)
        except ValidationError as exc:
            raise PermanentChannelError(" ".join(exc.messages)) from None


class EmailChannel(Channel):
    kind = "email"
    label = "Email"

    def validate_target(self, target: str) -> str:
        value = (target or "").strip()
        if not value:
            raise ValidationError("Enter an email address.")
        validate_email(value)  # Rejects display names, lists and header injection.
        local, _, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"

    def send(self, target: str, message: Message, *, secret: str = "") -> str:
        address = self._checked(target)
        context = {"message": message, "link": _safe_href(message.link),
                   "ack_url": _safe_href(message.ack_url), "is_test": message.kind == "test",
                   "drill": message.is_test}
        # One line, always: a newline in a header is an injection (and Django refuses it).
        subject = " ".join(render_to_string("oncall/email/page_subject.txt", context).split())
        text = render_to_string("oncall/email/page.txt", context)
        html = render_to_string("oncall/email/page.html", context)
        # Our own domain, not make_msgid's default (a slow getfqdn() on some hosts).
        domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "mindweave-ir"
        msgid = make_msgid(domain=domain)
        headers = {"Message-ID": msgid, "Auto-Submitted": "auto-generated"}
        # Django's default EMAIL_TIMEOUT is None (wait forever): never block a worker so.
        connection = get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT or 10)
        email = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [address],
                                       headers=headers, connection=connection)
        email.attach_alternative(html, "text/html")
        try:
            sent = email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = ", ".join(str(code) for code, _ in exc.recipients.values())
            raise PermanentChannelError(f"Mail server refused {address} (SMTP {codes}).") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientChannelError(
                f"Could not hand the email to the mail server: {type(exc).__name__}: {exc}"
            ) from None
        if not sent:
            raise TransientChannelError("The mail backend reported nothing sent.")
        return f"accepted by mail server, Message-ID {msgid}"


class HttpChannel(Channel):
    """Shared by channels that POST JSON to a URL the user gave us.

    Every request goes through mindweave_ir.outbound: internal addresses refused (on
    save here, and again on every send), the checked address connected to, no
    redirects, one timeout. What a user sees of an answer is its status code and reason
    ("HTTP 500 Internal Server Error"), never the receiver's body.
    """

    def validate_target(self, target: str) -> str:
        """The URL, normalised; ValidationError if malformed or internal (resolves it)."""
        value = self._plausible(target)
        try:
            # Before the syntax check, so http://2130706433/ is named for what it is.
            outbound.check_url(value)
        except outbound.RefusedURL as exc:
            raise ValidationError(f"{_sentence(str(exc))}.") from None
        return self._well_formed(value)

    def _checked(self, target: str) -> str:
        # Syntax only: post() resolves and checks the addresses itself, once, and
        # connects to what it checked.
        try:
            return self._well_formed(self._plausible(target))
        except ValidationError as exc:
            raise PermanentChannelError(" ".join(exc.messages)) from None

    @staticmethod
    def _plausible(target: str) -> str:
        value = (target or "").strip()
        if not value:
            raise ValidationError("Enter a URL starting with https:// (or http://).")
        try:
            parts = urlsplit(value)
        except ValueError:  # e.g. an unclosed [IPv6 literal
            raise ValidationError("Enter a valid URL starting with https:// or http://.") \
                from None
        if parts.scheme.lower() not in ("http", "https"):
            raise ValidationError("Enter a valid URL starting with https:// or http://.")
        if "@" in parts.netloc:
            raise ValidationError("Do not put user:password@ in the URL.")
        return value

    @staticmethod
    def _well_formed(value: str) -> str:
        URLValidator(schemes=["https", "http"],
                     message="Enter a valid URL starting with https:// or http://.")(value)
        return value

    # `secret` defaults to none (nothing to scrub from the log), not to a password.
    def post(self, url: str, body: bytes, headers: dict[str, str],
             secret: str = "") -> str:  # nosec B107
        """POST `body`; return e.g. "HTTP 200 OK", or raise a ChannelError."""
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                   **headers}
        timeout = getattr(settings, "NOTIFICATION_HTTP_TIMEOUT", 5)
        where = f"{self.label} endpoint {redact_url(url)}"
        try:
            answer = outbound.post(url, body, headers, timeout=timeout,
                                   redact=(secret,) if secret else ())
        except outbound.RefusedURL as exc:
            raise PermanentChannelError(f"{where} is not allowed: {exc}.") from None
        except outbound.OutboundError as exc:
            error = PermanentChannelError if exc.permanent else TransientChannelError
            raise error(f"{where}: {exc}.") from None
        self.check_response(answer, where)
        return str(answer)

    def check_response(self, answer: outbound.OutboundResponse, where: str) -> None:
        if 200 <= answer.status < 300:
            return
        detail = f"{where} answered {answer}"
        if 300 <= answer.status < 400:
            raise PermanentChannelError(f"{detail} (redirects are not followed: use the final URL)")
        if answer.status in PERMANENT_HTTP_STATUSES:
            raise PermanentChannelError(detail)
        raise TransientChannelError(detail)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


DRILL_NOTE = "TEST: this is about a drill (a test or game-day incident), not a real outage."


def _event(message: Message) -> str:
    return message.kind if message.kind in ("test", "notice") else "page"


def _slack_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackChannel(HttpChannel):
    """Slack (or Slack-compatible) incoming webhook.

    Any http(s) URL is accepted, not only https://hooks.slack.com/...: Mattermost,
    Rocket.Chat and local test receivers speak the same protocol.
    """

    kind = "slack"
    label = "Slack"

    def payload(self, message: Message) -> dict:
        title = _slack_escape(message.subject)
        link = _safe_href(message.link)
        heading = f"*<{_slack_escape(link)}|{title}>*" if link else f"*{title}*"
        if message.kind == "test":
            heading = f"{heading}\n_This is a test notification._"
        elif message.is_test:
            heading = f"{heading}\n_{DRILL_NOTE}_"
        body = f"{heading}\n{_slack_escape(message.text)}"
        blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}}]
        ack = _safe_href(message.ack_url)
        if ack:
            blocks.append({"type": "actions", "elements": [{
                "type": "button", "style": "danger", "url": ack,
                "text": {"type": "plain_text", "text": "Acknowledge"},
            }]})
        fallback = " ".join(p for p in (message.subject, link) if p)
        return {"text": _slack_escape(fallback), "blocks": blocks}

    def send(self, target: str, message: Message, *, secret: str = "") -> str:
        url = self._checked(target)
        body = json.dumps(self.payload(message), separators=(",", ":"), ensure_ascii=False)
        return self.post(url, body.encode("utf-8"), {})

    def check_response(self, answer: outbound.OutboundResponse, where: str) -> None:
        # Only one of Slack's documented codes is named, never other text of the body.
        code = answer.body[:100].decode("ascii", "replace").strip()
        if code in SLACK_PERMANENT_BODIES:
            raise PermanentChannelError(f"{where} answered {answer} (Slack: {code})")
        super().check_response(answer, where)


class WebhookChannel(HttpChannel):
    """Generic JSON webhook, signed with the contact method's secret.

    Receivers verify `X-MindWeave-Signature: sha256=<hex>` = HMAC-SHA256(secret, raw
    body); `sent_at` inside the signed body lets them reject replays. With an empty
    secret the signature header is omitted (an HMAC with an empty key proves nothing).
    """

    kind = "webhook"
    label = "Webhook"

    @staticmethod
    def body(message: Message) -> bytes:
        sent_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        payload = {
            "event": _event(message), "subject": message.subject, "text": message.text,
            "severity": message.severity, "link": message.link, "ack_url": message.ack_url,
            "dedup_key": message.dedup_key, "is_test": message.is_test, "sent_at": sent_at,
        }
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @staticmethod
    def signature(secret: str, body: bytes) -> str:
        return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()

    def send(self, target: str, message: Message, *, secret: str = "") -> str:
        url = self._checked(target)
        body = self.body(message)
        headers = {"X-MindWeave-Event": _event(message)}
        if secret:
            headers["X-MindWeave-Signature"] = self.signature(secret, body)
        return self.post(url, body, headers, secret)


class PhoneChannel(Channel):
    """A phone number reached through Twilio (oncall/phone.py). The number must be E.164
    and Twilio configured on this server; Twilio calls back with the delivery status
    and the person's answer (oncall/replies.py)."""

    def validate_target(self, target: str) -> str:
        number = phone.normalise_number(target)
        if not phone.configured():
            raise ValidationError(phone.NOT_CONFIGURED)
        return number

    def send(self, target: str, message: Message, *, secret: str = "") -> str:
        try:
            number = phone.normalise_number(target)
        except ValidationError as exc:
            raise PermanentChannelError(" ".join(exc.messages)) from None
        if not phone.configured():
            # The server's set-up, not the person's number: retried, never disabling it.
            raise TransientChannelError(phone.NOT_CONFIGURED)
        try:
            sid, status = self.place(number, message)
        except phone.PhoneError as exc:
            error = PermanentChannelError if exc.permanent else TransientChannelError
            raise error(str(exc)) from None
        return f"Twilio {sid} {status}"

    def place(self, number: str, message: Message) -> tuple[str, str]:
        raise NotImplementedError


class SmsChannel(PhoneChannel):
    kind = "sms"
    label = "SMS (Twilio)"

    def place(self, number: str, message: Message) -> tuple[str, str]:
        return phone.send_sms(number, phone.sms_text(message),
                              status_callback=phone.webhook_url("status", message.ref))


class VoiceChannel(PhoneChannel):
    """A call whose words our webhook serves when it is answered (so it can say the page
    was acknowledged meanwhile); without a ref, the words go with the call."""

    kind = "voice"
    label = "Voice call (Twilio)"

    def place(self, number: str, message: Message) -> tuple[str, str]:
        if not message.ref:
            return phone.place_call(number, twiml=phone.call_twiml(phone.spoken(message)))
        return phone.place_call(number, url=phone.webhook_url("voice", message.ref),
                                status_callback=phone.webhook_url("status", message.ref))


CHANNELS: dict[str, Channel] = {
    channel.kind: channel for channel in (EmailChannel(), SlackChannel(), WebhookChannel(),
                                          SmsChannel(), VoiceChannel())
}
KIND_CHOICES: list[tuple[str, str]] = [(kind, ch.label) for kind, ch in CHANNELS.items()]


def channel_for(kind: str) -> Channel:
    try:
        return CHANNELS[kind]
    except KeyError:
        known = ", ".join(CHANNELS)
        raise ValueError(f"Unknown contact-method kind {kind!r}; known kinds: {known}.") from None
