"""Amazon SNS messages (the envelope CloudWatch alarms arrive in): checked, and their
signature verified, before anything about them is stored; and the two requests this
server makes to SNS (the signing certificate, the subscription confirmation). No ORM.

SNS cannot send a header of ours, so the integration token in the URL says which
integration a message is for and the signature says it comes from SNS. In order:
1. The body is a JSON object of a known `Type` (Notification, SubscriptionConfirmation,
   UnsubscribeConfirmation) agreeing with the `x-amz-sns-message-type` header, with
   every field the signature covers (else 400, `SnsInvalid`).
2. `Timestamp` is at most MAX_AGE old (SNS gives up retrying an HTTP/S delivery after
   an hour, a hard limit) and at most MAX_SKEW ahead: an old signed message replayed
   later is refused (403, `SnsRefused`).
3. `SigningCertURL` (and a confirmation's `SubscribeURL`) must be https:// on an SNS
   host: `settings.SNS_HOST_PATTERN`, `sns.<region>.amazonaws.com[.cn]` unless a test
   points it at 127.0.0.1. Nothing is fetched from anywhere else (403).
4. The certificate is fetched from there once and kept in the cache by its URL; it
   must be a PEM X.509 certificate within its validity dates with an RSA key (403).
   A fetch that fails for want of an answer is a 502, so SNS retries the delivery.
5. The signature: RSA PKCS#1 v1.5 over the documented string to sign (each signed
   field's name and value, a newline after each, in that fixed order; `Subject` only
   when present), SHA-1 for SignatureVersion 1, SHA-256 for 2 (403 if it differs).
These URLs are not user-configured (only AWS's own hosts pass 3), so they do not go
through mindweave_ir/outbound.py, which is for URLs people type.
"""

import base64
import binascii
import hashlib
import http.client
import json
import re
import ssl
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core.cache import cache

from .parse import PayloadError

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
SIGNED_FIELDS = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                "TopicArn", "Type"),
}
SIGNED_FIELDS[UNSUBSCRIBE_CONFIRMATION] = SIGNED_FIELDS[SUBSCRIPTION_CONFIRMATION]
OPTIONAL_FIELDS = {"Subject"}
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}  # noqa: S303 - SNS's version 1 is SHA-1
MAX_AGE = timedelta(hours=1, minutes=5)  # SNS's one-hour retry limit, and clock skew
MAX_SKEW = timedelta(minutes=5)
CERT_CACHE_SECONDS = 24 * 3600
HTTP_TIMEOUT = 5.0
MAX_ANSWER_BYTES = 64 * 1024
MAX_URL_LENGTH = 2000
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_SUBSCRIPTION_ARN = re.compile(r"<SubscriptionArn>\s*([^<\s]{1,512})\s*</SubscriptionArn>")


class SnsInvalid(PayloadError):
    """The body is not an SNS message we take (400); `errors` name the fields."""


class SnsRefused(Exception):
    """The message is not shown to come from SNS: bad signature, stale, or a URL off an
    SNS host (403). Also a confirmation SNS answered with a 4xx (permanent)."""


class SnsUnavailable(Exception):
    """SNS did not answer (network, timeout, 5xx): worth trying again later."""


# --- 1-2: the envelope ------------------------------------------------------------------

def _load(body):
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise SnsInvalid(["body is not UTF-8"]) from None
    except RecursionError:
        raise SnsInvalid(["body is nested too deeply"]) from None
    except ValueError as exc:
        raise SnsInvalid([f"body is not valid JSON: {exc}"]) from None


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def parse_envelope(body, *, header_type=None):
    """The SNS message in `body` as a dict of its fields, or SnsInvalid."""
    data = _load(body)
    if not isinstance(data, dict):
        raise SnsInvalid(["the body must be a JSON object (an SNS message)"])
    kind = data.get("Type")
    if not isinstance(kind, str) or kind not in SIGNED_FIELDS:
        raise SnsInvalid(["'Type' must be Notification, SubscriptionConfirmation or "
                          "UnsubscribeConfirmation"])
    if header_type and header_type != kind:
        raise SnsInvalid([f"the x-amz-sns-message-type header ({header_type[:40]!r}) "
                          f"does not match 'Type' ({kind})"])
    errors = []
    for name in (*SIGNED_FIELDS[kind], "SignatureVersion", "Signature", "SigningCertURL"):
        value = data.get(name)
        if name in OPTIONAL_FIELDS and value is None:
            data.pop(name, None)
        elif not isinstance(value, str) or (not value.strip() and name != "Message"):
            errors.append(f"'{name}' is missing or not a string")
    if isinstance(data.get("MessageId"), str) and len(data["MessageId"]) > 100:
        errors.append("'MessageId' is longer than 100 characters")
    if isinstance(data.get("TopicArn"), str) and len(data["TopicArn"]) > 256:
        errors.append("'TopicArn' is longer than 256 characters")
    if isinstance(data.get("SignatureVersion"), str) and data["SignatureVersion"] not in HASHES:
        errors.append("'SignatureVersion' must be 1 or 2")
    if isinstance(data.get("Timestamp"), str) and _timestamp(data["Timestamp"]) is None:
        errors.append("'Timestamp' is not an ISO 8601 time")
    if errors:
        raise SnsInvalid(errors)
    return data


def _timestamp(value):
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def check_fresh(envelope, now):
    """SnsRefused if the message was signed too long ago, or claims the future."""
    signed = _timestamp(envelope["Timestamp"])
    if signed < now - MAX_AGE:
        raise SnsRefused(f"the message is too old (Timestamp {envelope['Timestamp']}; "
                         "SNS retries for at most an hour)")
    if signed > now + MAX_SKEW:
        raise SnsRefused(f"the message's Timestamp {envelope['Timestamp']} is in the future")


