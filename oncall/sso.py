"""Single sign-on with OpenID Connect (issue 22, README "Single sign-on").

mozilla-django-oidc runs the authorization-code flow (state, nonce and PKCE kept in
the session, the ID token's signature checked against the provider's keys); this
module adds what the product needs on top:

1. The provider's endpoints come from explicit settings, or lazily (at the first
   sign-in, never at start-up) from OIDC_DISCOVERY_URL.
2. The ID token must be for us (`aud` holds our client id) and, when an issuer is
   known, from our provider (`iss`); the library checks neither.
3. The person is found by username (OIDC_USERNAME_CLAIM), created or updated from the
   ID token's claims (merged with the userinfo endpoint's, when there is one), and
   given exactly the roles their groups map to (OIDC_ROLE_GROUPS), at every sign-in.
4. Nobody without a mapped group gets in, unless OIDC_DEFAULT_ROLE names a role; why
   they were refused is kept in the session for the refusal page.
"""

import logging
import threading
from dataclasses import dataclass
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.checks import Error, register
from django.core.exceptions import (
    ImproperlyConfigured,
    PermissionDenied,
    SuspiciousOperation,
    ValidationError,
)
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from . import services
from .roles import Role

logger = logging.getLogger(__name__)

# The session key the refusal page reads (oncall/views/sso.py).
REFUSED_KEY = "sso_refused"

# Settings a discovery document can supply, and its field for each.
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",  # nosec B105: a discovery key
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    "OIDC_OP_LOGOUT_ENDPOINT": "end_session_endpoint",
    "OIDC_OP_ISSUER": "issuer",
}

_discovery = {}
_discovery_lock = threading.Lock()


NO_ROLE = ("You signed in with your identity provider, but you are in none of the groups "
           "that give a role on this site. Ask your administrator to add you to one of "
           "them, then sign in again.")


class SignOnRefused(Exception):
    """The provider vouched for someone this site will not let in; the message is
    shown to them on the refusal page."""


def enabled():
    """Single sign-on is configured (a client id, and somewhere to find the provider)."""
    return bool(getattr(settings, "OIDC_RP_CLIENT_ID", "")) and bool(
        getattr(settings, "OIDC_OP_AUTHORIZATION_ENDPOINT", "")
        or getattr(settings, "OIDC_DISCOVERY_URL", ""))


def discovery_document():
    """The provider's /.well-known/openid-configuration, fetched once per process."""
    url = getattr(settings, "OIDC_DISCOVERY_URL", "")
    if not url:
        return {}
    with _discovery_lock:
        if url not in _discovery:
            response = requests.get(url, timeout=getattr(settings, "OIDC_TIMEOUT", 10),  # nosec B113
                                    verify=getattr(settings, "OIDC_VERIFY_SSL", True))
            response.raise_for_status()
            document = response.json()
            if not isinstance(document, dict):
                raise ImproperlyConfigured(f"OIDC_DISCOVERY_URL {url} is not a JSON object")
            _discovery[url] = document
        return _discovery[url]


def setting(name, *default):
    """A mozilla-django-oidc setting, an empty endpoint filled from discovery."""
    value = import_from_settings(name, *default)
    if not value and name in DISCOVERED:
        value = discovery_document().get(DISCOVERED[name]) or value
    return value


# --- Groups to roles ---------------------------------------------------------------

def _group_key(name):
    # Keycloak sends "/ir-managers" when its mapper gives full group paths.
    return str(name).strip().lstrip("/")


def parse_role_groups(raw):
    """OIDC_ROLE_GROUPS, "group=Role,group=Role", as {group: Role}; ValueError saying
    which entry is wrong."""
    mapping = {}
    roles = {role.value.lower(): role for role in Role}
    for entry in (raw or "").split(","):
        if not entry.strip():
            continue
        group, sep, role = entry.partition("=")
        if not sep or not _group_key(group) or not role.strip():
            raise ValueError(f"entry {entry.strip()!r} is not group=Role")
        if role.strip().lower() not in roles:
            names = ", ".join(r.value for r in Role)
            raise ValueError(f"entry {entry.strip()!r}: {role.strip()!r} is not a role "
                             f"(one of {names})")
        mapping.setdefault(_group_key(group), set()).add(roles[role.strip().lower()])
    return mapping


def default_role():
    """OIDC_DEFAULT_ROLE as a Role, or None (people with no mapped group are refused)."""
    raw = (getattr(settings, "OIDC_DEFAULT_ROLE", "") or "").strip()
    if not raw:
        return None
    for role in Role:
        if role.value.lower() == raw.lower():
            return role
    raise ValueError(f"OIDC_DEFAULT_ROLE {raw!r} is not a role")


