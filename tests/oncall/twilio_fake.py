"""A fake Twilio on 127.0.0.1: the slice of the REST API that oncall/phone.py uses, and
webhooks signed exactly as Twilio signs them. The `twilio` library's own Client talks to
it (settings.TWILIO_API_BASE) and its own RequestValidator signs what the tests post.

POST /2010-04-01/Accounts/{AccountSid}/Messages.json and /Calls.json, with HTTP Basic
auth (account SID, auth token), form-encoded parameters, and the JSON answers Twilio
gives: 201 with the new resource, 401 error 20003 on bad credentials, and the errors a
test queues with `fail_next` (429 error 20429, 400 error 21211 ...).
"""

import base64
import json
import secrets
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f" * 8 + "0123456789abcdef" + "e" * 8  # 32 characters, as Twilio's
FROM_NUMBER = "+15005550006"
SITE_URL = "https://ir.example.com"

ERRORS = {
    20003: (401, "Authenticate"),
    20429: (429, "Too Many Requests"),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21606: (400, "The 'From' phone number provided is not a valid message-capable Twilio "
                 "phone number for this destination/account."),
}


def _error_body(code, to=""):
    status, message = ERRORS[code]
    return status, {"code": code, "message": message.format(to=to),
                    "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        params = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(raw).items()}
        prefix = f"/2010-04-01/Accounts/{ACCOUNT_SID}/"
        resource = self.path.removeprefix(prefix) if self.path.startswith(prefix) else ""
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        with fake.lock:
            fake.requests.append({"path": self.path, "params": params,
                                  "auth_ok": self.headers.get("Authorization") == expected})
            failure = fake.failures.pop(0) if fake.failures else None
        if self.headers.get("Authorization") != expected:
            return self._json(*_error_body(20003))
        if resource not in ("Messages.json", "Calls.json"):
            return self._json(404, {"code": 20404, "message": "The requested resource was "
                                    "not found", "status": 404})
        if failure is not None:
            return self._json(*_error_body(failure, params.get("To", "")))
        return self._json(201, fake.created(resource, params))

    def _json(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class FakeTwilio(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.fake = self
        self.lock = threading.Lock()
        self.requests = []  # every request: path, form params, whether auth was right
        self.failures = []  # Twilio error codes to answer the next requests with

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def fail_next(self, *codes):
        with self.lock:
            self.failures.extend(codes)

    def messages(self):
        return [r["params"] for r in list(self.requests) if r["path"].endswith("/Messages.json")]

    def calls(self):
        return [r["params"] for r in list(self.requests) if r["path"].endswith("/Calls.json")]

    def created(self, resource, params):
        """The resource Twilio answers a create with (trimmed to the fields that matter)."""
        now = formatdate(usegmt=True)
        prefix = "SM" if resource == "Messages.json" else "CA"
        sid = prefix + secrets.token_hex(16)
        common = {"sid": sid, "account_sid": ACCOUNT_SID, "to": params.get("To"),
                  "from": params.get("From"), "status": "queued", "api_version": "2010-04-01",
                  "date_created": now, "date_updated": now, "direction": "outbound-api",
                  "price": None, "price_unit": "USD",
                  "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/{resource[:-5]}/{sid}.json"}
        if prefix == "SM":
            return common | {"body": params.get("Body"), "num_segments": "1", "num_media": "0",
                             "error_code": None, "error_message": None, "date_sent": None,
                             "messaging_service_sid": None}
        return common | {"start_time": None, "end_time": None, "duration": None,
                         "answered_by": None, "caller_name": None, "parent_call_sid": None,
                         "phone_number_sid": None}


def configure(settings, fake):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_API_BASE = fake.base_url
    settings.SITE_URL = SITE_URL


def serve():
    fake = FakeTwilio()
    threading.Thread(target=fake.serve_forever, args=(0.02,), daemon=True).start()
    return fake


def stop(fake):
    fake.shutdown()
    fake.server_close()


def signature(url, params, token=AUTH_TOKEN):
    return RequestValidator(token).compute_signature(url, params)


def post_signed(client, url, params, *, token=AUTH_TOKEN, tamper=None):
    """POST `params` to our webhook at absolute `url` as Twilio does: form-encoded, with
    X-Twilio-Signature computed by the twilio library's RequestValidator. `tamper`
    changes the parameters after signing (an attacker's edit)."""
    signature = RequestValidator(token).compute_signature(url, params)
    assert RequestValidator(token).validate(url, params, signature)
    sent = dict(params) | (tamper or {})
    path = url.removeprefix(SITE_URL)
    return client.post(path, sent, HTTP_X_TWILIO_SIGNATURE=signature)
