"""An alert storm, end to end (issue 19 item 2): eight senders post one alert per body
at once over HTTP; the requests store every body and answer at once (queued or
processed); the drain task applies the rest, as the worker does; the IC then finds one
incident with every alert, the storm noted once on its timeline, acknowledges it in
the browser, and that stops its paging.
"""

import http.client
import json
import threading
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from incidents import ingest, tasks
from incidents.models import Alert, InboundPayload, Incident, IntegrationKind, PayloadOutcome
from oncall.models import PageStatus

from .test_ic_flow import log_in
from .test_ic_loop import page_of, two_level_policy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SENDERS, ALERTS = 8, 6  # 48 alerts: past the 20 noted one by one


def body(sender, n):
    key = f"web-{sender}-{n}"
    return json.dumps({
        "version": "4", "groupKey": '{}:{alertname="CheckoutErrors"}', "status": "firing",
        "receiver": "mindweave", "groupLabels": {"alertname": "CheckoutErrors"},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
        "alerts": [{"status": "firing",
                    "labels": {"alertname": "CheckoutErrors", "instance": key,
                               "severity": "critical"},
                    "annotations": {"summary": f"Checkout 5xx on {key}"},
                    "startsAt": "2026-12-06T20:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": key}]}).encode()


def storm(url, token):
    """Every sender's bodies, one request each, all senders at once: the answers."""
    where, answers = urlsplit(url), []

    def sender(number):
        for n in range(ALERTS):
            conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
            conn.request("POST", f"/api/v1/integrations/{token}/alertmanager",
                         body(number, n), {"Content-Type": "application/json"})
            response = conn.getresponse()
            answers.append((response.status, json.loads(response.read())["message"]))
            conn.close()

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_storm_makes_one_incident_the_ic_acknowledges_and_paging_stops(
        page, live_server, ic, responder):
    two_level_policy(responder, ic)
    integration, token = ingest.create_integration(name="Prometheus",
                                                   kind=IntegrationKind.ALERTMANAGER)

    answers = storm(live_server.url, token)
    tasks.drain_inbound(integration.pk)  # what the worker does with the queued ones

    assert len(answers) == SENDERS * ALERTS
    assert {status for status, _ in answers} == {200}
    assert {message for _, message in answers} <= {"Payload processed", "Payload queued"}
    assert not InboundPayload.objects.exclude(outcome=PayloadOutcome.PROCESSED).exists()
    incident = Incident.objects.get()
    assert Alert.objects.filter(incident=incident).count() == SENDERS * ALERTS
    assert page_of(incident).status == PageStatus.TRIGGERED  # on-call paged, once

    log_in(page, "ic")
    page.goto("/incidents/alerts/")
    page.get_by_role("link", name=incident.ref).first.click()
    expect(page.get_by_role("heading", name=incident.ref)).to_be_visible()
    timeline = page.locator("body")
    expect(timeline).to_contain_text("More than 20 alerts have joined")
    assert page.locator("text=More than 20 alerts have joined").count() == 1

    page.get_by_role("button", name="Acknowledge & investigate").click()

    expect(page.locator("#incident-paging")).to_contain_text("Acknowledged")
    assert page_of(incident).status == PageStatus.ACKNOWLEDGED