def roles_for_groups(groups, mapping, default=None):
    """The roles a groups claim maps to; `default` alone when none maps."""
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list | tuple):
        groups = []
    roles = set()
    for group in groups:
        roles |= mapping.get(_group_key(group), set())
    if not roles and default is not None:
        roles = {default}
    return roles


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, as the user row wants it."""

    username: str
    email: str
    first_name: str
    last_name: str
    groups: tuple


def identity_from_claims(claims):
    """The Identity in `claims`; SignOnRefused when there is no usable username."""
    claim = settings.OIDC_USERNAME_CLAIM
    username = claims.get(claim)
    if not isinstance(username, str) or not username.strip():
        raise SignOnRefused(f"Your identity provider did not send a {claim!r} claim, "
                            "which this site uses as your username. Ask its administrator "
                            "to add it.")
    username = username.strip()
    try:
        UnicodeUsernameValidator()(username)
        if len(username) > 150:
            raise ValidationError("too long")
    except ValidationError:
        raise SignOnRefused(f"Your username {username[:150]!r} from the identity provider "
                            "is not one this site can use (at most 150 letters, digits "
                            "and @.+-_).") from None

    def text(name, limit):
        value = claims.get(name)
        return value.strip()[:limit] if isinstance(value, str) else ""

    first, last = text("given_name", 150), text("family_name", 150)
    if not first and not last:
        first, _, last = text("name", 301).partition(" ")
    groups = claims.get(settings.OIDC_GROUPS_CLAIM) or ()
    if isinstance(groups, str):
        groups = (groups,)
    return Identity(username=username, email=text("email", 254), first_name=first[:150],
                    last_name=last[:150],
                    groups=tuple(g for g in groups if isinstance(g, str))
                    if isinstance(groups, list | tuple) else ())


# --- The authentication backend ------------------------------------------------------

def _lazy(name):
    return property(lambda self: self.get_settings(name, None))


class SingleSignOnBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, with lazy endpoints, an audience and issuer check,
    and the person's roles from their groups (the module docstring)."""

    OIDC_OP_TOKEN_ENDPOINT = _lazy("OIDC_OP_TOKEN_ENDPOINT")
    OIDC_OP_USER_ENDPOINT = _lazy("OIDC_OP_USER_ENDPOINT")
    OIDC_OP_JWKS_ENDPOINT = _lazy("OIDC_OP_JWKS_ENDPOINT")
    OIDC_RP_CLIENT_ID = _lazy("OIDC_RP_CLIENT_ID")
    OIDC_RP_CLIENT_SECRET = _lazy("OIDC_RP_CLIENT_SECRET")
    OIDC_RP_SIGN_ALGO = property(lambda self: self.get_settings("OIDC_RP_SIGN_ALGO", "RS256"))
    OIDC_RP_IDP_SIGN_KEY = _lazy("OIDC_RP_IDP_SIGN_KEY")

    def __init__(self, *args, **kwargs):
        # Not the library's: it reads every endpoint here, and a backend is made for
        # each password sign-in too, which must never wait on the provider.
        self.UserModel = get_user_model()

    get_settings = staticmethod(setting)

    def authenticate(self, request, **kwargs):
        # Only the callback's call (it passes the nonce) is ours: a password sign-in,
        # even at a URL carrying ?code=, never reaches the provider.
        if not enabled() or request is None or "nonce" not in kwargs:
            return None
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        if kwargs.get("nonce") is None and "nonce" in kwargs:
            raise SuspiciousOperation("The sign-in carried no nonce.")
        audience = payload.get("aud")
        audience = audience if isinstance(audience, list) else [audience]
        if self.OIDC_RP_CLIENT_ID not in audience:
            raise SuspiciousOperation("The ID token is not for this site (aud).")
        issuer = self.get_settings("OIDC_OP_ISSUER", "")
        if issuer and payload.get("iss") != issuer:
            raise SuspiciousOperation("The ID token is not from the configured issuer.")
        return payload

    def retrieve_matching_jwk(self, token):
        """The library's lookup by key id; a token naming no key (some small providers)
        is checked against the provider's key only when it has exactly one."""
        if "kid" in jwt.get_unverified_header(token):
            return super().retrieve_matching_jwk(token)
        response = requests.get(self.OIDC_OP_JWKS_ENDPOINT,  # nosec B113: timeout below
                                verify=self.get_settings("OIDC_VERIFY_SSL", True),
                                timeout=self.get_settings("OIDC_TIMEOUT", 10))
        response.raise_for_status()
        keys = [key for key in response.json().get("keys", []) if key.get("use", "sig") == "sig"]
        if len(keys) != 1:
            raise SuspiciousOperation("The ID token names no key and the provider has several.")
        return jwt.PyJWK(keys[0])

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims, with the userinfo endpoint's added when there is one
        (some providers put groups only there); the subject must agree."""
        claims = {}
        if self.OIDC_OP_USER_ENDPOINT:
            claims = super().get_userinfo(access_token, id_token, payload) or {}
            if claims.get("sub") not in (None, payload.get("sub")):
                raise SuspiciousOperation("userinfo is about another subject")
        return {**claims, **payload}

    def verify_claims(self, claims):
        return True  # get_or_create_user decides, with a reason to show

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        try:
            identity = identity_from_claims(claims)
            try:
                mapping = parse_role_groups(settings.OIDC_ROLE_GROUPS)
                fallback = default_role()
            except ValueError as exc:
                logger.error("Single sign-on refused: OIDC_ROLE_GROUPS/OIDC_DEFAULT_ROLE: %s",
                             exc)
                raise SignOnRefused("Single sign-on is misconfigured on this site (its "
                                    "group-to-role mapping). Tell its administrator.") from None
            roles = roles_for_groups(identity.groups, mapping, fallback)
            try:
                user = services.sign_in_from_provider(identity, roles=roles)
            except PermissionDenied as exc:
                raise SignOnRefused(str(exc)) from None
            if not roles:
                raise SignOnRefused(NO_ROLE)
            return user
        except SignOnRefused as exc:
            self.request.session[REFUSED_KEY] = str(exc)
            logger.info("Single sign-on refused for %s: %s",
                        claims.get(settings.OIDC_USERNAME_CLAIM, "?"), exc)
            return None


def provider_logout_url(request):
    """OIDC_OP_LOGOUT_URL_METHOD: the provider's end_session_endpoint, when it has one
    and this session came from it, so signing out here signs out there too; else
    where a local sign-out goes."""
    here = request.build_absolute_uri(reverse(settings.LOGOUT_REDIRECT_URL))
    id_token = request.session.get("oidc_id_token")
    if not id_token or not enabled():
        return here
    try:
        endpoint = setting("OIDC_OP_LOGOUT_ENDPOINT", "")
    except (requests.RequestException, ValueError, ImproperlyConfigured):
        logger.warning("Could not reach the identity provider's discovery document for "
                       "its end-session endpoint; signed out here only")
        endpoint = ""
    if not endpoint:
        return here
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": here,
                       "client_id": settings.OIDC_RP_CLIENT_ID})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


# --- System checks -------------------------------------------------------------------

@register()
def check_single_sign_on(app_configs, **kwargs):
    """The sign-on settings must parse, and password sign-in may be turned off only
    when there is another way in."""
    errors = []
    try:
        parse_role_groups(getattr(settings, "OIDC_ROLE_GROUPS", ""))
    except ValueError as exc:
        errors.append(Error(f"OIDC_ROLE_GROUPS: {exc}", id="oncall.E101",
                            hint="e.g. ir-managers=Manager,ir-ics=Incident Commander"))
    try:
        default_role()
    except ValueError as exc:
        errors.append(Error(str(exc), id="oncall.E102",
                            hint="Viewer, Responder, Incident Commander, Manager, or empty."))
    if not getattr(settings, "LOCAL_LOGIN", True) and not enabled():
        errors.append(Error("LOCAL_LOGIN=false but single sign-on is not configured: "
                            "nobody could sign in", id="oncall.E103",
                            hint="Set OIDC_RP_CLIENT_ID and OIDC_DISCOVERY_URL (or the "
                                 "OIDC_OP_* endpoints), or leave LOCAL_LOGIN true."))
    if (getattr(settings, "OIDC_RP_CLIENT_ID", "") and not enabled()):
        errors.append(Error("OIDC_RP_CLIENT_ID is set but the provider is not: set "
                            "OIDC_DISCOVERY_URL or OIDC_OP_AUTHORIZATION_ENDPOINT "
                            "(and the token and JWKS endpoints)", id="oncall.E104"))
    if (getattr(settings, "OIDC_OP_AUTHORIZATION_ENDPOINT", "")
            and not getattr(settings, "OIDC_DISCOVERY_URL", "")
            and not (getattr(settings, "OIDC_OP_TOKEN_ENDPOINT", "")
                     and getattr(settings, "OIDC_OP_JWKS_ENDPOINT", ""))):
        errors.append(Error("OIDC_OP_AUTHORIZATION_ENDPOINT needs OIDC_OP_TOKEN_ENDPOINT "
                            "and OIDC_OP_JWKS_ENDPOINT too (or OIDC_DISCOVERY_URL)",
                            id="oncall.E105"))
    return errors
