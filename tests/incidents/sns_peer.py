"""A stand-in for Amazon SNS on 127.0.0.1, for the CloudWatch tests: it signs messages
exactly as SNS does and serves, over HTTPS, the signing certificate and the
subscription confirmation.

The keys and certificates are made here with `cryptography`: one RSA key and
self-signed certificate that sign messages (what SNS's SigningCertURL serves), and one
for the server's TLS (a self-signed certificate for 127.0.0.1 that the tests trust
through settings.SNS_CA_FILE). The string to sign is written out here from SNS's
documentation, not taken from the code under test.
"""

import base64
import ipaddress
import json
import ssl
import threading
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

TOPIC = "arn:aws:sns:eu-west-1:123456789012:cloudwatch-alarms"
SUBSCRIPTION = TOPIC + ":5f2c7f3a-1d7e-4a55-9d3a-2b7f0c1e9a11"
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                       "TopicArn", "Type")
CONFIRM_ANSWER = ("<ConfirmSubscriptionResponse xmlns=\"http://sns.amazonaws.com/doc/"
                  "2010-03-31/\"><ConfirmSubscriptionResult><SubscriptionArn>"
                  f"{SUBSCRIPTION}</SubscriptionArn></ConfirmSubscriptionResult>"
                  "</ConfirmSubscriptionResponse>")


# Wide validity: OpenSSL checks the TLS certificate against the real clock, and
# `make test-clock` moves Python's (the app's) clock away from it by up to years.
VALID_FROM, VALID_UNTIL = datetime(2000, 1, 1, tzinfo=UTC), datetime(2099, 12, 31, tzinfo=UTC)


def _certificate(key, common_name, *, ip=None, until=VALID_UNTIL):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(VALID_FROM).not_valid_after(until)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=True, key_cert_sign=True, crl_sign=True,
                   content_commitment=False, key_encipherment=True, data_encipherment=False,
                   key_agreement=False, encipher_only=False, decipher_only=False),
                   critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   key.public_key()), critical=False))
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False)
    return builder.sign(key, hashes.SHA256())


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


@cache
def signing_keys():
    """(private key, certificate PEM) SNS signs with."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, _pem(_certificate(key, "sns.eu-west-1.amazonaws.com"))


@cache
def other_signing_keys():
    """Another key and certificate: what a forger has."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, _pem(_certificate(key, "forger.example"))


def expired_signing_keys():
    """The signing key with a certificate that expired a month ago (by the app's clock)."""
    key, _ = signing_keys()
    return key, _pem(_certificate(key, "sns.eu-west-1.amazonaws.com",
                                  until=datetime.now(UTC) - timedelta(days=30)))


@cache
def tls_keys():
    """(key PEM, certificate PEM) of the local server, a certificate for 127.0.0.1."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return key_pem, _pem(_certificate(key, "127.0.0.1", ip="127.0.0.1"))


def string_to_sign(message):
    """SNS's documented string to sign: name, newline, value, newline, per field."""
    names = NOTIFICATION_FIELDS if message["Type"] == "Notification" else CONFIRMATION_FIELDS
    return "".join(f"{name}\n{message[name]}\n" for name in names if name in message)


def sign(message, *, version="2", key=None):
    """Sign `message` in place the way SNS does (SignatureVersion 1: SHA1withRSA, 2:
    SHA256withRSA, base64)."""
    key = key or signing_keys()[0]
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303
    message["SignatureVersion"] = version
    message["Signature"] = base64.b64encode(
        key.sign(string_to_sign(message).encode("utf-8", "surrogatepass"), padding.PKCS1v15(),
                 digest)).decode()
    return message


def sns_time(when):
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{when.microsecond // 1000:03d}Z"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        server.requests.append(self.path)
        if urlsplit(self.path).path.endswith(".pem"):
            status, body = server.cert_status, server.cert_pem
        else:
            status, body = server.confirm_status, CONFIRM_ANSWER.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class FakeSns(ThreadingHTTPServer):
    """The SNS host: GET /...pem serves the signing certificate, GET /?Action=
    ConfirmSubscription&... confirms. `requests` lists every path asked for."""

    daemon_threads = True

    def __init__(self, ca_file):
        super().__init__(("127.0.0.1", 0), _Handler)
        key_pem, cert_pem = tls_keys()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        key_file = ca_file.with_name("tls-key.pem")
        key_file.write_bytes(key_pem)
        ca_file.write_bytes(cert_pem)
        context.load_cert_chain(str(ca_file), str(key_file))
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.requests = []
        self.cert_pem, self.cert_status, self.confirm_status = signing_keys()[1], 200, 200
        self.thread = threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True)

    def handle_error(self, request, client_address):
        pass  # a client refusing our certificate (a test of that) is expected

    @property
    def base(self):
        return f"https://127.0.0.1:{self.server_address[1]}"

    def cert_url(self, name="SimpleNotificationService-0000000000000000000000.pem"):
        return f"{self.base}/{name}"

    def cert_requests(self):
        return [path for path in self.requests if urlsplit(path).path.endswith(".pem")]

    def confirmations(self):
        return [parse_qs(urlsplit(path).query) for path in self.requests
                if "Action=ConfirmSubscription" in path]

    # --- messages, as SNS would send them -------------------------------------------

    def notification(self, alarm, *, version="2", when=None, message_id=None, key=None,
                     cert_url=None, subject="ALARM: \"checkout-5xx\" in EU (Ireland)"):
        message = {
            "Type": "Notification", "MessageId": message_id or str(uuid.uuid4()),
            "TopicArn": TOPIC, "Subject": subject,
            "Message": alarm if isinstance(alarm, str) else json.dumps(alarm),
            "Timestamp": sns_time(when or datetime.now(UTC)),
            "SigningCertURL": cert_url or self.cert_url(),
            "UnsubscribeURL": f"{self.base}/?Action=Unsubscribe&SubscriptionArn={SUBSCRIPTION}",
        }
        if subject is None:
            del message["Subject"]
        return sign(message, version=version, key=key)

    def confirmation(self, kind="SubscriptionConfirmation", *, version="2", when=None,
                     subscribe_url=None):
        token = "2336412f37fb687f5d51e6e2425f004aed6d4e2d8a" + uuid.uuid4().hex
        message = {
            "Type": kind, "MessageId": str(uuid.uuid4()), "Token": token, "TopicArn": TOPIC,
            "Message": f"You have chosen to subscribe to the topic {TOPIC}.\n"
                       "To confirm the subscription, visit the SubscribeURL included in "
                       "this message.",
            "SubscribeURL": subscribe_url or (f"{self.base}/?Action=ConfirmSubscription"
                                              f"&TopicArn={TOPIC}&Token={token}"),
            "Timestamp": sns_time(when or datetime.now(UTC)),
            "SigningCertURL": self.cert_url(),
        }
        return sign(message, version=version)
