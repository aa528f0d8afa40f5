"""Signing in and out: the password form (unless LOCAL_LOGIN=false), single sign-on
through mozilla-django-oidc's views (oncall/sso.py), and the page that says why a
sign-on was refused."""

import logging

import requests
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    OIDCLogoutView,
)

from .. import sso

logger = logging.getLogger(__name__)

REFUSED = "registration/sso_refused.html"
SIGNED_OUT = "registration/sso_signed_out.html"
LOCAL_LOGIN_OFF = ("Signing in with a password is turned off on this site. Use single "
                   "sign-on.")
UNREACHABLE = ("The identity provider could not be reached, or refused to finish the "
               "sign-in. Try again in a minute; if it goes on, tell the site's administrator.")
UNCHECKED = ("This sign-in could not be checked: it was started in another tab or window, "
             "took too long, or was already used. Start again.")


def _refused(request, message, status):
    return render(request, REFUSED, {"message": message}, status=status)


def _sign_on_context():
    return {"sso_enabled": sso.enabled(), "local_login": settings.LOCAL_LOGIN,
            "sso_provider_name": settings.OIDC_PROVIDER_NAME}


class LoginView(auth_views.LoginView):
    """Django's login page, with a single sign-on button when one is configured, and
    no password form at all when LOCAL_LOGIN=false (a posted password is refused)."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **_sign_on_context()}

    def post(self, request, *args, **kwargs):
        if not settings.LOCAL_LOGIN:
            return self.render_to_response(
                {**self.get_context_data(), "refusal": LOCAL_LOGIN_OFF}, status=403)
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    """Sign out; a session that came from the identity provider is ended there too,
    through its end-session endpoint when it has one (OIDC_OP_LOGOUT_URL_METHOD)."""

    def post(self, request, *args, **kwargs):
        if not (sso.enabled() and request.session.get("oidc_id_token")):
            return super().post(request, *args, **kwargs)
        response = OIDCLogoutView.as_view()(request)
        target = response["Location"]
        if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            return response
        # The page's Content-Security-Policy (form-action 'self') stops a form's
        # redirect to another site: the provider is reached from a page instead.
        return render(request, SIGNED_OUT, {"provider_url": target,
                                            "sso_provider_name": settings.OIDC_PROVIDER_NAME})


@login_not_required
@never_cache
def admin_login(request):
    """The admin's own password form, unless LOCAL_LOGIN=false: then the login page."""
    if settings.LOCAL_LOGIN:
        return admin.site.login(request)
    target = reverse("login")
    if request.GET.get("next"):
        target += "?" + urlencode({"next": request.GET["next"]})
    return redirect(target)


@method_decorator([login_not_required, never_cache], name="dispatch")
class SignOnStart(OIDCAuthenticationRequestView):
    """/oidc/authenticate/: off to the provider with state, nonce and a PKCE challenge."""

    get_settings = staticmethod(sso.setting)

    def dispatch(self, request, *args, **kwargs):
        if not sso.enabled():
            raise Http404("Single sign-on is not configured.")
        request.session.pop(sso.REFUSED_KEY, None)
        try:
            return super().dispatch(request, *args, **kwargs)
        except (requests.RequestException, ValueError, ImproperlyConfigured):
            logger.warning("Single sign-on: the provider's discovery document could not "
                           "be read", exc_info=True)
            return _refused(request, UNREACHABLE, 502)

    def __init__(self, *args, **kwargs):
        # The library reads the endpoint here; in dispatch (above) a failure is shown.
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    @property
    def OIDC_OP_AUTH_ENDPOINT(self):  # noqa: N802 (the library's name)
        return self.get_settings("OIDC_OP_AUTHORIZATION_ENDPOINT")

    @property
    def OIDC_RP_CLIENT_ID(self):  # noqa: N802
        return self.get_settings("OIDC_RP_CLIENT_ID")


@method_decorator([login_not_required, never_cache], name="dispatch")
class SignOnCallback(OIDCAuthenticationCallbackView):
    """/oidc/callback/: the provider's answer. The library checks the state and
    PKCE-exchanges the code; oncall/sso.py checks the ID token and sets the roles."""

    get_settings = staticmethod(sso.setting)

    @property
    def failure_url(self):
        return reverse("oidc_refused")

    def dispatch(self, request, *args, **kwargs):
        if not sso.enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            return super().dispatch(request, *args, **kwargs)
        except SuspiciousOperation as exc:
            logger.warning("Single sign-on refused: %s", exc)
            return _refused(request, UNCHECKED, 400)
        except requests.HTTPError as exc:
            if exc.response is not None and 400 <= exc.response.status_code < 500:
                # The provider refused this code (invalid_grant: a wrong PKCE verifier,
                # a code used twice or too late): this sign-in, not the provider.
                logger.warning("Single sign-on refused by the provider: HTTP %s",
                               exc.response.status_code)
                return _refused(request, UNCHECKED, 400)
            logger.warning("Single sign-on: the provider failed", exc_info=True)
            return _refused(request, UNREACHABLE, 502)
        except (requests.RequestException, ValueError, ImproperlyConfigured):
            logger.warning("Single sign-on: the provider failed", exc_info=True)
            return _refused(request, UNREACHABLE, 502)


@login_not_required
@never_cache
def refused(request):
    """Why the provider's sign-in did not let someone in (a 403 page)."""
    message = request.session.pop(sso.REFUSED_KEY, None) or (
        "Single sign-on did not complete (it was cancelled, or the provider refused it). "
        "Start again.")
    return _refused(request, message, 403)
