"""Real peers on 127.0.0.1 for notification tests: an SMTP server (aiosmtpd) and an
HTTP receiver standing in for Slack and webhook endpoints. Nothing is mocked."""

import email
import socket
import threading
import time
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from tests.incidents.slack_fake import slack, slack_api  # noqa: F401 - the fake Slack's fixtures


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- SMTP peer ------------------------------------------------------------


class RecordingSMTPHandler:
    """Stores delivered messages; refuses any recipient whose local part is 'nobody'."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((envelope.rcpt_tos, parsed))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    handler = RecordingSMTPHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 2
    settings.DEFAULT_FROM_EMAIL = "mindweave-ir@example.com"
    yield handler
    controller.stop()


# --- HTTP peer ------------------------------------------------------------


class RecordingHTTPHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        server = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server.requests.append({"path": self.path, "headers": self.headers, "body": body,
                                "at": time.time()})
        if server.delay:
            server.release.wait(server.delay)
        self.send_response(server.status)
        for name, value in server.extra_headers.items():
            self.send_header(name, value)
        payload = server.body.encode()
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):
        pass


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), RecordingHTTPHandler)
        self.requests = []
        self.status, self.body, self.delay, self.extra_headers = 200, "ok", 0, {}
        self.release = threading.Event()

    def answer(self, status, body="", delay=0, headers=None):
        self.status, self.body, self.delay = status, body, delay
        self.extra_headers = headers or {}

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def handle_error(self, request, client_address):
        pass  # The client gave up (timeout test): a broken pipe here is expected.


@pytest.fixture
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


