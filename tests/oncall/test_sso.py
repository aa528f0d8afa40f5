"""Single sign-on (issue 22 item 1): the claim -> role mapping, and the whole
authorization-code flow against a real OpenID provider on 127.0.0.1 (state, nonce and
PKCE sent and checked), driven through Django's test client."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from oncall import sso
from oncall.roles import Role, role_names
from tests.oidc_provider import CLIENT_ID, running_provider

pytestmark = pytest.mark.django_db

MAPPING = "ir-managers=Manager,ir-ics=Incident Commander,ir-viewers=Viewer"


# --- the mapping, alone -------------------------------------------------------------

def test_role_groups_parse_into_roles_and_several_groups_may_share_one():
    mapping = sso.parse_role_groups(" ir-managers = Manager, ops=manager ,ir-ics=Incident "
                                    "Commander,")
    assert mapping == {"ir-managers": {Role.MANAGER}, "ops": {Role.MANAGER},
                       "ir-ics": {Role.INCIDENT_COMMANDER}}


@pytest.mark.parametrize("raw, says", [
    ("ir-managers", "not group=Role"),
    ("=Manager", "not group=Role"),
    ("ir-managers=Boss", "'Boss' is not a role"),
])
def test_a_bad_role_groups_entry_is_named(raw, says):
    with pytest.raises(ValueError, match=says):
        sso.parse_role_groups(raw)


def test_groups_map_to_every_role_they_name_and_full_paths_match():
    mapping = sso.parse_role_groups(MAPPING)
    assert sso.roles_for_groups(["/ir-managers", "ir-ics", "other"], mapping) == {
        Role.MANAGER, Role.INCIDENT_COMMANDER}
    assert sso.roles_for_groups("ir-viewers", mapping) == {Role.VIEWER}
    assert sso.roles_for_groups(["other"], mapping) == set()
    assert sso.roles_for_groups(None, mapping) == set()
    assert sso.roles_for_groups(["other"], mapping, Role.VIEWER) == {Role.VIEWER}
    assert sso.roles_for_groups(["ir-ics"], mapping, Role.VIEWER) == {
        Role.INCIDENT_COMMANDER}


def test_bad_settings_are_system_check_errors(settings):
    settings.OIDC_ROLE_GROUPS = "ir-managers=Boss"
    settings.OIDC_DEFAULT_ROLE = "Janitor"
    settings.LOCAL_LOGIN = False
    settings.OIDC_RP_CLIENT_ID = ""
    with pytest.raises(SystemCheckError) as failed:
        call_command("check")
    for error in ("oncall.E101", "oncall.E102", "oncall.E103"):
        assert error in str(failed.value)


def test_claims_without_a_usable_username_are_refused(settings):
    with pytest.raises(sso.SignOnRefused, match="preferred_username"):
        sso.identity_from_claims({"email": "a@b.example"})
    with pytest.raises(sso.SignOnRefused, match="not one this site can use"):
        sso.identity_from_claims({"preferred_username": "a b/c"})
    identity = sso.identity_from_claims({"preferred_username": "ana", "name": "Ana de Souza",
                                         "groups": ["x", 3]})
    assert (identity.first_name, identity.last_name, identity.groups) == (
        "Ana", "de Souza", ("x",))


# --- the flow, against the local provider ---------------------------------------------

@pytest.fixture
def provider(settings, monkeypatch):
    with running_provider(monkeypatch) as provider:
        for name, value in provider.settings().items():
            setattr(settings, name, value)
        yield provider


def start(client, next_url=None):
    """/oidc/authenticate/: the redirect to the provider, and its query."""
    response = client.get("/oidc/authenticate/", {"next": next_url} if next_url else {})
    assert response.status_code == 302
    return response["Location"], {k: v[0] for k, v in
                                  parse_qs(urlsplit(response["Location"]).query).items()}


def authorize(authorize_url, sub):
    """The person `sub` signs in at the provider: the callback URL it sends them to."""
    response = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False,
                             timeout=10)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def sign_in(client, provider, sub, **kwargs):
    url, _ = start(client, **kwargs)
    callback = urlsplit(authorize(url, sub))
    return client.get(callback.path, parse_qs(callback.query))


def test_a_manager_by_group_is_created_from_the_claims_and_reaches_the_admin(provider):
    provider.set_user("marta", groups=["ir-managers"], given_name="Marta",
                      family_name="Keller", email="marta@corp.example")
    client = Client()
    response = sign_in(client, provider, "marta")

    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user_model().objects.get(username="marta")
    assert (user.email, user.first_name, user.last_name) == (
        "marta@corp.example", "Marta", "Keller")
    assert role_names(user) == {"Manager"} and user.is_staff
    assert not user.has_usable_password()
    assert client.get("/admin/").status_code == 200


def test_the_authorization_request_carries_state_nonce_and_a_pkce_challenge(provider):
    client = Client()
    _, query = start(client)
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) >= 43
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert query["redirect_uri"] == "http://testserver/oidc/callback/"
    assert set(query["scope"].split()) >= {"openid", "email", "profile"}


def test_a_viewer_by_group_gets_viewer_only(provider):
    provider.set_user("vic", groups=["ir-viewers", "unrelated"])
    client = Client()
    sign_in(client, provider, "vic")
    user = get_user_model().objects.get(username="vic")
    assert role_names(user) == {"Viewer"} and not user.is_staff
    assert client.get("/").status_code == 200
    assert client.get("/admin/").status_code == 302  # to the admin's login


def test_someone_in_no_mapped_group_is_refused_with_a_clear_page(provider):
    provider.set_user("nobody", groups=["sales"])
    client = Client()
    response = sign_in(client, provider, "nobody")
    assert response["Location"] == "/oidc/refused/"
    page = client.get("/oidc/refused/")
    assert page.status_code == 403
    assert "none of the groups" in page.content.decode()
    assert not get_user_model().objects.filter(username="nobody").exists()
    assert client.get("/").status_code == 302  # still signed out


def test_the_default_role_lets_someone_without_a_group_in(provider, settings):
    settings.OIDC_DEFAULT_ROLE = "Viewer"
    provider.set_user("newbie", groups=[])
    client = Client()
    assert sign_in(client, provider, "newbie")["Location"] == "/"
    assert role_names(get_user_model().objects.get(username="newbie")) == {"Viewer"}


def test_a_removed_group_removes_the_role_at_the_next_sign_in_and_in_open_sessions(
        provider):
    provider.set_user("marta", groups=["ir-managers", "ir-ics"])
    first = Client()
    sign_in(first, provider, "marta")
    assert first.get("/admin/").status_code == 200  # cached with Manager now

    provider.set_user("marta", groups=["ir-ics"])
    second = Client()
    sign_in(second, provider, "marta")
    user = get_user_model().objects.get(username="marta")
    assert role_names(user) == {"Incident Commander"} and not user.is_staff
    # The other, earlier session sees it at once (the user cache was dropped).
    assert first.get("/admin/").status_code == 302

    provider.set_user("marta", groups=[])
    third = Client()
    assert sign_in(third, provider, "marta")["Location"] == "/oidc/refused/"
    user.refresh_from_db()
    assert role_names(get_user_model().objects.get(pk=user.pk)) == set()
    assert first.get("/").status_code == 200  # still signed in, but with no role left


def test_other_groups_and_a_local_superuser_flag_are_left_alone(provider, django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("root", is_superuser=True, is_staff=True)
    user.groups.add(Group.objects.create(name="Book club"), Group.objects.get_or_create(
        name="Manager")[0])
    provider.set_user("root", groups=["ir-viewers"])
    sign_in(Client(), provider, "root")
    user.refresh_from_db()
    assert {g.name for g in user.groups.all()} == {"Book club", "Viewer"}
    assert user.is_superuser and user.is_staff


def test_a_tampered_state_is_refused_and_nobody_signs_in(provider):
    provider.set_user("marta", groups=["ir-managers"])
    client = Client()
    url, _ = start(client)
    callback = urlsplit(authorize(url, "marta"))
    query = {k: v[0] for k, v in parse_qs(callback.query).items()}
    query["state"] = query["state"][:-4] + "AAAA"
    response = client.get(callback.path, query)
    assert response.status_code == 400
    assert "could not be checked" in response.content.decode()
    assert not get_user_model().objects.filter(username="marta").exists()


def test_a_wrong_pkce_verifier_is_refused_by_the_provider(provider):
    provider.set_user("marta", groups=["ir-managers"])
    client = Client()
    url, query = start(client)
    session = client.session
    session["oidc_states"][query["state"]]["code_verifier"] = "x" * 64
    session.save()
    callback = urlsplit(authorize(url, "marta"))
    response = client.get(callback.path, parse_qs(callback.query))
    assert response.status_code == 400
    assert provider.enforcer.refused  # the provider said invalid_grant
    assert not get_user_model().objects.filter(username="marta").exists()


def test_a_nonce_that_does_not_match_the_id_token_is_refused(provider):
    provider.set_user("marta", groups=["ir-managers"])
    client = Client()
    url, query = start(client)
    session = client.session
    session["oidc_states"][query["state"]]["nonce"] = "another-nonce-" + "n" * 30
    session.save()
    callback = urlsplit(authorize(url, "marta"))
    response = client.get(callback.path, parse_qs(callback.query))
    assert response.status_code == 400
    assert not get_user_model().objects.filter(username="marta").exists()


def test_an_id_token_from_another_issuer_is_refused(provider, settings):
    settings.OIDC_OP_ISSUER = "https://id.elsewhere.example"
    provider.set_user("marta", groups=["ir-managers"])
    response = sign_in(Client(), provider, "marta")
    assert response.status_code == 400
    assert not get_user_model().objects.filter(username="marta").exists()


def test_a_cancelled_sign_in_at_the_provider_shows_the_refusal_page(provider):
    client = Client()
    url, query = start(client)
    response = client.get("/oidc/callback/", {"error": "access_denied",
                                              "state": query["state"]})
    assert response["Location"] == "/oidc/refused/"
    assert "did not complete" in client.get("/oidc/refused/").content.decode()


def test_endpoints_can_come_from_the_discovery_document(provider, settings):
    for name, value in provider.settings(discovery=True).items():
        setattr(settings, name, value)
    provider.set_user("marta", groups=["ir-managers"])
    client = Client()
    assert sign_in(client, provider, "marta")["Location"] == "/"
    assert client.get("/admin/").status_code == 200


def test_an_unreachable_discovery_document_is_a_clear_page_not_a_500(provider, settings):
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = ""
    settings.OIDC_DISCOVERY_URL = "http://127.0.0.1:9/.well-known/openid-configuration"
    response = Client().get("/oidc/authenticate/")
    assert response.status_code == 502
    assert "could not be reached" in response.content.decode()


def test_signing_out_ends_the_session_here_and_at_the_provider(provider):
    provider.set_user("marta", groups=["ir-managers"])
    client = Client()
    sign_in(client, provider, "marta")
    response = client.post("/accounts/logout/")
    # A page that moves on to the provider (CSP's form-action stops a form's redirect
    # to another site), by refresh and by a link.
    assert response.status_code == 200
    target = re.search(r'content="0; url=([^"]+)"', response.content.decode()).group(1)
    target = html.unescape(target)
    assert f'href="{html.escape(target)}"' in response.content.decode()
    location = urlsplit(target)
    assert f"{location.scheme}://{location.netloc}" == provider.url
    assert location.path == "/oauth2/end_session"
    query = parse_qs(location.query)
    assert query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]
    assert query["id_token_hint"][0].count(".") == 2
    assert client.get("/").status_code == 302  # signed out here


def test_a_password_session_signs_out_as_before(provider, viewer):
    client = Client()
    client.force_login(viewer)
    response = client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"


def test_without_sso_settings_the_sso_urls_are_not_there_and_login_is_as_before(
        settings, viewer):
    settings.OIDC_RP_CLIENT_ID = ""
    client = Client()
    assert client.get("/oidc/authenticate/").status_code == 404
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with" not in page and 'name="password"' in page
    response = client.post("/accounts/login/", {"username": "viewer",
                                                "password": "pw-for-tests-only"})
    assert response.status_code == 302 and response["Location"] == "/"


# --- LOCAL_LOGIN=false -----------------------------------------------------------------

@pytest.fixture
def local_login_off(provider, settings):
    settings.LOCAL_LOGIN = False
    settings.AUTHENTICATION_BACKENDS = [b for b in settings.AUTHENTICATION_BACKENDS
                                        if not b.endswith("ModelBackend")]


def open_page_for(user):
    """A triggered page that notified `user`, and its one-click acknowledgement link."""
    from django.utils import timezone

    from oncall import paging
    from oncall.models import ContactMethod, EscalationLevel, EscalationPolicy

    ContactMethod.objects.create(user=user, kind="email", target="ic@example.com")
    policy = EscalationPolicy.objects.create(name="Primary")
    EscalationLevel.objects.create(policy=policy, position=1,
                                   timeout_minutes=5).users.set([user])
    page = paging.trigger_page(title="Checkout down", severity="SEV-1", dedup_key="k1",
                               policy=policy)
    paging.run_page(page.pk, now=timezone.now())
    return page, urlsplit(paging.ack_url(page, user)).path


def test_local_login_off_shows_only_single_sign_on_and_refuses_a_password(
        local_login_off, viewer):
    client = Client()
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with Corp ID" in page and 'name="password"' not in page
    response = client.post("/accounts/login/", {"username": "viewer",
                                                "password": "pw-for-tests-only"})
    assert response.status_code == 403
    assert "Signing in with a password is turned off" in response.content.decode()
    assert client.get("/").status_code == 302  # not signed in
    # Nor through the admin's own form.
    assert client.get("/admin/login/?next=/admin/")["Location"] == (
        "/accounts/login/?next=%2Fadmin%2F")
    assert client.post("/admin/login/", {"username": "viewer",
                                         "password": "pw-for-tests-only"}).status_code == 302
    assert client.get("/").status_code == 302


def test_local_login_off_still_lets_sso_in(local_login_off, provider):
    provider.set_user("marta", groups=["ir-managers"])
    client = Client()
    assert sign_in(client, provider, "marta")["Location"] == "/"
    assert client.get("/admin/").status_code == 200


def test_local_login_off_keeps_api_ical_and_ack_tokens_working(local_login_off, ic):
    from oncall import services
    from oncall.models import PageStatus

    _, secret = services.create_api_token(ic, name="ci")
    client = Client()
    assert client.get("/api/v1/incidents/",
                      headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    calendar = services.regenerate_calendar_token(ic).calendar_token
    feed = client.get("/oncall/me/calendar.ics", {"token": calendar})
    assert feed.status_code == 200 and feed.content.startswith(b"BEGIN:VCALENDAR")
    page, ack_path = open_page_for(ic)
    assert client.post(ack_path).status_code == 200
    page.refresh_from_db()
    assert page.status == PageStatus.ACKNOWLEDGED and page.acknowledged_by == ic


def test_a_refused_sign_on_is_not_counted_as_a_password_failure(provider):
    from axes.models import AccessAttempt

    provider.set_user("nobody", groups=["sales"])
    for _ in range(2):
        assert sign_in(Client(), provider, "nobody")["Location"] == "/oidc/refused/"
    assert AccessAttempt.objects.count() == 0


def test_an_id_token_for_another_client_is_refused(settings):
    """The library leaves the audience unchecked; the backend checks it."""
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.core.exceptions import SuspiciousOperation

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_OP_ISSUER = "https://id.example"
    settings.OIDC_RP_IDP_SIGN_KEY = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    backend = sso.SingleSignOnBackend()

    def token(**claims):
        return jwt.encode({"iss": "https://id.example", "sub": "1", "nonce": "n",
                           "aud": CLIENT_ID, **claims}, key, algorithm="RS256")

    assert backend.verify_token(token(aud=["x", CLIENT_ID]), nonce="n")["sub"] == "1"
    with pytest.raises(SuspiciousOperation, match="aud"):
        backend.verify_token(token(aud="someone-else"), nonce="n")
    with pytest.raises(SuspiciousOperation, match="issuer"):
        backend.verify_token(token(iss="https://evil.example"), nonce="n")
    with pytest.raises(SuspiciousOperation, match="Nonce"):
        backend.verify_token(token(), nonce="other")


def test_a_password_sign_in_at_a_url_with_a_code_never_calls_the_provider(provider, viewer):
    client = Client()
    response = client.post("/accounts/login/?code=abc&state=def",
                           {"username": "viewer", "password": "pw-for-tests-only"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert provider.enforcer.refused == []
