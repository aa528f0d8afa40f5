"""The inbound endpoints run on a short middleware stack (mindweave_ir/wsgi.py, issue 19
bar 2): through the real WSGI application, a webhook's request gets no session, user or
CSRF work, yet keeps the security headers, the JSON errors and the masked logs; every
other path gets the full stack."""

import json
import logging
from pathlib import Path

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory

from incidents import ingest
from incidents.models import Alert, InboundPayload, PayloadOutcome
from incidents.views import inbound
from mindweave_ir import wsgi
from mindweave_ir.redaction import MASK

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "tok_live_9f8e7d6c5b4a3210SECRET"
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
                    "Referrer-Policy", "Cross-Origin-Opener-Policy")


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """What Django's test client does: the handler would otherwise close the test
    transaction's connection at the start and end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


class Answer:
    def __init__(self, status, headers, body):
        self.status_code, self.headers, self.body = int(status.split()[0]), dict(headers), body

    def json(self):
        return json.loads(self.body)


def call(method, path, body=b"", **extra):
    """One request through mindweave_ir.wsgi.application, as gunicorn makes it."""
    factory = RequestFactory()
    if method == "GET":
        environ = factory.get(path, **extra).environ
    else:
        environ = factory.post(path, body, content_type="application/json", **extra).environ
    started = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=headers)

    response = wsgi.application(environ, start_response)
    try:
        data = b"".join(response)
    finally:
        response.close()
    return Answer(started["status"], started["headers"], data)


def firing():
    return (FIXTURES / "alertmanager_firing.json").read_bytes()


@pytest.fixture
def seen(monkeypatch):
    """What the inbound views' request carries: filled by a spy on their body reader."""
    requests = []
    real = inbound._read_body

    def spy(request):
        requests.append(request)
        return real(request)

    monkeypatch.setattr(inbound, "_read_body", spy)
    return requests


@pytest.mark.parametrize("path", [
    f"/api/v1/integrations/{TOKEN}/alertmanager", f"/api/v1/integrations/{TOKEN}/cloudwatch",
    "/api/v1/events/v2/enqueue", f"/api/v1/heartbeats/{TOKEN}/ping"])
def test_the_inbound_endpoints_get_the_short_stack(path):
    assert wsgi.handler_for(path) is wsgi.inbound_application


@pytest.mark.parametrize("path", [
    "/", "/healthz", "/accounts/login/", "/api/v1/incidents/", "/admin/",
    f"/api/v1/integrations/{TOKEN}/alertmanager/", f"/api/v1/integrations/{TOKEN}/other",
    "/api/v1/integrations/a/b/alertmanager", "/api/v1/events/v2/enqueue/x",
    f"/x/api/v1/heartbeats/{TOKEN}/ping", "/incidents/1/"])
def test_every_other_path_gets_the_full_stack(path):
    assert wsgi.handler_for(path) is wsgi.full_application


def test_the_short_stack_is_the_full_one_less_what_a_webhook_never_uses():
    skipped = settings.INBOUND_SKIPPED_MIDDLEWARE
    assert [m for m in settings.MIDDLEWARE if m not in skipped] == settings.INBOUND_MIDDLEWARE
    for kept in ("django.middleware.security.SecurityMiddleware",
                 "mindweave_ir.middleware.ContentSecurityPolicyMiddleware",
                 "mindweave_ir.middleware.RefuseBadCharactersMiddleware",
                 "django.middleware.clickjacking.XFrameOptionsMiddleware"):
        assert kept in settings.INBOUND_MIDDLEWARE
    assert "django.contrib.sessions.middleware.SessionMiddleware" \
        not in settings.INBOUND_MIDDLEWARE
    # The full handler was built from the full list (the short one was given back).
    assert settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"


