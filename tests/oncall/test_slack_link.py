"""Connecting the Slack workspace and people's Slack users (issue 20 item 1): the
admin shows what is configured (never the secrets) and the last error; a person finds
their Slack user by e-mail on /oncall/me/ and confirms it before it can act as them."""

import pytest
from django.urls import reverse

from oncall import slack as slack_client
from oncall.models import SlackIdentity, SlackWorkspace
from tests.incidents.slack_fake import BOT_TOKEN

pytestmark = pytest.mark.django_db

PROFILE = "/oncall/me/"
LINK = "/oncall/me/slack/"


@pytest.fixture
def responder_with_email(responder):
    responder.email = "responder@example.com"
    responder.save()
    return responder


def test_a_person_finds_confirms_and_unlinks_their_slack_user(client, responder_with_email,
                                                              slack):
    slack.users["responder@example.com"] = ("U0RESP", "resp")
    client.force_login(responder_with_email)

    page = client.get(PROFILE).content.decode()
    assert "Find my Slack user by e-mail" in page
    found = client.post(LINK, {"step": "find"}, HTTP_HX_REQUEST="true")
    assert found.status_code == 200
    assert "Is this you?" in found.content.decode() and "U0RESP" in found.content.decode()
    assert slack.made("users.lookupByEmail")[0].args == {"email": "responder@example.com"}
    assert slack_client.user_for_slack_id("U0RESP") is None  # found is not linked

    confirmed = client.post(LINK, {"step": "confirm"}, HTTP_HX_REQUEST="true")
    assert "Your Slack user is linked" in confirmed.content.decode()
    assert slack_client.user_for_slack_id("U0RESP") == responder_with_email

    client.post(LINK, {"step": "unlink"})
    assert not SlackIdentity.objects.exists()
    assert slack_client.user_for_slack_id("U0RESP") is None


def test_no_such_member_is_a_clear_refusal_and_stores_nothing(client, responder_with_email,
                                                              slack):
    client.force_login(responder_with_email)

    response = client.post(LINK, {"step": "find"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 400
    assert "No Slack member has the address responder@example.com." in response.content.decode()
    assert not SlackIdentity.objects.exists()


def test_confirming_before_finding_is_refused(client, responder, slack):
    client.force_login(responder)
    response = client.post(LINK, {"step": "confirm"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "Find your Slack user first." in response.content.decode()
    assert client.post(LINK, {"step": "bogus"}).status_code == 400


def test_a_slack_user_linked_to_someone_else_is_refused(client, ic, responder_with_email,
                                                        slack):
    SlackIdentity.objects.create(user=ic, slack_user_id="U0RESP", email="x@example.com")
    slack.users["responder@example.com"] = ("U0RESP", "resp")
    client.force_login(responder_with_email)

    response = client.post(LINK, {"step": "find"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 400 and "already linked to another person" in \
        response.content.decode()
    assert SlackIdentity.objects.get().user == ic


def test_without_a_connection_the_profile_says_so_and_looks_nothing_up(client, responder,
                                                                       slack_api):
    client.force_login(responder)
    assert "not connected to a Slack workspace" in client.get(PROFILE).content.decode()
    assert client.post(LINK, {"step": "find"}).status_code == 400
    assert slack_api.calls == []


def test_the_admin_stores_secrets_without_showing_them(client, manager, settings, slack_api):
    settings.SLACK_API_URL = slack_api.url
    client.force_login(manager)
    add = reverse("admin:oncall_slackworkspace_add")

    response = client.post(add, {"bot_token": "xoxb-stored-123", "signing_secret": "s3cret"})

    assert response.status_code == 302
    row = SlackWorkspace.objects.get()
    assert row.pk == 1 and row.bot_token == "xoxb-stored-123"
    change = reverse("admin:oncall_slackworkspace_change", args=[1])
    page = client.get(change).content.decode()
    assert "set (stored here)" in page
    assert "xoxb-stored-123" not in page and "s3cret" not in page
    # Saving with the fields empty keeps them; a wrong token is refused.
    client.post(change, {"bot_token": "", "signing_secret": ""})
    row.refresh_from_db()
    assert (row.bot_token, row.signing_secret) == ("xoxb-stored-123", "s3cret")
    refused = client.post(change, {"bot_token": "not-a-token", "signing_secret": ""})
    assert "A bot token starts with xoxb-." in refused.content.decode()
    row.refresh_from_db()
    assert row.bot_token == "xoxb-stored-123"
    assert slack_client.config().bot_token == "xoxb-stored-123"


def test_the_environment_wins_and_the_admin_shows_the_last_error(client, manager, slack):
    SlackWorkspace.objects.create(pk=1, bot_token="xoxb-from-admin")
    slack.fail_next("conversations.create", error="invalid_auth")
    assert slack_client.config().bot_token == BOT_TOKEN
    with pytest.raises(slack_client.SlackError):
        slack_client.call("conversations.create", name="x")
    assert slack.made("conversations.create")[0].token == BOT_TOKEN
    client.force_login(manager)

    page = client.get(reverse("admin:oncall_slackworkspace_change", args=[1])).content.decode()

    assert "SLACK_* environment variable; it wins" in page
    assert "conversations.create: invalid_auth" in page
    assert BOT_TOKEN not in page and "xoxb-from-admin" not in page


def test_the_slack_admin_is_for_managers_only(client, ic):
    client.force_login(ic)
    response = client.get(reverse("admin:oncall_slackworkspace_changelist"))
    assert response.status_code in (302, 403)
