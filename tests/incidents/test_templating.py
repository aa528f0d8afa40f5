"""Template rendering (handbook §5): every placeholder, markers for what is unknown,
unknown placeholders refused on save, runbook steps."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.sites import site
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.utils import timezone

from incidents import templating
from incidents.comms import compose
from incidents.models import CommsKind, CommsTemplate, Runbook
from incidents.templating import Facts, format_duration, render, runbook_steps, unfilled
from tests.incidents.factories import ServiceFactory, declare

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def full_facts(**overrides):
    values = dict(
        incident_id="INC-2026-0042", title="Checkout down", severity="SEV-2",
        status="Identified", services=("Checkout API", "Payments"),
        impact="Some customers cannot pay.", commander="Ada Lovelace",
        channel="#inc-20261127-checkout-down", started_at=T0,
        resolved_at=T0 + timedelta(hours=1, minutes=5), resolution="Rolled back v2.3.",
        next_update_at=T0 + timedelta(minutes=30), now=T0 + timedelta(minutes=10),
        status_page_url="https://status.example/status/", link="https://ir.example/i/1",
    )
    values.update(overrides)
    return Facts(**values)


FILLED = {
    "incident_id": "INC-2026-0042", "title": "Checkout down", "service": "Checkout API, Payments",
    "severity": "SEV-2", "status": "Identified", "impact": "Some customers cannot pay.",
    "commander": "Ada Lovelace", "channel": "#inc-20261127-checkout-down",
    "start_time": "2026-11-27 10:00 UTC", "end_time": "2026-11-27 11:05 UTC",
    "duration": "1 hour 5 minutes", "time": "2026-11-27 10:10 UTC",
    "next_update": "2026-11-27 10:30 UTC", "fix_applied": "Rolled back v2.3.",
    "status_page_url": "https://status.example/status/", "link": "https://ir.example/i/1",
}
ALWAYS_FOR_THE_SENDER = ["summary", "issue_type", "root_cause", "timeframe", "workaround",
                         "progress", "next_steps", "eta", "prevention", "update_interval",
                         "post_mortem"]


def test_the_table_is_exactly_the_filled_and_the_sender_written_placeholders():
    assert set(templating.PLACEHOLDERS) == set(FILLED) | set(ALWAYS_FOR_THE_SENDER)


@pytest.mark.parametrize("name", sorted(FILLED))
def test_each_known_placeholder_is_filled_from_the_incident(name):
    assert render("<{" + name + "}>", full_facts()) == f"<{FILLED[name]}>"


@pytest.mark.parametrize("name", ALWAYS_FOR_THE_SENDER)
def test_each_unknowable_placeholder_stays_marked_for_the_sender(name):
    text = render("x {" + name + "} y", full_facts())
    assert text == f"x [[{name.replace('_', ' ')}: fill in]] y"
    assert unfilled(text) == [name.replace("_", " ")]


def test_missing_facts_become_markers_not_empty_text():
    facts = full_facts(services=(), impact=None, commander=None, resolved_at=None,
                       resolution=None, next_update_at=None)
    text = render("{service}|{impact}|{commander}|{end_time}|{fix_applied}|{next_update}",
                  facts)
    assert text == ("[[service: fill in]]|[[impact: fill in]]|[[commander: fill in]]|"
                    "[[end time: fill in]]|[[fix applied: fill in]]|[[next update: fill in]]")


def test_open_incident_duration_runs_to_now():
    facts = full_facts(resolved_at=None, now=T0 + timedelta(minutes=45))
    assert render("{duration}", facts) == "45 minutes"


def test_other_braces_and_unknown_names_do_not_vanish():
    assert render("json {\"a\": 1} and {nope}", full_facts()) == \
        "json {\"a\": 1} and [[nope: fill in]]"
    assert templating.unknown_placeholders("{service} {nope}", "{nope} {other}") == \
        ["nope", "other"]


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(0), "0 minutes"), (timedelta(minutes=1), "1 minute"),
    (timedelta(hours=2), "2 hours"), (timedelta(days=1, hours=3, minutes=4), "1 day 3 hours"),
    (timedelta(minutes=-5), "0 minutes"),
])
def test_format_duration(delta, text):
    assert format_duration(delta) == text


def test_runbook_steps_are_step_headings_and_checkboxes_outside_code():
    md = ("# R\n## Quick\n### Step 1: Check pods\n```bash\n### Step 9: not a step\n"
          "- [ ] not an item\n```\n### Step 2: Check deps\n- [ ] Database\n- [x] Redis\n"
          "- plain bullet\n")
    assert runbook_steps(md) == ["Step 1: Check pods", "Step 2: Check deps", "Database",
                                 "Redis"]


# --- Seeded templates and saving ---------------------------------------------------------

SEEDED = {
    CommsKind.STATUS_PAGE: ["Investigating", "Identified", "Monitoring", "Resolved"],
    CommsKind.CUSTOMER_EMAIL: ["Initial notification", "Resolution"],
    CommsKind.SLACK: ["Incident declared", "Status update", "Incident resolved"],
}


@pytest.mark.django_db
def test_the_handbook_templates_are_seeded_and_use_only_known_placeholders():
    for kind, names in SEEDED.items():
        rows = list(CommsTemplate.objects.filter(kind=kind).values_list("name", flat=True))
        assert rows == names
    for t in CommsTemplate.objects.all():
        assert templating.unknown_placeholders(t.subject, t.body) == []
        t.full_clean()
    resolved = CommsTemplate.objects.get(kind=CommsKind.STATUS_PAGE, name="Resolved")
    assert "{root_cause}" in resolved.body and resolved.state == "resolved"


@pytest.mark.django_db
def test_preview_fills_a_seeded_template_from_a_real_incident(ic):
    service = ServiceFactory(name="Checkout API")
    incident = declare(ic, title="Checkout failing", services=[service],
                       customer_impact="Card payments fail.")
    template = CommsTemplate.objects.get(kind=CommsKind.SLACK, name="Incident declared")
    subject, body = compose.preview(template, incident)
    assert subject == "🚨 INCIDENT DECLARED"
    assert "**Severity**: SEV-2" in body and "**Service**: Checkout API" in body
    assert "**Impact**: Card payments fail." in body and "@Ic" in body
    assert incident.channel_name in body
    assert unfilled(subject, body) == []


@pytest.mark.django_db
def test_a_template_with_an_unknown_placeholder_is_refused_naming_it():
    template = CommsTemplate(kind=CommsKind.SLACK, name="Bad", body="Hi {service} {custmer}")
    with pytest.raises(ValidationError, match=r"\{custmer\}"):
        template.full_clean()
    with pytest.raises(ValidationError, match="custmer"):
        template.save()
    assert not CommsTemplate.objects.filter(name="Bad").exists()


@pytest.mark.django_db
def test_admin_form_refuses_an_unknown_placeholder(manager):
    admin = site._registry[CommsTemplate]
    request = RequestFactory().post("/")
    request.user = manager
    form_class = admin.get_form(request)
    form = form_class(data={"kind": "customer_email", "name": "X", "state": "",
                            "subject": "About {servce}", "body": "ok", "position": 1,
                            "is_active": "on"})
    assert not form.is_valid()
    assert "{servce}" in str(form.errors)


@pytest.mark.django_db
def test_the_handbook_runbooks_are_seeded_with_their_alert_names_and_steps():
    titles = list(Runbook.objects.values_list("title", flat=True))
    assert titles == ["Database Issues", "High Error Rate", "Service Down"]
    down = Runbook.objects.get(title="Service Down")
    assert down.alert_name_list() == ["ServiceDown", "HealthCheckFailed"]
    assert down.steps()[:4] == ["Step 1: Check Pod Status", "Step 2: Check Recent Events",
                                "Step 3: Check Logs", "Step 4: Check Dependencies"]
    assert "Database connectivity" in down.steps()
    assert "<script" not in down.body_html() and "<pre>" in down.body_html()


@pytest.mark.django_db
def test_every_time_a_seeded_template_prints_says_utc():
    """Customers, the status page and Slack read these in no particular zone: each time
    they carry names its zone (issue 17 item 8), whatever zone the sender views in."""
    times = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?! UTC)")
    with timezone.override("Europe/Berlin"):
        for template in CommsTemplate.objects.all():
            subject, body = render(template.subject, full_facts()), render(template.body,
                                                                           full_facts())
            assert not times.search(subject + body), template.name
    assert "2026-11-27 10:00 UTC" in render("{start_time}", full_facts())
