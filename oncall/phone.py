"""SMS and voice through Twilio: configuration, phone numbers, what is texted and said,
the two REST calls and the webhook signature check. Pure: no ORM. channels.py sends
through it; oncall/replies.py and views/phone.py answer Twilio's webhooks with it.

Numbers are E.164 (+ country code and number, 8 to 15 digits), checked with a strict
pattern rather than the `phonenumbers` library: Twilio is the authority on whether a
number exists (its error 21211 disables the method, visibly), and what we must
refuse on save is a number Twilio could never take (no country code, letters, a
leading 0), which a pattern says as clearly without a 10 MB dependency.

Errors: `PhoneError.permanent` is True only when the *number* is bad (Twilio's codes
for an invalid, unreachable, landline or opted-out number); Twilio refusing our own
account or sender (20003 bad credentials, 21606 bad From ...) is the operator's
problem, retried and then failed without disabling anyone's method.
"""

import re

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

SETTINGS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")
NOT_CONFIGURED = ("SMS and voice are not set up on this server (Twilio is not configured: "
                  "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER). Ask an "
                  "administrator, or use e-mail, Slack or a webhook.")
E164 = re.compile(r"\+[1-9]\d{7,14}")
SPACING = re.compile(r"[\s().\-/]")  # what people type between digits: dropped

# Twilio error codes that mean the destination number itself is bad: retrying cannot
# help. https://www.twilio.com/docs/api/errors
BAD_NUMBER_CODES = {
    13223: "invalid phone number format",
    13224: "invalid phone number",
    21211: "invalid 'To' phone number",
    21214: "'To' number cannot be reached",
    21216: "number is blocked by Twilio",
    21217: "phone number does not appear to be valid",
    21401: "invalid phone number",
    21407: "number type does not support SMS",
    21610: "the number replied STOP (unsubscribed from this sender)",
    21612: "number is not reachable by SMS",
    21614: "'To' number is not a valid mobile number",
}

# Twilio's delivery states, rank ordered: a late callback never moves a row backwards.
# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
FINAL_PROBLEMS = {"failed", "undelivered", "busy", "no-answer", "canceled"}
STATUS_RANK = {
    "accepted": 0, "scheduled": 0, "queued": 1, "initiated": 2, "sending": 2, "ringing": 3,
    "sent": 4, "in-progress": 5, "delivered": 6, "read": 7, "completed": 7,
    "failed": 8, "undelivered": 8, "busy": 8, "no-answer": 8, "canceled": 8,
}


class PhoneError(Exception):
    """Twilio did not take the message; `permanent` when the number itself is bad."""

    def __init__(self, text, *, permanent=False):
        super().__init__(text)
        self.permanent = permanent


# --- configuration and numbers --------------------------------------------------------

def missing_settings():
    return [name for name in SETTINGS if not getattr(settings, name, "")]


def configured():
    return not missing_settings()


