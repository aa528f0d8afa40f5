"""Notification channels: deliver one message to one contact-method target.

Pure delivery, no ORM: the caller records a delivery row before `Channel.send` and
updates it after. `TransientChannelError` means retry with backoff (timeouts, refused
connections, 429, 5xx, SMTP hiccups); `PermanentChannelError` means the target itself
is bad (invalid address, 3xx, 400/401/403/404/410, Slack's "no_service" ...): the caller
disables the contact method and shows the error to its owner. Error messages never hold
a secret: URLs appear as scheme://host/… and echoed bodies are scrubbed."""

import hashlib
import hmac
import json
import logging
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from http.client import HTTPException
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection, make_msgid
from django.core.validators import URLValidator, validate_email
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

USER_AGENT = "MindWeave-IR/1 (+notifications)"
EXCERPT_CHARS = 200
# The target is wrong, not the moment: retrying cannot help.
PERMANENT_HTTP_STATUSES = frozenset({400, 401, 403, 404, 410})
# Slack incoming-webhook error bodies that mean the webhook (not our payload) is dead.
# https://api.slack.com/messaging/webhooks#handling_errors
SLACK_PERMANENT_BODIES = frozenset({
    "invalid_token", "no_service", "no_team", "no_active_hooks", "channel_not_found",
    "channel_is_archived", "team_disabled", "action_prohibited", "user_not_found",
})


@dataclass(frozen=True)
class Message:
    subject: str  # e.g. "[SEV-1] Checkout API down"
    text: str  # plain-text body (what happened, who is paged, level)
    link: str  # absolute URL of the page/incident record
    ack_url: str  # absolute one-click acknowledgement URL (signed; may be "")
    severity: str  # "SEV-1" .. "SEV-4" or ""
    dedup_key: str
    kind: str = "page"  # "page", "test" (a user's test notification) or "notice"


class ChannelError(Exception):
    """Delivery failed. `permanent` says whether the target itself is bad."""

    permanent: bool = False


class TransientChannelError(ChannelError):
    """Try again later: the peer is down, slow or rate-limiting."""


class PermanentChannelError(ChannelError):
    """The target is bad: disable the contact method and tell its owner."""

    permanent = True


def redact_url(url: str) -> str:
    """Show where a URL points without its path, query or credentials (they hold tokens)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    tail = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{tail}"


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
                   "ack_url": _safe_href(message.ack_url), "is_test": message.kind == "test"}
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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # Surface the 3xx as an HTTPError; a POST is never replayed elsewhere.


def _build_opener() -> urllib.request.OpenerDirector:
    """HTTP(S) only, no redirects: no file://, ftp:// or data: handlers at all."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(), urllib.request.UnknownHandler(),
        urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(), _NoRedirect(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


_opener = _build_opener()


class HttpChannel(Channel):
    """Shared by channels that POST JSON to a URL the user gave us."""

    def validate_target(self, target: str) -> str:
        value = (target or "").strip()
        if not value:
            raise ValidationError("Enter a URL starting with https:// (or http://).")
        URLValidator(schemes=["https", "http"],
                     message="Enter a valid URL starting with https:// or http://.")(value)
        if "@" in urlsplit(value).netloc:
            raise ValidationError("Do not put user:password@ in the URL.")
        return value

    # `secret` defaults to none (nothing to scrub from answers), not to a password.
    def post(self, url: str, body: bytes, headers: dict[str, str],
             secret: str = "") -> str:  # nosec B107
        """POST `body`; return "HTTP <status> <excerpt>" or raise a ChannelError."""
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                   **headers}
        # S310: the scheme was checked by validate_target and _opener only speaks HTTP(S).
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
        timeout = getattr(settings, "NOTIFICATION_HTTP_TIMEOUT", 5)
        where = f"{self.label} endpoint {redact_url(url)}"
        try:
            with _opener.open(request, timeout=timeout) as response:
                status = response.status
                excerpt = self._excerpt(response.read(EXCERPT_CHARS * 4), url, secret)
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                excerpt = self._excerpt(exc.read(EXCERPT_CHARS * 4), url, secret)
            except (OSError, HTTPException):
                excerpt = ""
            finally:
                exc.close()
        except (OSError, HTTPException) as exc:  # URLError, timeouts, refused, resets
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(reason, TimeoutError):
                raise TransientChannelError(f"{where} timed out after {timeout} s.") from None
            raise TransientChannelError(f"{where} unreachable: {reason}") from None
        except ValueError as exc:  # http.client.InvalidURL, non-ASCII host ...
            raise PermanentChannelError(f"{where} is not a usable URL: {exc}") from None
        self.check_response(status, excerpt, where)
        logger.info("%s answered HTTP %s", where, status)
        return f"HTTP {status} {excerpt[:80]}".strip()

    def check_response(self, status: int, excerpt: str, where: str) -> None:
        if 200 <= status < 300:
            return
        detail = f"{where} answered HTTP {status}" + (f": {excerpt}" if excerpt else "")
        if 300 <= status < 400:
            raise PermanentChannelError(f"{detail} (redirects are not followed: use the final URL)")
        if status in PERMANENT_HTTP_STATUSES:
            raise PermanentChannelError(detail)
        raise TransientChannelError(detail)

    @staticmethod
    def _excerpt(raw: bytes, url: str, secret: str) -> str:
        """A short printable excerpt, with the URL's path and the secret scrubbed."""
        text = " ".join(raw.decode("utf-8", "replace").split())
        path = urlsplit(url).path
        for needle in (url, path if len(path) > 1 else "", secret):
            if needle:
                text = text.replace(needle, "…")
        return text[:EXCERPT_CHARS]


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

    def check_response(self, status: int, excerpt: str, where: str) -> None:
        if excerpt.strip() in SLACK_PERMANENT_BODIES:
            raise PermanentChannelError(f"{where} answered HTTP {status}: {excerpt.strip()}")
        super().check_response(status, excerpt, where)


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
            "dedup_key": message.dedup_key, "sent_at": sent_at,
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


CHANNELS: dict[str, Channel] = {
    channel.kind: channel for channel in (EmailChannel(), SlackChannel(), WebhookChannel())
}
KIND_CHOICES: list[tuple[str, str]] = [(kind, ch.label) for kind, ch in CHANNELS.items()]


def channel_for(kind: str) -> Channel:
    try:
        return CHANNELS[kind]
    except KeyError:
        known = ", ".join(CHANNELS)
        raise ValueError(f"Unknown contact-method kind {kind!r}; known kinds: {known}.") from None
