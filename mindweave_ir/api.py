"""The JSON API at /api/v1/ (django-ninja), OpenAPI schema at /api/v1/openapi.json.

Every call acts as the person whose API token it presents (`Authorization: Bearer
TOKEN`; tokens are made on /oncall/me/), through the same services functions and
permission checks as the dashboard. No interactive docs page: it would load its
script from a CDN. The project's LoginRequiredMiddleware is lifted for these URLs,
since the bearer token is their authentication (no cookies, so no CSRF either).
"""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from ninja import NinjaAPI
from ninja.security import HttpBearer

from incidents.api import router as incidents_router
from oncall.services import user_for_api_token

from .errors import Conflict, Refused


class ApiToken(HttpBearer):
    openapi_description = "A personal API token made on /oncall/me/ (mwir_...)."

    def authenticate(self, request, token):
        user = user_for_api_token(token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(title="MindWeave IR API", version="1", description=__doc__,
               auth=ApiToken(), docs_url=None, urls_namespace="api")
api.add_router("/incidents/", incidents_router, tags=["incidents"])


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return api.create_response(request, {"detail": str(exc) or "Not allowed."}, status=403)


@api.exception_handler(Conflict)
def _conflict(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=409)


@api.exception_handler(Refused)
def _refused(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=400)


def urls():
    """api.urls with each view exempt from LoginRequiredMiddleware (see the docstring)."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback = login_not_required(_plain(pattern.callback))
    return patterns, app_name, namespace


def _plain(view):
    # ninja's views can be bound methods, which take no attributes: wrap them.
    def call(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    call.csrf_exempt = getattr(view, "csrf_exempt", False)
    return call
