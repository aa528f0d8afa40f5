"""The incident page's communications section through the test client, HTMX included;
the resolve form's updates (§6.1)."""

import re

import pytest
from django.test import Client

from incidents import services
from incidents.comms import delivery
from incidents.models import (
    CommsKind,
    CommsStatus,
    CommsTemplate,
    CommsUpdate,
    Incident,
    IncidentComms,
    Status,
    Subscriber,
)
from tests.incidents.factories import ServiceFactory, declare
from tests.oncall.conftest import receiver  # noqa: F401 - real peer
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def login(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def service():
    return ServiceFactory(name="Checkout API")


@pytest.fixture
def incident(ic, service):
    return declare(ic, title="Checkout failing", services=[service])


def template(kind, name):
    return CommsTemplate.objects.get(kind=kind, name=name)


def test_incident_page_includes_the_comms_and_runbook_sections(ic, incident):
    page = html(login(ic).get(incident.get_absolute_url()))
    assert f'hx-get="/incidents/{incident.ref}/comms/"' in page
    assert f'hx-get="/incidents/{incident.ref}/runbooks/"' in page
    assert f'hx-get="/incidents/{incident.ref}/comms/resolve-options/"' in page


def test_panel_fragment_lists_templates_and_next_update_due(ic, incident):
    response = login(ic).get(f"/incidents/{incident.ref}/comms/", **HX)
    assert_fragment(response, "incident-comms")
    text = html(response)
    for name in ("Investigating", "Initial notification", "Incident declared"):
        assert f"Post update: {name}</a>" in text
    assert "Next update due" in text  # SEV-2: every 30 minutes


def test_template_links_say_they_post_an_update_and_look_unlike_status_buttons(ic, incident):
    """Issue 17 item 10: "Investigating" here is an update to post, not a status to set."""
    text = html(login(ic).get(f"/incidents/{incident.ref}/comms/", **HX))

    links = re.findall(r'<a [^>]*class="button comms-template[^"]*"[^>]*>([^<]*)</a>', text)
    assert links and all(label.startswith("✉ Post update: ") for label in links)
    assert "they do not change the incident's status" in text


def test_panel_without_htmx_is_a_page(viewer, incident):
    response = login(viewer).get(f"/incidents/{incident.ref}/comms/")
    assert response.status_code == 200 and 'class="topbar"' in html(response)
    assert "comms-compose" not in html(response) and "Slack webhook" not in html(response)


def test_compose_shows_the_filled_preview_with_markers(ic, incident):
    t = template(CommsKind.STATUS_PAGE, "Identified")
    response = login(ic).get(f"/incidents/{incident.ref}/comms/compose/?template={t.pk}", **HX)
    assert_fragment(response, "incident-comms")
    text = html(response)
    assert "Issue identified with Checkout API" in text
    assert "[[issue type: fill in]]" in text and "[[workaround: fill in]]" in text


@pytest.mark.parametrize(("name", "chosen"), [
    ("Identified", "partial_outage"), ("Resolved", "operational")])
def test_status_page_compose_offers_the_component_state_defaulting_from_severity(
        ic, incident, name, chosen):
    t = template(CommsKind.STATUS_PAGE, name)  # the incident is SEV-2
    text = html(login(ic).get(f"/incidents/{incident.ref}/comms/compose/?template={t.pk}", **HX))
    assert "Affected components show" in text
    assert f'<option value="{chosen}" selected>' in text


def test_other_channels_have_no_component_state(ic, incident):
    t = template(CommsKind.CUSTOMER_EMAIL, "Initial notification")
    text = html(login(ic).get(f"/incidents/{incident.ref}/comms/compose/?template={t.pk}", **HX))
    assert "Affected components show" not in text


def test_the_chosen_component_state_is_published_with_the_update(ic, incident):
    t = template(CommsKind.STATUS_PAGE, "Investigating")
    login(ic).post(f"/incidents/{incident.ref}/comms/send/", {
        "template": t.pk, "subject": "Investigating issues with Checkout API",
        "body": "Looking.", "component_state": "major_outage"}, **HX)
    assert CommsUpdate.objects.get().component_state == "major_outage"
    status = Client().get("/status/index.json").json()
    assert status["components"][0] == {"name": "Checkout API", "slug": incident.services.get().slug,
                                       "status": "major_outage", "status_label": "Major outage"}


def test_a_template_without_subject_starts_from_the_incident_title(ic, incident):
    t = CommsTemplate.objects.create(kind=CommsKind.STATUS_PAGE, name="Short note",
                                     subject="", body="Looking into {service}.")

    response = login(ic).get(f"/incidents/{incident.ref}/comms/compose/?template={t.pk}", **HX)

    assert 'value="Checkout failing"' in html(response)


def test_sending_through_the_page_publishes_and_triggers_the_timeline(ic, incident):
    t = template(CommsKind.STATUS_PAGE, "Investigating")
    response = login(ic).post(f"/incidents/{incident.ref}/comms/send/", {
        "template": t.pk, "subject": "Investigating issues with Checkout API",
        "body": "We are investigating failed payments."}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-comms")
    assert "timeline-changed" in response["HX-Trigger"]
    update = CommsUpdate.objects.get()
    assert update.status == CommsStatus.SENT and update.state == "investigating"
    assert update.sent_by == ic and update.template == t
    assert "Published" in html(response)


def test_plain_post_send_redirects_back_to_the_section(ic, incident):
    t = template(CommsKind.STATUS_PAGE, "Investigating")
    response = login(ic).post(f"/incidents/{incident.ref}/comms/send/", {
        "template": t.pk, "subject": "S", "body": "B"})
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.ref}/comms/"


def test_unfilled_text_is_400_with_the_form_kept(ic, incident):
    t = template(CommsKind.STATUS_PAGE, "Identified")
    response = login(ic).post(f"/incidents/{incident.ref}/comms/send/", {
        "template": t.pk, "subject": "S", "body": "Cause: [[issue type: fill in]]"}, **HX)
    assert response.status_code == 400
    assert "Fill in before sending: issue type" in html(response)
    assert "Cause: [[issue type: fill in]]" in html(response)
    assert not CommsUpdate.objects.exists()


def test_no_subscribers_warns_and_sends_nothing(ic, incident):
    t = template(CommsKind.CUSTOMER_EMAIL, "Initial notification")
    response = login(ic).post(f"/incidents/{incident.ref}/comms/send/", {
        "template": t.pk, "subject": "S", "body": "B"}, **HX)
    assert response.status_code == 400
    assert "no confirmed subscribers" in html(response)
    assert not CommsUpdate.objects.exists()


def test_a_viewer_may_not_send(viewer, incident):
    t = template(CommsKind.STATUS_PAGE, "Investigating")
    response = login(viewer).post(f"/incidents/{incident.ref}/comms/send/", {
        "template": t.pk, "subject": "S", "body": "B"}, **HX)
    assert response.status_code == 403
    assert not CommsUpdate.objects.exists()


def test_failed_update_shows_error_and_resend_button(ic, incident, receiver):  # noqa: F811
    services.set_slack_webhook(incident, url=receiver.url(), by=ic)
    receiver.answer(500, "boom")
    update = services.send_update(incident, channel=CommsKind.SLACK, subject="", body="Hi", by=ic)
    update.deliveries.update(attempts=5)  # the last attempt
    delivery.deliver_update(update.pk)
    client = login(ic)
    text = html(client.get(f"/incidents/{incident.ref}/comms/", **HX))
    assert "Failed" in text and "HTTP 500" in text and "Resend" in text
    receiver.answer(200, "ok")
    response = client.post(f"/incidents/{incident.ref}/comms/{update.pk}/resend/", **HX)
    assert response.status_code == 200 and "Queued again." in html(response)
    delivery.deliver_update(update.pk)
    update.refresh_from_db()
    assert update.status == CommsStatus.SENT


def test_slack_webhook_form_saves_and_never_shows_the_url(ic, incident):
    client = login(ic)
    url = "https://hooks.slack.com/services/T0/B0/SECRETTOKEN"
    response = client.post(f"/incidents/{incident.ref}/comms/slack/", {"url": url}, **HX)
    assert response.status_code == 200
    assert IncidentComms.objects.get(incident=incident).slack_webhook_url == url
    assert "SECRETTOKEN" not in html(client.get(incident.get_absolute_url()))
    assert "SECRETTOKEN" not in html(client.get(f"/incidents/{incident.ref}/comms/", **HX))


@pytest.mark.parametrize("model", ["commstemplate", "subscriber", "runbook", "commsupdate"])
def test_managers_use_the_comms_admin(manager, viewer, incident, model):
    services.send_update(incident, channel=CommsKind.STATUS_PAGE, subject="S", body="B",
                      state="investigating", by=manager)
    response = login(manager).get(f"/admin/incidents/{model}/")
    assert response.status_code == 200
    first = {"commstemplate": CommsTemplate, "commsupdate": CommsUpdate}.get(model)
    if first is not None:
        obj = first.objects.first()
        assert login(manager).get(f"/admin/incidents/{model}/{obj.pk}/change/").status_code \
            == 200
    assert login(viewer).get(f"/admin/incidents/{model}/").status_code in (302, 403)


def test_admin_add_template_refuses_unknown_placeholder_by_name(manager):
    response = login(manager).post("/admin/incidents/commstemplate/add/", {
        "kind": "slack", "name": "Custom", "state": "", "subject": "Hi",
        "body": "Service {service} ETA {etaa}", "position": 5, "is_active": "on"})
    assert response.status_code == 200
    assert "{etaa}" in html(response)
    assert not CommsTemplate.objects.filter(name="Custom").exists()


# --- Resolve flow (§6.1) -----------------------------------------------------------------

def settle(incident, by):
    for item in incident.checklist.filter(phase="closure"):
        services.set_checklist_item(item, done=True, by=by)


def test_resolve_options_prefill_the_three_resolution_updates(ic, incident):
    text = html(login(ic).get(f"/incidents/{incident.ref}/comms/resolve-options/", **HX))
    assert "Publish the resolved status-page update" in text
    assert "Resolved - Checkout API issue" in text
    assert "[[end time: fill in]]" not in text  # previewed as if resolved now
    assert "[MindWeave] Service Restored - Issue Resolved" in text
    assert "**Post-Mortem**: Scheduled for [[post mortem: fill in]]" in text


def test_a_drills_resolve_options_offer_no_customer_email(ic, service):
    drill = declare(ic, services=[service], exercise="game_day")
    text = html(login(ic).get(f"/incidents/{drill.ref}/comms/resolve-options/", **HX))

    assert "Publish the resolved status-page update" in text
    assert "[MindWeave] Service Restored - Issue Resolved" not in text
    assert 'name="customer_email_send"' not in text


def test_resolving_with_updates_sends_them_and_archives_the_channel(
        ic, incident, service, receiver):  # noqa: F811
    settle(incident, ic)
    Subscriber.objects.create(service=service, email="a@customer.example", confirmed=True)
    services.set_slack_webhook(incident, url=receiver.url(), by=ic)
    response = login(ic).post(f"/incidents/{incident.ref}/resolve/", {
        "resolution": "Rolled back the deploy.",
        "status_page_send": "on", "status_page_subject": "Resolved - Checkout API issue",
        "status_page_body": "The issue has been resolved.",
        "customer_email_send": "on", "customer_email_subject": "[MindWeave] Restored",
        "customer_email_body": "Dear Customer, it is fixed.",
        "slack_send": "on", "slack_subject": "✅ INCIDENT RESOLVED", "slack_body": "Fixed.",
    }, **HX)
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    updates = {u.channel: u for u in CommsUpdate.objects.all()}
    assert set(updates) == {"status_page", "customer_email", "slack"}
    assert updates["status_page"].state == "resolved" and updates["status_page"].is_published
    assert IncidentComms.objects.get(incident=incident).channel_archived_at is not None
    assert hasattr(Incident.objects.get(pk=incident.pk), "pir")  # the existing hook ran


def test_resolving_without_ticks_sends_nothing_but_archives(ic, incident):
    settle(incident, ic)
    login(ic).post(f"/incidents/{incident.ref}/resolve/", {
        "resolution": "Fixed.", "status_page_body": "unticked text"}, **HX)
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert not CommsUpdate.objects.exists()
    assert IncidentComms.objects.get(incident=incident).channel_archived_at is not None


def test_a_refused_update_leaves_the_incident_unresolved(ic, incident):
    settle(incident, ic)
    response = login(ic).post(f"/incidents/{incident.ref}/resolve/", {
        "resolution": "Fixed.", "status_page_send": "on", "status_page_subject": "Resolved",
        "status_page_body": "Root cause: [[root cause: fill in]]"}, **HX)
    assert response.status_code == 400
    assert "Fill in before sending: root cause" in html(response)
    incident.refresh_from_db()
    assert incident.status != Status.RESOLVED
    assert not CommsUpdate.objects.exists() and not IncidentComms.objects.exists()


@pytest.mark.parametrize("value", ["abc", "", "99999", "1e3"])
def test_compose_with_a_bad_template_is_404_not_500(ic, incident, value):
    response = login(ic).get(f"/incidents/{incident.ref}/comms/compose/?template={value}", **HX)

    assert response.status_code == 404
