"""API tokens on the profile page: made with the secret shown once, listed by prefix,
revoked by their owner (another person's token is not found)."""

import pytest
from django.core.exceptions import PermissionDenied

from oncall import services
from oncall.models import ApiToken
from tests.conftest import make_user
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def test_making_a_token_shows_the_secret_once(client, responder):
    client.force_login(responder)

    made = client.post("/oncall/me/api-tokens/", {"name": "deploy bot"}, **HX)
    page = client.get("/oncall/me/")

    row = ApiToken.objects.get()
    assert made.status_code == 200
    assert_fragment(made, "api-tokens")
    secret = made.content.decode().split('readonly value="')[1].split('"')[0]
    assert secret.startswith(row.prefix) and services.user_for_api_token(secret) == responder
    assert secret not in html(page) and row.prefix in html(page)


def test_without_javascript_the_secret_is_on_the_page_not_lost_in_a_redirect(client, responder):
    client.force_login(responder)

    made = client.post("/oncall/me/api-tokens/", {"name": "cron"})

    assert made.status_code == 200 and "copy it now" in html(made)


def test_a_token_needs_a_name(client, responder):
    client.force_login(responder)

    refused = client.post("/oncall/me/api-tokens/", {"name": "  "}, **HX)

    assert refused.status_code == 400 and "Give the token a name" in html(refused)
    assert not ApiToken.objects.exists()


def test_the_owner_revokes_and_nobody_else_can(client, responder, django_user_model):
    row, secret = services.create_api_token(responder, name="bot")
    other = make_user(django_user_model, "other")
    client.force_login(other)

    assert client.post(f"/oncall/me/api-tokens/{row.pk}/revoke/", **HX).status_code == 404
    assert services.user_for_api_token(secret) == responder

    client.force_login(responder)
    revoked = client.post(f"/oncall/me/api-tokens/{row.pk}/revoke/", **HX)

    assert revoked.status_code == 200 and "revoked" in html(revoked)
    assert services.user_for_api_token(secret) is None


def test_revoking_someone_elses_token_in_the_service_needs_a_manager(responder, ic, manager):
    row, _ = services.create_api_token(responder, name="bot")

    with pytest.raises(PermissionDenied):
        services.revoke_api_token(row, by=ic)
    services.revoke_api_token(row, by=manager)

    row.refresh_from_db()
    assert row.revoked_at is not None
