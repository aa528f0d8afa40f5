"""A real OpenID provider on 127.0.0.1 for the single sign-on tests (issue 22):
oidc-provider-mock (Flask + Authlib) issuing RS256-signed ID tokens with the claims
each test sets per person, its discovery document, JWKS, userinfo and end-session
endpoints.

oidc-provider-mock 0.3.4 ignores PKCE, so the server here wraps it in a small WSGI
layer that enforces it as Keycloak's "PKCE required" does: every authorization
request must carry an S256 code_challenge, and the token request for its code must
present the matching code_verifier, or the token endpoint answers invalid_grant.
It also keeps the authorization requests it saw, for the tests to read.
"""

import base64
import hashlib
import io
import json
import threading
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import oidc_provider_mock
import requests
import werkzeug.serving

CLIENT_ID = "mindweave-ir"
CLIENT_SECRET = "test-client-secret"


class PkceEnforcer:
    """WSGI middleware: the PKCE checks the wrapped provider leaves out."""

    def __init__(self, app):
        self.app = app
        self.challenges = {}  # code -> (challenge, method)
        self.authorize_requests = []  # each authorization request's query, as a dict
        self.refused = []

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/oauth2/token" and environ.get("REQUEST_METHOD") == "POST":
            return self._token(environ, start_response)
        if path == "/oauth2/authorize":
            query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            if environ.get("REQUEST_METHOD") == "GET":
                self.authorize_requests.append(query)
            if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
                return self._error(start_response, "invalid_request",
                                   "PKCE (S256 code_challenge) is required")

            def remember(status, headers, exc_info=None):
                location = dict(headers).get("Location", "")
                code = parse_qs(urlsplit(location).query).get("code")
                if code:
                    self.challenges[code[0]] = query["code_challenge"]
                return start_response(status, headers, exc_info)

            return self.app(environ, remember)
        return self.app(environ, start_response)

    def _token(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") == "authorization_code":
            challenge = self.challenges.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            expected = base64.urlsafe_b64encode(
                hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge is None or not verifier or expected != challenge:
                self.refused.append(form.get("code"))
                return self._error(start_response, "invalid_grant",
                                   "PKCE verification failed")
        return self.app(environ, start_response)

    @staticmethod
    def _error(start_response, error, description):
        body = json.dumps({"error": error, "error_description": description}).encode()
        start_response("400 Bad Request", [("Content-Type", "application/json"),
                                           ("Content-Length", str(len(body)))])
        return [body]


class LocalProvider:
    def __init__(self, server, enforcer):
        self.server, self.enforcer = server, enforcer
        self.url = f"http://127.0.0.1:{server.server_port}"

    def set_user(self, sub, *, groups=(), **claims):
        """The claims the provider gives `sub` (their username) from now on."""
        claims = {"preferred_username": sub, "email": f"{sub}@corp.example",
                  "given_name": sub.title(), "family_name": "Example",
                  "groups": list(groups), **claims}
        response = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=5)
        assert response.status_code == 204, response.text

    def settings(self, *, discovery=False):
        """Django settings pointing the site at this provider."""
        values = {
            "OIDC_RP_CLIENT_ID": CLIENT_ID, "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_OP_ISSUER": self.url, "OIDC_PROVIDER_NAME": "Corp ID",
            "OIDC_ROLE_GROUPS": ("ir-managers=Manager,ir-ics=Incident Commander,"
                                 "ir-responders=Responder,ir-viewers=Viewer"),
            "OIDC_DEFAULT_ROLE": "",
            "AUTHENTICATION_BACKENDS": [
                "axes.backends.AxesStandaloneBackend",
                "django.contrib.auth.backends.ModelBackend",
                "oncall.sso.SingleSignOnBackend",
            ],
        }
        endpoints = {
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.url}/oauth2/authorize",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.url}/oauth2/token",
            "OIDC_OP_USER_ENDPOINT": f"{self.url}/userinfo",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.url}/jwks",
            "OIDC_OP_LOGOUT_ENDPOINT": f"{self.url}/oauth2/end_session",
        }
        if discovery:
            values["OIDC_DISCOVERY_URL"] = f"{self.url}/.well-known/openid-configuration"
            values.update(dict.fromkeys(endpoints, ""))
        else:
            values["OIDC_DISCOVERY_URL"] = ""
            values.update(endpoints)
        return values


@contextmanager
def running_provider(monkeypatch):
    """A LocalProvider serving on 127.0.0.1 until the block ends."""
    # Authlib refuses plain http unless told; the tests' provider is local.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    enforcer = PkceEnforcer(oidc_provider_mock.app(require_nonce=True))
    server = werkzeug.serving.make_server("127.0.0.1", 0, enforcer, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield LocalProvider(server, enforcer)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
