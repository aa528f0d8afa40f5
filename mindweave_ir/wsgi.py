"""The WSGI application: Django's handler, with the token-authenticated inbound
endpoints served by a second handler on a shorter middleware stack.

Django has no per-URL middleware. Sessions, the signed-in user, CSRF, messages,
login-required, htmx, the viewer's time zone and django-axes do nothing for a webhook
that authenticates by a token in its URL or body, yet cost CPU on each of its
requests, and one alert per request is the Events API's normal case (issue 19). So
requests whose path is one of those endpoints (INBOUND_PATH: exactly their URL
patterns, nothing else under /api/) go to a handler built from
settings.INBOUND_MIDDLEWARE (MIDDLEWARE without settings.INBOUND_SKIPPED_MIDDLEWARE):
security headers, the Content-Security-Policy, X-Frame-Options, CommonMiddleware and
the bad-character refusal are kept, and errors are handled and logged (token masked)
by the same code as everywhere. Every other path gets the full stack.
"""

import os
import re
from contextlib import contextmanager

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mindweave_ir.settings")

# The paths of incidents.views.inbound's views (mindweave_ir/urls.py); a token has no
# slash (Django's <str:> converter).
INBOUND_PATH = re.compile(
    r"/api/v1/(?:integrations/[^/]+/(?:alertmanager|cloudwatch)|events/v2/enqueue"
    r"|heartbeats/[^/]+/ping)\Z")


@contextmanager
def inbound_middleware():
    """settings.MIDDLEWARE reads as settings.INBOUND_MIDDLEWARE meanwhile: for building
    a handler (BaseHandler.load_middleware reads settings.MIDDLEWARE and has no other
    way in), once, before it serves any request; the full list is given back after."""
    from django.conf import settings

    full = settings.MIDDLEWARE
    settings.MIDDLEWARE = settings.INBOUND_MIDDLEWARE
    try:
        yield
    finally:
        settings.MIDDLEWARE = full


class InboundHandler(WSGIHandler):
    """Django's WSGI handler on settings.INBOUND_MIDDLEWARE instead of MIDDLEWARE."""

    def load_middleware(self, is_async=False):
        with inbound_middleware():
            super().load_middleware(is_async)


full_application = get_wsgi_application()
inbound_application = InboundHandler()


def handler_for(path_info):
    """The handler serving a request for this PATH_INFO."""
    return inbound_application if INBOUND_PATH.match(path_info) else full_application


def application(environ, start_response):
    return handler_for(environ.get("PATH_INFO", ""))(environ, start_response)
