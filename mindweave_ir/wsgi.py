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

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mindweave_ir.settings")

# The paths of incidents.views.inbound's views (mindweave_ir/urls.py); a token has no
# slash (Django's <str:> converter).
INBOUND_PATH = re.compile(
    r"/api/v1/(?:integrations/[^/]+/(?:alertmanager|cloudwatch)|events/v2/enqueue"
    r"|heartbeats/[^/]+/ping)\Z")


class InboundHandler(WSGIHandler):
    """Django's WSGI handler on settings.INBOUND_MIDDLEWARE instead of MIDDLEWARE."""

    def load_middleware(self, is_async=False):
        from django.conf import settings

        # BaseHandler.load_middleware reads settings.MIDDLEWARE and has no other way
        # in: it is given the short list while this handler is built (once, at
        # import, before any request is served), then the full one back.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.INBOUND_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


full_application = get_wsgi_application()
inbound_application = InboundHandler()


def handler_for(path_info):
    """The handler serving a request for this PATH_INFO."""
    return inbound_application if INBOUND_PATH.match(path_info) else full_application


def application(environ, start_response):
    return handler_for(environ.get("PATH_INFO", ""))(environ, start_response)
