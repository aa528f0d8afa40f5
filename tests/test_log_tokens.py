"""Tokens never reach a log line (DESIGN.md, security rules): Django's request-error lines
name the path, runserver's request lines the query, and both carry credentials for the
inbound integrations, heartbeats, one-click acknowledgements and iCal feeds.
mindweave_ir.redaction.MaskTokensFilter is configured in settings.LOGGING."""

import http.client
import logging
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.test import Client
from gunicorn.config import Config

from incidents import heartbeats, ingest
from mindweave_ir.gunicorn_logging import MaskingLogger
from mindweave_ir.redaction import MASK, MaskTokensFilter, mask_tokens, redact_url
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db

TOKEN = "tok_live_9f8e7d6c5b4a3210SECRET"


@pytest.fixture
def quiet_client():
    """A client that gets the 500 page instead of the exception, as a browser would."""
    return Client(raise_request_exception=False)


def logged(caplog):
    lines = [record.getMessage() for record in caplog.records]
    lines += [record.exc_text or "" for record in caplog.records]
    return "\n".join(lines)


def test_internal_server_error_on_an_integration_url_masks_the_token(
        quiet_client, caplog, monkeypatch):
    def broken(token, kind, body):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(ingest, "store_for_token", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = quiet_client.post(f"/api/v1/integrations/{TOKEN}/alertmanager", "{}",
                                     content_type="application/json")
    assert response.status_code == 500
    text = logged(caplog)
    assert f"Internal Server Error: /api/v1/integrations/{MASK}/alertmanager" in text
    assert "the database went away" in text  # the traceback is kept, masked
    assert TOKEN not in text


def test_not_found_heartbeat_and_integration_urls_mask_the_token(quiet_client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert quiet_client.get(f"/api/v1/heartbeats/{TOKEN}/ping").status_code == 404
        assert quiet_client.post(f"/api/v1/integrations/{TOKEN}/alertmanager", "{}",
                                 content_type="application/json").status_code == 404
    text = logged(caplog)
    assert f"Not Found: /api/v1/heartbeats/{MASK}/ping" in text
    assert f"Not Found: /api/v1/integrations/{MASK}/alertmanager" in text
    assert TOKEN not in text


def test_internal_server_error_on_a_heartbeat_url_masks_the_token(
        quiet_client, caplog, monkeypatch):
    def broken(token):
        raise RuntimeError(f"lookup failed for /api/v1/heartbeats/{token}/ping")

    monkeypatch.setattr(heartbeats, "heartbeat_for_token", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        assert quiet_client.get(f"/api/v1/heartbeats/{TOKEN}/ping").status_code == 500
    text = logged(caplog)
    assert f"/api/v1/heartbeats/{MASK}/ping" in text
    assert TOKEN not in text  # in the message and in the traceback's exception text


def test_a_bad_one_click_ack_link_masks_the_signed_token(quiet_client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert quiet_client.get(f"/oncall/ack/{TOKEN}/").status_code == 400
    assert f"Bad Request: /oncall/ack/{MASK}/" in logged(caplog)
    assert TOKEN not in logged(caplog)


@pytest.fixture
def runserver_lines():
    """A real runserver request handler (Django's WSGIRequestHandler) on 127.0.0.1, and
    the lines its logger (django.server) hands to handlers."""
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    collector = Collect()
    server_logger = logging.getLogger("django.server")
    server_logger.addHandler(collector)
    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server.server_address[1], lines
    server.shutdown()
    server.server_close()
    server_logger.removeHandler(collector)


def test_runserver_request_lines_mask_path_and_query_tokens(runserver_lines):
    port, lines = runserver_lines
    for path in (f"/oncall/me/calendar.ics?token={TOKEN}",
                 f"/oncall/schedules/1/calendar.ics?token={TOKEN}&x=1",
                 f"/api/v1/heartbeats/{TOKEN}/ping", f"/oncall/ack/{TOKEN}/"):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path, headers={"Host": "127.0.0.1"})
        conn.getresponse().read()
        conn.close()
    assert wait_for(lambda: len(lines) == 4)  # logged just after the answer is sent
    text = "\n".join(lines)
    assert f"calendar.ics?token={MASK} HTTP/1.1" in text
    assert f"calendar.ics?token={MASK}&x=1" in text
    assert f"/api/v1/heartbeats/{MASK}/ping" in text and f"/oncall/ack/{MASK}/" in text
    assert TOKEN not in text


def test_the_filter_sits_on_every_configured_handler_and_path_logger():
    def masks(thing):
        return any(isinstance(f, MaskTokensFilter) for f in thing.filters)

    root = logging.getLogger()
    assert masks(root) and all(masks(h) for h in root.handlers if h.name == "console")
    for name in ("django.request", "django.server"):
        assert masks(logging.getLogger(name))
    # Every other Django line (django.security.*, django.db ...) reaches only the root's
    # masked console: Django's default handlers on "django" are gone.
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django").propagate
    assert all(masks(h) for h in logging.getLogger("django.server").handlers
               if h.name == "django.server")


def test_other_loggers_lines_are_masked_by_the_handler_and_args_kept_otherwise():
    record = logging.LogRecord("celery", logging.INFO, __file__, 1,
                               "fetched %s in %d ms", (f"https://x/feed?api_key={TOKEN}", 5),
                               None)
    MaskTokensFilter().filter(record)
    assert record.getMessage() == f"fetched https://x/feed?api_key={MASK} in 5 ms"
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "page %s sent", (7,), None)
    MaskTokensFilter().filter(plain)
    assert plain.args == (7,)  # nothing secret: the record is left as it was


@pytest.mark.parametrize(("text", "masked"), [
    ("https://hooks.slack.com/services/T0/B0/XYZ", f"https://hooks.slack.com/services/{MASK}"),
    ("Authorization: Bearer abc.def-123", f"Authorization: Bearer {MASK}"),
    ("/x?routing_key=R1&token=T2&page=3", f"/x?routing_key={MASK}&token={MASK}&page=3"),
    ("/api/v1/incidents/INC-2026-0001/", "/api/v1/incidents/INC-2026-0001/"),
])
def test_mask_tokens(text, masked):
    assert mask_tokens(text) == masked


def test_redact_url_keeps_only_scheme_host_and_port():
    assert redact_url("https://hooks.slack.com/services/T/B/X?x=1") == \
        "https://hooks.slack.com/…"
    assert redact_url("http://[::1]:8080/hook") == "http://[::1]:8080/…"
    assert redact_url("http://[::1") == "<invalid URL>"


def test_gunicorn_access_and_error_lines_mask_tokens(tmp_path):
    cfg = Config()
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    cfg.set("accesslog", str(access))
    cfg.set("errorlog", str(errors))
    log = MaskingLogger(cfg)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/oncall/me/calendar.ics?token={TOKEN}",
               "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/oncall/me/calendar.ics",
               "QUERY_STRING": f"token={TOKEN}", "REMOTE_ADDR": "127.0.0.1"}
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    log.access(response, SimpleNamespace(headers=[]), environ, timedelta(seconds=0))
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("Error handling request %s", f"/api/v1/integrations/{TOKEN}/alertmanager")
    for handler in log.error_log.handlers + log.access_log.handlers:
        handler.flush()
    assert f"calendar.ics?token={MASK}" in access.read_text()
    assert f"/api/v1/integrations/{MASK}/alertmanager" in errors.read_text()
    assert TOKEN not in access.read_text() + errors.read_text()


def test_gunicorn_started_here_uses_the_masking_logger():
    cfg = Config()
    source = (Path(__file__).resolve().parent.parent / "gunicorn.conf.py").read_text()
    for name, value in _settings_of(source).items():
        cfg.set(name, value)
    assert cfg.logger_class.__name__ == "MaskingLogger"


def _settings_of(source):
    namespace = {}
    exec(compile(source, "gunicorn.conf.py", "exec"), namespace)  # noqa: S102 # nosec B102
    return {k: v for k, v in namespace.items() if not k.startswith("__")}


def test_celery_worker_and_beat_logs_mask_tokens():
    """A worker replaces the root logger's handlers with its own: the tokens are masked
    on those too (mindweave_ir/celery.py), for app loggers and task loggers alike."""
    code = f"""
import logging
import os
import subprocess
import sys
from mindweave_ir.celery import app
from celery.utils.log import get_task_logger
app.log.setup(loglevel="INFO")
logging.getLogger("incidents.tasks").warning("drain /api/v1/integrations/{TOKEN}/alertmanager")
get_task_logger("oncall.tasks").warning("ack /oncall/ack/{TOKEN}/")
"""
    env = {**os.environ, "DEBUG": "true", "MINDWEAVE_ENV_FILE": "",
           "DJANGO_SETTINGS_MODULE": "mindweave_ir.settings"}
    run = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], env=env,
        capture_output=True, text=True, timeout=60)

    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert f"/api/v1/integrations/{MASK}/alertmanager" in output
    assert f"/oncall/ack/{MASK}/" in output
    assert TOKEN not in output
