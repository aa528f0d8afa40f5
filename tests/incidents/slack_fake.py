"""A local stand-in for the slice of Slack's Web API the Slack app uses, on 127.0.0.1,
recording every call; and requests signed exactly as Slack signs them (slack_sdk's
own SignatureVerifier). The network edge is the only thing faked."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.utils import timezone
from slack_sdk.signature import SignatureVerifier

from oncall.models import SlackIdentity

BOT_TOKEN = "xoxb-test-bot-token"
SIGNING_SECRET = "test-signing-secret-0123456789"


@dataclass
class Call:
    method: str
    args: dict
    at: float
    token: str


@dataclass
class FakeSlack:
    url: str = ""
    calls: list = field(default_factory=list)
    taken: set = field(default_factory=set)  # channel names that exist
    users: dict = field(default_factory=dict)  # e-mail -> (id, display name)
    failures: dict = field(default_factory=dict)  # method -> [(status, body, headers)]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, method, *, status=200, error="internal_error", retry_after=None,
                  times=1):
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        for _ in range(times):
            self.failures.setdefault(method, []).append(
                (status, {"ok": False, "error": error}, headers))

    def made(self, method):
        return [c for c in self.calls if c.method == method]

    def methods(self):
        return [c.method for c in self.calls]

    def answer(self, method, args, token):
        with self.lock:
            self.calls.append(Call(method, args, time.monotonic(), token))
            queued = self.failures.get(method)
            if queued:
                return queued.pop(0)
            return 200, self._ok(method, args), {}

    def _ok(self, method, args):
        if method == "conversations.create":
            name = args.get("name", "")
            if name in self.taken:
                return {"ok": False, "error": "name_taken"}
            self.taken.add(name)
            return {"ok": True, "channel": {"id": f"C{len(self.taken):08d}", "name": name}}
        if method == "chat.postMessage":
            return {"ok": True, "channel": args.get("channel"),
                    "ts": f"1700000000.{len(self.calls):06d}"}
        if method == "users.lookupByEmail":
            found = self.users.get(args.get("email", ""))
            if not found:
                return {"ok": False, "error": "users_not_found"}
            return {"ok": True, "user": {"id": found[0], "name": found[1],
                                         "profile": {"display_name": found[1]}}}
        return {"ok": True}


def _handler(fake):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _reply(self, args):
            method = urlsplit(self.path).path.rsplit("/", 1)[-1]
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            status, body, headers = fake.answer(method, args, token)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            query = parse_qs(urlsplit(self.path).query)
            self._reply({k: v[0] for k, v in query.items()})

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Type", "").startswith("application/json"):
                args = json.loads(raw or b"{}")
            else:
                args = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            self._reply(args)

    return Handler


@pytest.fixture
def slack_api():
    """The fake Slack Web API, serving on a free local port."""
    fake = FakeSlack()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def slack(settings, slack_api):
    """Slack connected through the environment's settings, talking to the fake."""
    settings.SLACK_BOT_TOKEN = BOT_TOKEN
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.SLACK_API_URL = slack_api.url
    return slack_api


def link(user, slack_id, *, confirmed=True):
    """`user` has linked (and confirmed) the Slack user `slack_id`."""
    return SlackIdentity.objects.create(
        user=user, slack_user_id=slack_id, slack_name=user.username,
        email=f"{user.username}@example.com",
        confirmed_at=timezone.now() if confirmed else None)


def signed(body, *, secret=SIGNING_SECRET, timestamp=None):
    """Headers for `body` (bytes) as Slack signs it."""
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {"HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp, "HTTP_X_SLACK_SIGNATURE": signature}


FORM = "application/x-www-form-urlencoded"


def post_form(client, fields, **signing):
    """POST `fields` to /slack/events as Slack does (form-encoded, signed)."""
    body = urlencode(fields).encode()
    return client.post("/slack/events", data=body, content_type=FORM, **signed(body, **signing))


def slash(client, text, *, user="U0IC", channel="C00000001", trigger="trig-1", **signing):
    return post_form(client, {"command": "/incident", "text": text, "user_id": user,
                              "channel_id": channel, "trigger_id": trigger,
                              "team_id": "T1", "response_url": "https://hooks.example/x"},
                     **signing)


def interact(client, payload, **signing):
    return post_form(client, {"payload": json.dumps(payload)}, **signing)


def button(action_id, value, *, user="U0IC", channel="C00000001"):
    return {"type": "block_actions", "user": {"id": user}, "channel": {"id": channel},
            "trigger_id": "trig-2",
            "actions": [{"action_id": action_id, "value": value, "block_id": "incident"}]}