def normalise_number(value):
    """The number in E.164 (+15551234567), or ValidationError saying how to write it."""
    number = SPACING.sub("", (value or "").strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    if not E164.fullmatch(number):
        raise ValidationError(
            "Enter the number in international (E.164) format: + then the country code "
            "and number, 8 to 15 digits, e.g. +15551234567 or +44 20 7946 0958.")
    return number


def masked_sid(sid):
    """An account SID as shown to managers: AC…1234 (never the auth token)."""
    return f"{sid[:2]}…{sid[-4:]}" if len(sid) > 8 else "set"


# --- what is texted and said ------------------------------------------------------------

def sms_text(message):
    """A short SMS: what is paged, a drill said so, how to answer by reply, the link."""
    lines = [message.subject[:160]]
    if message.kind == "test":
        lines.append("Test notification: if you can read it, paging reaches you by SMS.")
    elif message.is_test:
        lines.append("TEST: a drill, not a real outage.")
    if message.kind == "notice":
        lines.append(message.text[:300])
    if message.reply_code:
        code = message.reply_code
        lines.append(f"Reply 1 {code} to ack, 2 {code} to escalate.")
    if message.link:
        lines.append(message.link)
    return "\n".join(lines)


def spoken(message):
    """What a call says before any key is pressed."""
    if message.kind == "test":
        return ("This is a MindWeave I R test call. If you can hear this, paging reaches "
                "you by phone. Goodbye.")
    subject = message.subject.removeprefix("[TEST]").strip()
    drill = "This is a drill, not a real outage. " if message.is_test else ""
    kind = "notice" if message.kind == "notice" else "page"
    text = f" {message.text[:400]}" if message.kind == "notice" else ""
    return f"MindWeave I R {kind}. {drill}{subject}.{text}"


def call_twiml(say, *, gather_url=""):
    """TwiML for a call: say `say`; with `gather_url`, wait for one key and post it there."""
    response = VoiceResponse()
    if not gather_url:
        response.say(say)
        response.hangup()
        return str(response)
    gather = Gather(num_digits=1, action=gather_url, method="POST", timeout=10)
    gather.say(f"{say} Press 1 to acknowledge. Press 2 to escalate now.")
    response.append(gather)
    response.say("No key was pressed. The page is still open. Goodbye.")
    response.hangup()
    return str(response)


def said_twiml(say):
    response = VoiceResponse()
    response.say(say)
    response.hangup()
    return str(response)


def sms_twiml(text):
    response = MessagingResponse()
    response.message(text)
    return str(response)


# --- webhooks ---------------------------------------------------------------------------

def webhook_url(name, ref=""):
    """Absolute URL of one of our Twilio webhooks ("sms", "voice", "status"), as Twilio
    calls it; `ref` names the delivery row it is about (e.g. n12). Twilio signs the
    full URL, so the ref cannot be altered on the way back."""
    url = settings.SITE_URL + reverse(f"twilio-{name}")
    return f"{url}?ref={ref}" if ref else url


def signed_by_twilio(url, params, signature):
    """True if X-Twilio-Signature is Twilio's for this URL and these POST parameters."""
    token = getattr(settings, "TWILIO_AUTH_TOKEN", "")
    if not token or not signature:
        return False
    return RequestValidator(token).validate(url, params, signature)


# --- the REST calls ------------------------------------------------------------------------

def _client():
    # A new client (and session) per send: the paging engine sends from many threads, and
    # a requests Session is not thread-safe. The base URL is operator configuration, not
    # user input, so this does not go through mindweave_ir.outbound.
    http = TwilioHttpClient(pool_connections=False,
                            timeout=getattr(settings, "NOTIFICATION_HTTP_TIMEOUT", 5))
    client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)
    client.api.base_url = settings.TWILIO_API_BASE
    return client


def _error(exc):
    """A PhoneError for a Twilio REST refusal: permanent only for a bad number."""
    reason = " ".join(str(exc.msg or "").split())[:200]
    if exc.code in BAD_NUMBER_CODES:
        return PhoneError(f"Twilio refused the number: {BAD_NUMBER_CODES[exc.code]} "
                          f"(error {exc.code}).", permanent=True)
    if exc.status == 429 or exc.status >= 500:
        return PhoneError(f"Twilio is busy or failing (HTTP {exc.status}"
                          f"{', error ' + str(exc.code) if exc.code else ''}); will retry.")
    return PhoneError(f"Twilio refused the request (HTTP {exc.status}, error {exc.code}: "
                      f"{reason}). This is the server's Twilio set-up, not your number.")


def _call_twilio(make):
    try:
        return make(_client())
    except TwilioRestException as exc:
        raise _error(exc) from None
    except (requests.RequestException, TwilioException, ValueError) as exc:
        raise PhoneError(f"Could not reach Twilio: {type(exc).__name__}.") from None


def send_sms(to, body, *, status_callback=""):
    """Hand an SMS to Twilio; (its SID, its status, e.g. "queued")."""
    sent = _call_twilio(lambda client: client.messages.create(
        to=to, from_=settings.TWILIO_FROM_NUMBER, body=body,
        status_callback=status_callback or values.unset))
    return sent.sid, sent.status


def place_call(to, *, url="", twiml="", status_callback=""):
    """Ask Twilio to call `to`; it fetches `url` for what to say (or uses `twiml`)."""
    placed = _call_twilio(lambda client: client.calls.create(
        to=to, from_=settings.TWILIO_FROM_NUMBER, url=url or values.unset,
        twiml=twiml or values.unset, status_callback=status_callback or values.unset))
    return placed.sid, placed.status
