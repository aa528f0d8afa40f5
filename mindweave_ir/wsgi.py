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
from django.urls import get_resolver

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


INBOUND_URLCONF = "mindweave_ir.inbound_urls"


class InboundHandler(WSGIHandler):
    """Django's WSGI handler on settings.INBOUND_MIDDLEWARE instead of MIDDLEWARE, that
    resolves the path among the inbound endpoints' patterns only (the site's URLconf
    includes them; reverse() goes on using the site's)."""

    def load_middleware(self, is_async=False):
        with inbound_middleware():
            super().load_middleware(is_async)

    def resolve_request(self, request):
        match = get_resolver(INBOUND_URLCONF).resolve(request.path_info)
        request.resolver_match = match
        return match


def warm_up():
    """Import now what a worker's first requests would import: the cache's Redis client
    library, imported at its first use. A worker started by a deploy in the middle of
    an alert storm would otherwise spend its first requests on it (75 ms of CPU,
    measured). Nothing connects here: the client connects at its first command."""
    from django.core.cache import DEFAULT_CACHE_ALIAS, caches

    getattr(caches[DEFAULT_CACHE_ALIAS], "_cache", None)  # RedisCache's client; none else


full_application = get_wsgi_application()
inbound_application = InboundHandler()
warm_up()


def handler_for(path_info):
    """The handler serving a request for this PATH_INFO."""
    return inbound_application if INBOUND_PATH.match(path_info) else full_application


def application(environ, start_response):
    return handler_for(environ.get("PATH_INFO", ""))(environ, start_response)
