"""Sending updates (handbook §5): stored, on the timeline, sent after commit through a
real local SMTP server and HTTP receiver, at most once, retried, resendable."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from incidents import services
from incidents.comms import delivery
from incidents.models import (
    CommsDelivery,
    CommsKind,
    CommsStatus,
    CommsTemplate,
    CommsUpdate,
    IncidentComms,
    Subscriber,
    TimelineEntry,
)
from oncall.models import DeliveryStatus
from tests.conftest import make_user
from tests.incidents.factories import ServiceFactory, declare
from tests.oncall.conftest import receiver, smtp_server  # noqa: F401 - real peers

pytestmark = pytest.mark.django_db


@pytest.fixture
def service():
    return ServiceFactory(name="Checkout API")


@pytest.fixture
def incident(ic, service):
    return declare(ic, title="Checkout failing", services=[service])


def subscribe(service, *emails, confirmed=True):
    for email in emails:
        Subscriber.objects.create(service=service, email=email, confirmed=confirmed)


def send(incident, by, channel, subject="Subject", body="Body text", **kwargs):
    return services.send_update(incident, channel=channel, subject=subject, body=body, by=by,
                             **kwargs)


def entries(incident):
    return list(TimelineEntry.objects.filter(incident=incident).values_list("body", flat=True))


# --- Status page ------------------------------------------------------------------------

def test_status_page_update_is_published_at_once_and_on_the_timeline(ic, incident):
    template = CommsTemplate.objects.get(kind=CommsKind.STATUS_PAGE, name="Investigating")
    update = send(incident, ic, CommsKind.STATUS_PAGE, "Investigating issues with Checkout API",
                  "We are looking into failed payments.", template=template)
    assert update.status == CommsStatus.SENT and update.state == "investigating"
    assert update.is_published and update.deliveries.count() == 0
    assert any("Status page update published" in e and "failed payments" in e
               for e in entries(incident))


def test_status_page_update_needs_a_state(ic, incident):
    with pytest.raises(services.IncidentError, match="state"):
        send(incident, ic, CommsKind.STATUS_PAGE)
    assert not CommsUpdate.objects.exists()


def test_text_with_unfilled_markers_is_refused_naming_them(ic, incident):
    with pytest.raises(services.IncidentError, match="root cause, eta"):
        send(incident, ic, CommsKind.STATUS_PAGE, body="Cause: [[root cause: fill in]] "
             "[[eta: fill in]]", state="identified")
    assert not CommsUpdate.objects.exists()


# --- Permissions ------------------------------------------------------------------------

def test_only_comms_lead_commander_ics_and_managers_send(
        django_user_model, ic, responder, viewer, manager, incident):
    for user in (responder, viewer):
        with pytest.raises(PermissionDenied):
            send(incident, user, CommsKind.STATUS_PAGE, state="investigating")
    services.assign_role(incident, role="communications_lead", user=responder, by=ic)
    incident.refresh_from_db()
    send(incident, responder, CommsKind.STATUS_PAGE, state="investigating")
    send(incident, manager, CommsKind.STATUS_PAGE, state="identified")
    other_ic = make_user(django_user_model, "other-ic", "Incident Commander")
    send(incident, other_ic, CommsKind.STATUS_PAGE, state="monitoring")
    assert CommsUpdate.objects.count() == 3


# --- Customer email ---------------------------------------------------------------------

def test_customer_email_goes_to_confirmed_subscribers_through_smtp(
        ic, incident, service, smtp_server, django_capture_on_commit_callbacks):  # noqa: F811
    subscribe(service, "a@customer.example", "b@customer.example")
    subscribe(service, "unconfirmed@customer.example", confirmed=False)
    other = ServiceFactory(name="Unrelated")
    subscribe(other, "other@customer.example")
    with django_capture_on_commit_callbacks() as callbacks:
        update = send(incident, ic, CommsKind.CUSTOMER_EMAIL, "[MindWeave] Service Disruption",
                      "Dear Customer,\n\nWe are on it.")
    # the delivery task's wake-up, and the incident's live version
    assert len(callbacks) == 2 and update.status == CommsStatus.QUEUED
    assert update.recipients == 2
    assert delivery.deliver_update(update.pk) is None
    update.refresh_from_db()
    assert update.status == CommsStatus.SENT and update.attempts == 2
    got = sorted(rcpt for rcpts, _ in smtp_server.messages for rcpt in rcpts)
    assert got == ["a@customer.example", "b@customer.example"]
    message = smtp_server.messages[0][1]
    assert message["Subject"] == "[MindWeave] Service Disruption"
    assert "We are on it." in message.get_body(("plain",)).get_content()
    assert any("Customer email queued** to 2 subscribers" in e for e in entries(incident))


def test_delivering_twice_sends_once(ic, incident, service, smtp_server):  # noqa: F811
    subscribe(service, "a@customer.example")
    update = send(incident, ic, CommsKind.CUSTOMER_EMAIL)
    row = update.deliveries.get()
    assert delivery.deliver(row.pk)[0].startswith("sent")
    assert delivery.deliver(row.pk) == ("not mine", None)
    delivery.deliver_due()
    assert len(smtp_server.messages) == 1


def test_no_confirmed_subscribers_warns_and_sends_nothing(ic, incident, service):
    subscribe(service, "pending@customer.example", confirmed=False)
    before = len(entries(incident))
    with pytest.raises(services.NothingToSend, match="Checkout API.*no confirmed subscribers"):
        send(incident, ic, CommsKind.CUSTOMER_EMAIL)
    assert not CommsUpdate.objects.exists() and not CommsDelivery.objects.exists()
    assert len(entries(incident)) == before


def test_a_drill_never_emails_customers(ic, service):
    subscribe(service, "a@customer.example")
    drill = declare(ic, services=[service], exercise="game_day")
    with pytest.raises(services.NothingToSend, match="drill"):
        send(drill, ic, CommsKind.CUSTOMER_EMAIL)
    assert not CommsUpdate.objects.exists()


def test_a_refused_address_fails_that_delivery_and_the_rest_are_sent(
        ic, incident, service, smtp_server):  # noqa: F811
    subscribe(service, "a@customer.example", "nobody@customer.example")
    update = send(incident, ic, CommsKind.CUSTOMER_EMAIL)
    delivery.deliver_update(update.pk)
    update.refresh_from_db()
    assert update.status == CommsStatus.FAILED
    assert "1 of 2 failed" in update.error and "550" in update.error
    assert [r for r, _ in smtp_server.messages] == [["a@customer.example"]]


# --- Slack ------------------------------------------------------------------------------

def test_slack_post_goes_to_the_incident_webhook(ic, incident, receiver):  # noqa: F811
    services.set_slack_webhook(incident, url=receiver.url("/hook/T000/SECRET"), by=ic)
    update = send(incident, ic, CommsKind.SLACK, "🚨 INCIDENT DECLARED", "**Severity**: SEV-2")
    delivery.deliver_update(update.pk)
    update.refresh_from_db()
    assert update.status == CommsStatus.SENT
    payload = json.loads(receiver.requests[0]["body"])
    assert "INCIDENT DECLARED" in payload["blocks"][0]["text"]["text"]
    assert "**Severity**: SEV-2" in payload["blocks"][0]["text"]["text"]
    assert receiver.requests[0]["path"] == "/hook/T000/SECRET"
    assert not any("SECRET" in e for e in entries(incident))


def test_slack_without_webhook_warns_and_sends_nothing(ic, incident):
    with pytest.raises(services.NothingToSend, match="Slack webhook"):
        send(incident, ic, CommsKind.SLACK)
    assert not CommsUpdate.objects.exists()


def test_a_bad_webhook_url_is_refused(ic, incident):
    with pytest.raises(services.IncidentError, match="valid URL"):
        services.set_slack_webhook(incident, url="file:///etc/passwd", by=ic)
    assert not IncidentComms.objects.exists()


def test_transient_failure_retries_with_backoff_then_delivers(
        ic, incident, receiver, time_machine):  # noqa: F811
    time_machine.move_to(timezone.now(), tick=False)
    services.set_slack_webhook(incident, url=receiver.url(), by=ic)
    receiver.answer(503, "busy")
    update = send(incident, ic, CommsKind.SLACK)
    assert delivery.deliver_update(update.pk) == 10
    row = update.deliveries.get()
    assert row.status == DeliveryStatus.QUEUED and "503" in row.error
    assert delivery.deliver_due() == 0  # not due yet: nothing sent early
    assert len(receiver.requests) == 1
    receiver.answer(200, "ok")
    time_machine.shift(timedelta(seconds=11))
    assert delivery.deliver_due() == 1
    update.refresh_from_db()
    assert update.status == CommsStatus.SENT and update.attempts == 2


def test_permanent_failure_shows_the_error_and_resend_delivers(
        ic, incident, receiver, django_capture_on_commit_callbacks):  # noqa: F811
    services.set_slack_webhook(incident, url=receiver.url(), by=ic)
    receiver.answer(404, "no_service")
    update = send(incident, ic, CommsKind.SLACK)
    delivery.deliver_update(update.pk)
    update.refresh_from_db()
    assert update.status == CommsStatus.FAILED and "no_service" in update.error
    with pytest.raises(services.IncidentError, match="Only a failed"):
        services.resend_update(CommsUpdate.objects.create(
            incident=incident, channel=CommsKind.SLACK, body="x", status=CommsStatus.SENT),
            by=ic)
    receiver.answer(200, "ok")
    with django_capture_on_commit_callbacks() as callbacks:
        services.resend_update(update, by=ic)
    assert len(callbacks) == 2  # the wake-up, and the incident's live version
    delivery.deliver_update(update.pk)
    update.refresh_from_db()
    assert update.status == CommsStatus.SENT and update.error == ""
    assert len(receiver.requests) == 2
    assert any("update resent" in e for e in entries(incident))


def test_a_delivery_stuck_mid_send_is_failed_not_resent(ic, incident, receiver, time_machine):  # noqa: F811,E501
    services.set_slack_webhook(incident, url=receiver.url(), by=ic)
    update = send(incident, ic, CommsKind.SLACK)
    CommsDelivery.objects.filter(update=update).update(
        status=DeliveryStatus.SENDING, sending_at=timezone.now())
    time_machine.move_to(timezone.now() + timedelta(minutes=5))
    delivery.deliver_due()
    update.refresh_from_db()
    assert update.status == CommsStatus.FAILED and "outcome unknown" in update.error
    assert receiver.requests == []


# --- On a real worker -------------------------------------------------------------------

@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_update_is_sent_by_a_real_worker_after_commit(ic, smtp_server):  # noqa: F811
    from celery.contrib.testing.worker import start_worker

    from mindweave_ir.celery import app
    from tests.waiting import wait_for

    service = ServiceFactory(name="Worker service")
    incident = declare(ic, services=[service])
    subscribe(service, "a@customer.example")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        update = send(incident, ic, CommsKind.CUSTOMER_EMAIL, "Hello", "From the worker.")
        assert wait_for(lambda: CommsUpdate.objects.get(pk=update.pk).status
                        == CommsStatus.SENT), "the worker never sent the update"
    assert [r for r, _ in smtp_server.messages] == [["a@customer.example"]]