def test_a_webhook_is_served_without_session_user_or_csrf_and_keeps_its_headers(
        prometheus, seen):
    _, token = prometheus

    answer = call("POST", f"/api/v1/integrations/{token}/alertmanager", firing())

    assert answer.status_code == 200 and answer.json()["status"] == "success"
    assert Alert.objects.count() == 2
    (request,) = seen
    assert not hasattr(request, "session") and not hasattr(request, "user")
    assert not hasattr(request, "_messages") and not hasattr(request, "htmx")
    for header in SECURITY_HEADERS:
        assert header in answer.headers, header
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "Set-Cookie" not in answer.headers


def test_a_page_still_gets_the_full_stack(seen):
    answer = call("GET", "/accounts/login/")

    assert answer.status_code == 200
    assert "csrftoken=" in answer.headers.get("Set-Cookie", "")  # CSRF middleware ran
    for header in SECURITY_HEADERS:
        assert header in answer.headers, header
    assert call("GET", "/").status_code == 302  # login required: the auth middleware ran


def test_bad_input_is_a_400_naming_the_field_on_the_short_stack(prometheus):
    _, token = prometheus
    body = json.loads(firing())
    body["alerts"][0]["fingerprint"] = 7

    answer = call("POST", f"/api/v1/integrations/{token}/alertmanager",
                  json.dumps(body).encode())

    assert answer.status_code == 400
    assert "'alerts[0].fingerprint' must be a string" in answer.json()["errors"]
    assert InboundPayload.objects.get().outcome == PayloadOutcome.REJECTED
    assert "Content-Security-Policy" in answer.headers


def test_a_bad_token_is_a_404_and_a_nul_in_the_query_a_400_on_the_short_stack():
    answer = call("POST", f"/api/v1/integrations/{TOKEN}/alertmanager", firing())
    assert answer.status_code == 404 and answer.json()["status"] == "not found"

    answer = call("POST", f"/api/v1/integrations/{TOKEN}/alertmanager?x=%00", firing())
    assert answer.status_code == 400 and answer.json()["status"] == "error"

    answer = call("POST", "/api/v1/events/v2/enqueue",
                  json.dumps({"routing_key": TOKEN, "event_action": "trigger"}).encode())
    assert answer.status_code in (400, 404) and answer.json()["status"] == "invalid event"
    assert not InboundPayload.objects.exists()


def test_an_unexpected_error_is_a_500_logged_with_the_token_masked(monkeypatch, caplog):
    def broken(token, kind, body):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(ingest, "store_for_token", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        answer = call("POST", f"/api/v1/integrations/{TOKEN}/alertmanager", firing())

    assert answer.status_code == 500
    assert "Content-Security-Policy" in answer.headers
    text = "\n".join([r.getMessage() for r in caplog.records]
                     + [r.exc_text or "" for r in caplog.records])
    assert f"Internal Server Error: /api/v1/integrations/{MASK}/alertmanager" in text
    assert TOKEN not in text


def test_a_heartbeat_ping_and_an_event_are_served_on_the_short_stack(seen):
    from incidents import heartbeats
    from incidents.models import IntegrationKind

    integration, token = ingest.create_integration(name="Cron", kind=IntegrationKind.EVENTS)
    _, ping_token = heartbeats.create_heartbeat(name="Backup", integration=integration,
                                                interval_minutes=60)

    answer = call("GET", f"/api/v1/heartbeats/{ping_token}/ping")
    assert answer.status_code == 200 and answer.json()["heartbeat"] == "Backup"
    assert "Content-Security-Policy" in answer.headers
    assert call("GET", f"/api/v1/heartbeats/{TOKEN}/ping").status_code == 404

    answer = call("POST", "/api/v1/events/v2/enqueue", json.dumps({
        "routing_key": token, "event_action": "trigger", "dedup_key": "k",
        "payload": {"summary": "s", "source": "x", "severity": "error"}}).encode())
    assert answer.status_code == 202 and answer.json()["dedup_key"] == "k"
    (request,) = seen  # the ping reads no body
    assert not hasattr(request, "session") and not hasattr(request, "user")
