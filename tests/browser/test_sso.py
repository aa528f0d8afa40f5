"""Single sign-on in a real browser (issue 22 item 1): Chromium signs in through a real
OpenID provider on 127.0.0.1 (tests/oidc_provider.py), roles from its groups claim."""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from oncall import services
from oncall.models import PageStatus
from oncall.roles import role_names
from tests.oidc_provider import running_provider
from tests.oncall.test_sso import open_page_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def provider(settings, monkeypatch, page):
    with running_provider(monkeypatch) as provider:
        for name, value in provider.settings().items():
            setattr(settings, name, value)
        # The provider's form links a stylesheet on a CDN: nothing leaves the machine.
        page.context.route(re.compile(r"^https?://(?!127\.0\.0\.1|localhost)"),
                           lambda route: route.abort())
        yield provider


def sign_in_with_provider(page, sub):
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with Corp ID").click()
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()


def test_a_manager_by_group_signs_in_and_reaches_the_admin(page, provider):
    provider.set_user("marta", groups=["ir-managers"], given_name="Marta",
                      family_name="Keller")
    sign_in_with_provider(page, "marta")
    expect(page.get_by_role("heading", name="Active incidents")).to_be_visible()

    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    user = get_user_model().objects.get(username="marta")
    assert role_names(user) == {"Manager"} and user.is_staff
    assert (user.first_name, user.last_name) == ("Marta", "Keller")


def test_a_viewer_by_group_signs_in_read_only(page, provider):
    provider.set_user("vic", groups=["ir-viewers"])
    sign_in_with_provider(page, "vic")
    expect(page.get_by_role("heading", name="Active incidents")).to_be_visible()
    assert role_names(get_user_model().objects.get(username="vic")) == {"Viewer"}

    expect(page.locator("main").get_by_role("link", name="Declare incident")).to_have_count(0)
    response = page.goto("/incidents/declare/")
    assert response.status == 403
    expect(page.get_by_text("Viewers cannot declare incidents.")).to_be_visible()
    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_have_count(0)


def test_someone_in_no_mapped_group_is_refused_with_a_clear_page(page, provider):
    provider.set_user("nobody", groups=["sales"])
    sign_in_with_provider(page, "nobody")
    expect(page.get_by_role("heading", name="You are not signed in")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("none of the groups")
    assert urlsplit(page.url).path == "/oidc/refused/"
    assert not get_user_model().objects.filter(username="nobody").exists()


def test_a_removed_group_removes_the_role_at_the_next_sign_in(page, provider):
    provider.set_user("marta", groups=["ir-managers"])
    sign_in_with_provider(page, "marta")
    expect(page.get_by_role("heading", name="Active incidents")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile("^" + re.escape(provider.url) + "/oauth2/end_session"))
    # The provider's end-session page, then back to the login page.
    page.get_by_role("button", name=re.compile("log ?out|sign ?out|end|confirm|yes",
                                               re.I)).first.click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    provider.set_user("marta", groups=["ir-viewers"])
    sign_in_with_provider(page, "marta")
    expect(page.get_by_role("heading", name="Active incidents")).to_be_visible()
    user = get_user_model().objects.get(username="marta")
    assert role_names(user) == {"Viewer"} and not user.is_staff
    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_have_count(0)


def test_local_login_off_refuses_passwords_but_tokens_and_ack_links_work(
        page, provider, settings, ic):
    settings.LOCAL_LOGIN = False
    settings.AUTHENTICATION_BACKENDS = [b for b in settings.AUTHENTICATION_BACKENDS
                                        if not b.endswith("ModelBackend")]
    page.goto("/accounts/login/")
    expect(page.get_by_role("link", name="Sign in with Corp ID")).to_be_visible()
    expect(page.locator("input[name=password]")).to_have_count(0)
    # A password posted anyway (a saved form, a script) is refused.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    refused = page.request.post("/accounts/login/", max_redirects=0, form={
        "username": "ic", "password": "pw-for-tests-only", "csrfmiddlewaretoken": csrf})
    assert refused.status == 403
    assert "Signing in with a password is turned off" in refused.text()
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    _, secret = services.create_api_token(ic, name="ci")
    api = page.request.get("/api/v1/incidents/", headers={"Authorization": f"Bearer {secret}"})
    assert api.status == 200
    token = services.regenerate_calendar_token(ic).calendar_token
    feed = page.request.get(f"/oncall/me/calendar.ics?token={token}")
    assert feed.status == 200 and feed.text().startswith("BEGIN:VCALENDAR")

    paged, ack_path = open_page_for(ic)
    page.goto(ack_path)
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("Acknowledged by")
    paged.refresh_from_db()
    assert paged.status == PageStatus.ACKNOWLEDGED
