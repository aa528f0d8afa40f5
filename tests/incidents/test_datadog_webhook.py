"""The README's Datadog webhook payloads (issue 20 item 4), as Datadog fills them in,
posted to the Events API endpoint: the trigger opens an alert, the recovery resolves it."""

import json
import re
from pathlib import Path

import pytest

from incidents import ingest
from incidents.models import Alert, AlertStatus, IntegrationKind, Severity

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
# What Datadog put in for its variables when a monitor on one host alerted.
DATADOG = {
    "$ALERT_CYCLE_KEY": "7106164590465934583", "$EVENT_TITLE": "[Triggered on {host:web-1}] "
    "CPU above 90%", "$HOSTNAME": "web-1", "$ALERT_TYPE": "error", "$ALERT_ID": "1234",
    "$ALERT_STATUS": "system.cpu.user over host:web-1 was > 90 on average during the "
                     "last 5m.", "$ALERT_SCOPE": "host:web-1", "$ALERT_PRIORITY": "P2",
    "$LINK": "https://app.datadoghq.com/event/event?id=7106164590465934583",
}


def payload(marker, token):
    """The JSON block after `<!-- marker -->` in the README, filled in as Datadog does."""
    block = re.search(rf"<!-- {marker} -->\n```json\n(.*?)```", README.read_text(), re.S)
    assert block, f"the README lost its {marker} payload"
    text = block.group(1).replace("TOKEN", token)
    for name in sorted(DATADOG, key=len, reverse=True):
        text = text.replace(name, json.dumps(DATADOG[name])[1:-1])
    assert "$" not in text  # every variable it uses is filled in
    return text


def test_the_readme_datadog_payloads_open_then_resolve_an_alert(api, default_policy):
    _, token = ingest.create_integration(name="Datadog", kind=IntegrationKind.EVENTS)

    opened = api.post("/api/v1/events/v2/enqueue", payload("datadog-trigger", token),
                      content_type="application/json")
    assert opened.status_code == 202, opened.content
    alert = Alert.objects.get()
    assert alert.key == DATADOG["$ALERT_CYCLE_KEY"]
    assert alert.summary == DATADOG["$EVENT_TITLE"]
    assert alert.incident.severity == Severity.SEV2  # "error"
    assert alert.paged

    resolved = api.post("/api/v1/events/v2/enqueue", payload("datadog-resolve", token),
                        content_type="application/json")
    assert resolved.status_code == 202, resolved.content
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