# --- 3: the URLs ------------------------------------------------------------------------

def check_sns_url(url, field, *, pem=False):
    """SnsRefused unless `url` is https:// on an SNS host (and, for a certificate, a
    .pem path). Nothing is ever fetched from a URL that fails this."""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH or _CONTROL.search(url):
        raise SnsRefused(f"'{field}' is not a usable URL")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise SnsRefused(f"'{field}' is not a usable URL") from None
    if parts.scheme != "https":
        raise SnsRefused(f"'{field}' must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise SnsRefused(f"'{field}' must not carry a user name or password")
    if not re.fullmatch(settings.SNS_HOST_PATTERN, parts.hostname or ""):
        raise SnsRefused(f"'{field}' is not on an Amazon SNS host "
                         "(https://sns.<region>.amazonaws.com/...)")
    if pem and not parts.path.endswith(".pem"):
        raise SnsRefused(f"'{field}' does not name a .pem certificate")


@lru_cache(maxsize=4)
def _tls_context(cafile):
    """System CAs (or `cafile`, settings.SNS_CA_FILE, for tests), hostname checked."""
    context = ssl.create_default_context(cafile=cafile or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def http_get(url):
    """GET an already checked URL: (status, at most MAX_ANSWER_BYTES of the body).

    One request, no redirects (a 3xx is an answer), TLS verified against the host.
    SnsUnavailable when no HTTP answer came.
    """
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=HTTP_TIMEOUT,
                                       context=_tls_context(settings.SNS_CA_FILE))
    try:
        conn.request("GET", path, headers={"User-Agent": "MindWeave-IR", "Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read(MAX_ANSWER_BYTES)
    except (OSError, http.client.HTTPException) as exc:
        raise SnsUnavailable(f"no answer from {parts.hostname} ({type(exc).__name__})") \
            from None
    finally:
        conn.close()


# --- 4-5: the certificate and the signature ---------------------------------------------

def _cert_cache_key(url):
    return "ingest:sns-cert:" + hashlib.sha256(url.encode()).hexdigest()


def signing_certificate(url, now):
    """The X.509 certificate at SigningCertURL (checked by check_sns_url), fetched once
    and then read from the cache; SnsRefused / SnsUnavailable as the module says."""
    check_sns_url(url, "SigningCertURL", pem=True)
    key = _cert_cache_key(url)
    pem = cache.get(key)
    if pem is None:
        status, pem = http_get(url)
        if status >= 500:
            raise SnsUnavailable(f"the signing certificate's host answered HTTP {status}")
        if status != 200:
            raise SnsRefused(f"SigningCertURL answered HTTP {status}, not a certificate")
        _load_certificate(pem)  # never cache what is not one
        cache.set(key, pem, CERT_CACHE_SECONDS)
    cert = _load_certificate(pem)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise SnsRefused("the signing certificate is expired or not yet valid")
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        raise SnsRefused("the signing certificate does not hold an RSA key")
    return cert


def _load_certificate(pem):
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise SnsRefused("SigningCertURL does not hold a PEM X.509 certificate") from None


def string_to_sign(envelope):
    """What SNS signs: for each signed field of the message's type, in this order, its
    name, a newline, its value, a newline; `Subject` only when the message has one."""
    fields = SIGNED_FIELDS[envelope["Type"]]
    return "".join(f"{name}\n{envelope[name]}\n" for name in fields
                   if name in envelope).encode("utf-8", errors="surrogatepass")


def check_signature(envelope, cert):
    """SnsRefused unless `Signature` is the certificate key's signature of the message."""
    try:
        signature = base64.b64decode(envelope["Signature"], validate=True)
    except (binascii.Error, ValueError):
        raise SnsRefused("'Signature' is not base64") from None
    try:
        cert.public_key().verify(signature, string_to_sign(envelope), padding.PKCS1v15(),
                                 HASHES[envelope["SignatureVersion"]]())
    except InvalidSignature:
        raise SnsRefused("the signature does not match the message") from None


def verified_message(body, *, header_type=None, now):
    """The SNS message in `body`, once 1-5 of the module's rules hold (raises otherwise).

    A confirmation's SubscribeURL is checked here too, so no stored body names a URL
    this server would not visit.
    """
    envelope = parse_envelope(body, header_type=header_type)
    check_fresh(envelope, now)
    if envelope["Type"] != NOTIFICATION:
        check_sns_url(envelope["SubscribeURL"], "SubscribeURL")
    cert = signing_certificate(envelope["SigningCertURL"], now)
    check_signature(envelope, cert)
    return envelope


# --- the subscription -------------------------------------------------------------------

def confirm(subscribe_url):
    """Visit a SubscriptionConfirmation's SubscribeURL (SNS's ConfirmSubscription);
    returns the SubscriptionArn SNS answered with ("" if it named none).

    SnsRefused for a 4xx (an expired or used token: retrying cannot help),
    SnsUnavailable for no answer or a 5xx.
    """
    check_sns_url(subscribe_url, "SubscribeURL")
    status, answer = http_get(subscribe_url)
    if status >= 500:
        raise SnsUnavailable(f"SNS answered HTTP {status} to the confirmation")
    if not 200 <= status < 300:
        raise SnsRefused(f"SNS refused the confirmation with HTTP {status} (the link "
                         "expires after 3 days; request a new confirmation in SNS)")
    found = _SUBSCRIPTION_ARN.search(answer.decode("utf-8", errors="replace"))
    return found.group(1)[:512] if found else ""

