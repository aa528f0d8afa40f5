"""Incident pages through the Django test client: full pages and HTMX fragments.

An HTMX request (header HX-Request) must get only the fragment it swaps, never the
whole page; a plain POST that succeeds redirects back to the page. Every refusal
checks the database did not change (`snapshot` before and after).
"""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from incidents import checklists, services
from incidents.models import (
    ChecklistItem,
    ChecklistPhase,
    Incident,
    Service,
    Severity,
    Status,
    TimelineEntry,
    TimelineKind,
    TimelineRevision,
)
from oncall.models import Profile
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
LOGIN = "/accounts/login/"



# --- helpers ---------------------------------------------------------------------------

def assert_full_page(response):
    text = html(response)
    assert text.lstrip().lower().startswith("<!doctype html>")
    assert "<html" in text


def hx_trigger(response):
    return response.headers.get("HX-Trigger", "")


def declare(by, title="Checkout is down", severity=Severity.SEV2, **kwargs):
    return services.declare_incident(title=title, severity=severity, by=by, **kwargs)


def url(incident, suffix=""):
    return f"/incidents/{incident.ref}/{suffix}"


def snapshot(incident):
    """Everything a refused request must leave alone, read fresh from the database."""
    fresh = Incident.objects.get(pk=incident.pk)
    return {
        "incident": (fresh.status, fresh.severity, fresh.commander_id, fresh.technical_lead_id,
                     fresh.communications_lead_id, fresh.resolution, fresh.resolved_at,
                     fresh.acknowledged_at, fresh.updated_at),
        "responders": set(fresh.responders.values_list("pk", flat=True)),
        "timeline": list(TimelineEntry.objects.filter(incident=fresh).order_by("pk")
                         .values_list("pk", "kind", "body", "version", "deleted_at")),
        "revisions": TimelineRevision.objects.filter(entry__incident=fresh).count(),
        "checklist": list(ChecklistItem.objects.filter(incident=fresh).order_by("pk")
                          .values_list("pk", "done_at", "done_by", "waived_reason")),
    }


def closure_items(incident):
    return list(incident.checklist.filter(phase=ChecklistPhase.CLOSURE).order_by("position"))


def settle_closure(incident, by):
    for item in closure_items(incident):
        services.waive_checklist_item(item, reason="Not needed in tests", by=by)


def section(text, start_marker, end_marker=None):
    start = text.index(start_marker)
    end = text.index(end_marker, start) if end_marker else len(text)
    return text[start:end]


@pytest.fixture
def checkout(db):
    return Service.objects.create(name="Checkout", slug="checkout")


@pytest.fixture
def incident(ic, checkout):
    """A SEV-2 commanded by `ic`, with one hand-written note."""
    inc = declare(ic, services=[checkout], customer_impact="Customers cannot pay.")
    services.add_timeline_entry(inc, body="Error rate at 40% on checkout-api", by=ic)
    return inc


@pytest.fixture
def note(incident):
    return incident.timeline.get(kind=TimelineKind.NOTE)


# --- Login and probes ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/incidents/", "/incidents/declare/", "/oncall/me/"])
def test_anonymous_get_redirects_to_login_with_next(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={path}"


def test_anonymous_incident_page_redirects_to_login(client, incident):
    response = client.get(url(incident))
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={url(incident)}"


def test_anonymous_htmx_post_is_refused_and_changes_nothing(client, incident):
    before = snapshot(incident)
    response = client.post(url(incident, "status/"), {"to": "investigating"}, **HX)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert snapshot(incident) == before


def test_login_page_is_open(client, db):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert 'name="password"' in html(response)


def test_healthz_is_open_and_says_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_readyz_is_open_and_reports_database_and_broker_ok(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "database": "ok", "broker": "ok", "pdf": "ok"}


# --- Declare wizard --------------------------------------------------------------------

SEV2_ANSWERS = {"q_security_breach": "no", "q_service_unavailable": "no",
                "q_majority_affected": "yes"}


def details(**overrides):
    data = {**SEV2_ANSWERS, "declare": "1", "title": "Checkout errors", "severity": "2",
            "detection_source": "datadog", "description": "500s from checkout-api",
            "customer_impact": "Some payments fail"}
    data.update(overrides)
    return data


def test_declare_get_shows_only_the_first_question(client, responder):
    client.force_login(responder)
    response = client.get("/incidents/declare/")
    assert response.status_code == 200
    text = html(response)
    assert "Step 1: Is there a security breach?" in text
    assert 'name="q_security_breach" value="yes"' in text
    assert "Is the service completely unavailable?" not in text
    assert 'name="title"' not in text


def test_declare_answer_no_moves_to_the_next_question_and_carries_the_answer(client, responder):
    client.force_login(responder)
    response = client.post("/incidents/declare/", {"q_security_breach": "no"})
    assert response.status_code == 200
    text = html(response)
    assert "Step 2: Is the service completely unavailable?" in text
    assert '<input type="hidden" name="q_security_breach" value="no">' in text
    assert "Is more than 50% of functionality affected?" not in text


def test_declare_wizard_step_over_htmx_returns_only_the_wizard(client, responder):
    client.force_login(responder)
    response = client.post("/incidents/declare/",
                           {"q_security_breach": "no", "q_service_unavailable": "no"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "wizard")
    assert "Step 3: Is more than 50% of functionality affected?" in html(response)


def test_declare_back_removes_the_last_answer(client, responder):
    client.force_login(responder)
    response = client.post("/incidents/declare/", {
        "q_security_breach": "no", "q_service_unavailable": "no", "back": "1"})
    text = html(response)
    assert response.status_code == 200
    assert "Step 2: Is the service completely unavailable?" in text
    assert '<input type="hidden" name="q_service_unavailable"' not in text
    assert response.context["answers"] == {"security_breach": "no"}
    assert '<input type="hidden" name="q_security_breach" value="no">' in text


def test_declare_back_from_the_details_form_returns_to_the_deciding_question(client, responder):
    client.force_login(responder)
    response = client.post("/incidents/declare/", {**SEV2_ANSWERS, "back": "1"})
    text = html(response)
    assert "Step 3: Is more than 50% of functionality affected?" in text
    assert 'name="title"' not in text


def test_declare_reaching_a_severity_shows_details_with_it_preselected(client, responder):
    client.force_login(responder)
    response = client.post("/incidents/declare/", SEV2_ANSWERS)
    assert response.status_code == 200
    text = html(response)
    assert response.context["outcome"].severity == Severity.SEV2
    assert 'name="title"' in text
    assert re.search(r'<option value="2" selected>SEV-2</option>', text)
    assert not re.search(r'<option value="[134]" selected>', text)
    assert "Step 4" not in text


def test_declare_all_no_gives_sev4(client, responder):
    client.force_login(responder)
    response = client.post("/incidents/declare/", {
        "q_security_breach": "no", "q_service_unavailable": "no",
        "q_majority_affected": "no", "q_customers_affected": "no"})
    assert re.search(r'<option value="4" selected>SEV-4</option>', html(response))


def test_declare_creates_incident_and_redirects_to_its_page(client, responder, checkout):
    client.force_login(responder)
    response = client.post("/incidents/declare/", details(services=[checkout.pk]))
    assert response.status_code == 302
    assert re.fullmatch(r"/incidents/INC-\d{4}-\d{4}/", response["Location"])
    incident = Incident.objects.get()
    assert response["Location"] == f"/incidents/{incident.ref}/"
    assert incident.ref == f"INC-{timezone.now().year}-0001"
    assert incident.title == "Checkout errors"
    assert incident.severity == Severity.SEV2
    assert incident.classified_severity == Severity.SEV2
    assert incident.classification == {"security_breach": "no", "service_unavailable": "no",
                                       "majority_affected": "yes"}
    assert incident.commander == responder
    assert list(incident.services.all()) == [checkout]
    assert incident.timeline.filter(kind=TimelineKind.DECLARED).count() == 1


def test_declare_over_htmx_answers_with_hx_redirect(client, responder):
    client.force_login(responder)
    response = client.post("/incidents/declare/", details(), **HX)
    incident = Incident.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/incidents/{incident.ref}/"


def test_declaring_a_game_day_marks_the_incident_as_one(client, responder):
    client.force_login(responder)
    response = client.post("/incidents/declare/", details(exercise="game_day"))
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert incident.exercise == "game_day"
    assert "Game day" in html(client.get(incident.get_absolute_url()))


def test_declare_without_title_is_400_with_error_beside_field_and_values_kept(client, responder):
    client.force_login(responder)
    response = client.post("/incidents/declare/", details(title=""))
    assert response.status_code == 400
    text = html(response)
    title_field = section(text, '<div class="field field-title', '<div class="row">')
    assert "has-error" in title_field
    assert "This field is required." in title_field
    assert "500s from checkout-api</textarea>" in text
    assert "Some payments fail</textarea>" in text
    assert re.search(r'<option value="datadog" selected>', text)
    assert Incident.objects.count() == 0


def test_declare_other_severity_without_reason_is_400_on_override_reason(client, responder):
    client.force_login(responder)
    response = client.post("/incidents/declare/", details(severity="1", override_reason=""))
    assert response.status_code == 400
    text = html(response)
    reason_field = section(text, '<div class="field field-override_reason',
                           '<div class="field field-description')
    assert "has-error" in reason_field
    assert "Say why you chose SEV-1" in reason_field
    assert Incident.objects.count() == 0
    assert TimelineEntry.objects.count() == 0


def test_declare_other_severity_with_reason_keeps_both_severities(client, responder):
    client.force_login(responder)
    response = client.post("/incidents/declare/",
                           details(severity="1", override_reason="Biggest customer is down"))
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.severity == Severity.SEV1
    assert incident.classified_severity == Severity.SEV2
    assert incident.severity_override_reason == "Biggest customer is down"


def test_declare_htmx_validation_error_returns_wizard_fragment_with_400(client, responder):
    client.force_login(responder)
    response = client.post("/incidents/declare/", details(title=""), **HX)
    assert response.status_code == 400
    assert_fragment(response, "wizard")
    assert "This field is required." in html(response)
    assert "HX-Redirect" not in response.headers
    assert Incident.objects.count() == 0


def test_declare_with_future_detection_is_400_and_creates_nothing(client, responder):
    client.force_login(responder)
    future = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/incidents/declare/", details(detected_at=future))
    assert response.status_code == 400
    assert "cannot be in the future" in html(response)
    assert Incident.objects.count() == 0


def test_declare_times_are_read_in_the_users_zone(client, responder):
    client.force_login(responder)
    client.post("/oncall/me/", {"timezone": "America/New_York"})
    response = client.post("/incidents/declare/", details(
        started_at="2025-01-15T09:00", detected_at="2025-01-15T09:30"))
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.started_at == datetime(2025, 1, 15, 14, 0, tzinfo=UTC)
    assert incident.detected_at == datetime(2025, 1, 15, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize("method", ["get", "post"])
def test_viewer_cannot_declare(client, viewer, method):
    client.force_login(viewer)
    response = getattr(client, method)("/incidents/declare/",
                                       details() if method == "post" else None)
    assert response.status_code == 403
    assert Incident.objects.count() == 0


# --- Incident page ---------------------------------------------------------------------

def test_incident_page_shows_severity_status_slas_roles_checklist_timeline(
        client, viewer, incident):
    client.force_login(viewer)
    response = client.get(url(incident))
    assert response.status_code == 200
    assert_full_page(response)
    text = html(response)
    assert incident.ref in text
    assert "Checkout is down" in text
    assert '<span class="badge sev-2"' in text and "SEV-2</span>" in text
    assert '<span class="badge status-declared">Declared</span>' in text
    assert "Response: <span" in text and "Resolution: <span" in text
    assert 'class="sla sla-running"' in text
    roles = section(text, 'id="incident-roles"', 'id="incident-checklist"')
    assert "Incident Commander" in roles and "Technical Lead" in roles
    assert re.search(r"<dt>Incident Commander</dt>\s*<dd>\s*Ic\s*</dd>", roles)
    checklist = section(text, 'id="incident-checklist"')
    for phase_label in checklists.PHASE_LABELS.values():
        assert phase_label in checklist
    assert "Acknowledge the alert" in checklist
    timeline = section(text, 'id="incident-timeline"', "</ol>")
    assert "Incident declared" in timeline
    assert "Error rate at 40% on checkout-api" in timeline
    assert "Customers cannot pay." in text
    assert "Checkout" in text


def test_incident_page_hides_controls_from_viewer(client, viewer, incident):
    client.force_login(viewer)
    text = html(client.get(url(incident)))
    assert 'id="timeline-form"' not in text
    assert "Change severity" not in text
    assert "Join the response" not in text


def test_incident_page_unknown_id_is_404(client, viewer, db):
    client.force_login(viewer)
    assert client.get("/incidents/INC-1999-9999/").status_code == 404


def test_incident_page_accepts_lower_case_id(client, viewer, incident):
    client.force_login(viewer)
    response = client.get(f"/incidents/{incident.ref.lower()}/")
    assert response.status_code == 200
    assert response.context["incident"] == incident


def test_markup_in_a_title_is_escaped_everywhere(client, ic):
    incident = declare(ic, title="<script>alert(1)</script> checkout")
    client.force_login(ic)
    for path in (url(incident), "/incidents/", "/"):
        text = html(client.get(path))
        assert "&lt;script&gt;alert(1)&lt;/script&gt; checkout" in text
        assert "<script>alert(1)" not in text


def test_htmx_post_carries_csrf_token_from_body_hx_headers(ic, incident):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ic)
    page = html(client.get(url(incident)))
    token = re.search(r"""<body hx-headers='\{"x-csrftoken": "([^"]+)"\}'>""", page).group(1)
    refused = client.post(url(incident, "status/"), {"to": "investigating"}, **HX)
    assert refused.status_code == 403
    assert Incident.objects.get(pk=incident.pk).status == Status.DECLARED
    response = client.post(url(incident, "status/"), {"to": "investigating"}, **HX,
                           HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert Incident.objects.get(pk=incident.pk).status == Status.INVESTIGATING


# --- Status, severity, roles, join ---------------------------------------------------

def test_htmx_transition_returns_header_fragment_and_triggers_timeline(client, ic, incident):
    client.force_login(ic)
    response = client.post(url(incident, "status/"), {"to": "investigating"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-header")
    assert 'id="incident-timeline"' not in html(response)
    assert "timeline-changed" in hx_trigger(response)
    assert '<span class="badge status-investigating">Investigating</span>' in html(response)
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
    assert incident.acknowledged_at is not None
    entry = incident.timeline.get(kind=TimelineKind.STATUS)
    assert "Declared → **Investigating**" in entry.body
    assert entry.author == ic


def test_htmx_illegal_transition_is_400_with_reason_and_changes_nothing(client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "status/"), {"to": "monitoring"}, **HX)
    assert response.status_code == 400
    assert_fragment(response, "incident-header")
    assert "Declared cannot go to Monitoring" in html(response)
    assert "timeline-changed" not in hx_trigger(response)
    assert snapshot(incident) == before


def test_transition_to_unknown_status_is_400(client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "status/"), {"to": "exploded"}, **HX)
    assert response.status_code == 400
    assert "Choose a status." in html(response)
    assert snapshot(incident) == before


def test_plain_post_transition_redirects_back_to_incident_page(client, ic, incident):
    client.force_login(ic)
    response = client.post(url(incident, "status/"), {"to": "investigating"})
    assert response.status_code == 302
    assert response["Location"] == url(incident)
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING


def test_plain_post_refused_transition_renders_full_page_with_reason(client, ic, incident):
    client.force_login(ic)
    response = client.post(url(incident, "status/"), {"to": "monitoring"})
    assert response.status_code == 400
    assert_full_page(response)
    assert "Declared cannot go to Monitoring" in html(response)


def test_htmx_severity_escalation_returns_header_and_writes_timeline(client, ic, incident):
    client.force_login(ic)
    response = client.post(url(incident, "severity/"), {"to": "1"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-header")
    assert "timeline-changed" in hx_trigger(response)
    incident.refresh_from_db()
    assert incident.severity == Severity.SEV1
    assert incident.timeline.filter(kind=TimelineKind.SEVERITY).count() == 1


def test_htmx_severity_lowering_without_reason_is_400_and_changes_nothing(
        client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "severity/"), {"to": "4", "reason": ""}, **HX)
    assert response.status_code == 400
    assert_fragment(response, "incident-header")
    assert "Say why the severity is being lowered." in html(response)
    assert snapshot(incident) == before


def test_htmx_role_assignment_returns_roles_fragment(client, ic, responder, incident):
    client.force_login(ic)
    response = client.post(url(incident, "roles/"),
                           {"role": "technical_lead", "user": responder.pk}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-roles")
    assert 'id="incident-header"' not in html(response)
    assert "timeline-changed" in hx_trigger(response)
    assert re.search(rf'<option value="{responder.pk}" selected>Responder</option>',
                     html(response))
    incident.refresh_from_db()
    assert incident.technical_lead == responder
    assert incident.timeline.filter(kind=TimelineKind.ROLE).count() == 1


def test_role_assignment_to_a_viewer_is_400_and_changes_nothing(client, ic, viewer, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "roles/"),
                           {"role": "technical_lead", "user": viewer.pk}, **HX)
    assert response.status_code == 400
    assert_fragment(response, "incident-roles")
    assert snapshot(incident) == before


def test_unassigning_the_commander_is_400_and_changes_nothing(client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "roles/"), {"role": "commander", "user": ""}, **HX)
    assert response.status_code == 400
    assert_fragment(response, "incident-roles")
    assert "always has an Incident Commander" in html(response)
    assert snapshot(incident) == before


def test_htmx_unassigning_the_technical_lead(client, ic, responder, incident):
    services.assign_role(incident, role="technical_lead", user=responder, by=ic)
    client.force_login(ic)
    response = client.post(url(incident, "roles/"), {"role": "technical_lead", "user": ""},
                           **HX)
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.technical_lead is None


def test_htmx_join_adds_responder_and_returns_roles_fragment(client, responder, incident):
    client.force_login(responder)
    response = client.post(url(incident, "join/"), **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-roles")
    assert "timeline-changed" in hx_trigger(response)
    assert "Join the response" not in html(response)
    assert list(incident.responders.all()) == [responder]
    roles = html(response)
    assert "Responder" in section(roles, "<dt>Responders</dt>")


def test_joining_twice_is_400_and_adds_nothing(client, responder, incident):
    services.join_incident(incident, by=responder)
    client.force_login(responder)
    before = snapshot(incident)
    response = client.post(url(incident, "join/"), **HX)
    assert response.status_code == 400
    assert "already working on this incident" in html(response)
    assert snapshot(incident) == before


def _viewer_requests(incident):
    entry = incident.timeline.get(kind=TimelineKind.NOTE)
    item = closure_items(incident)[0]
    return {
        "transition": (url(incident, "status/"), {"to": "investigating"}),
        "severity": (url(incident, "severity/"), {"to": "1"}),
        "role": (url(incident, "roles/"), {"role": "commander",
                                           "user": incident.commander_id}),
        "join": (url(incident, "join/"), {}),
        "resolve": (url(incident, "resolve/"), {"resolution": "Fixed"}),
        "timeline-add": (url(incident, "timeline/"), {"body": "viewer was here",
                                                      "kind": "note"}),
        "entry-edit": (url(incident, f"timeline/{entry.pk}/edit/"),
                       {"body": "viewer edit", "kind": "note", "version": entry.version}),
        "entry-delete": (url(incident, f"timeline/{entry.pk}/delete/"),
                         {"version": entry.version}),
        "checklist-tick": (url(incident, f"checklist/{item.pk}/"), {"done": "on"}),
        "checklist-waive": (url(incident, f"checklist/{item.pk}/waive/"),
                            {"reason": "viewer says so"}),
    }


VIEWER_ACTIONS = ["transition", "severity", "role", "join", "resolve", "timeline-add",
                  "entry-edit", "entry-delete", "checklist-tick", "checklist-waive"]


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
@pytest.mark.parametrize("action", VIEWER_ACTIONS)
def test_viewer_post_is_403_and_changes_nothing(client, viewer, incident, action, htmx):
    client.force_login(viewer)
    path, data = _viewer_requests(incident)[action]
    before = snapshot(incident)
    response = client.post(path, data, **(HX if htmx else {}))
    assert response.status_code == 403
    assert snapshot(incident) == before
    if htmx:
        assert "<html" not in html(response)


def test_responder_not_on_incident_cannot_change_status(client, responder, incident):
    client.force_login(responder)
    before = snapshot(incident)
    response = client.post(url(incident, "status/"), {"to": "investigating"}, **HX)
    assert response.status_code == 403
    assert snapshot(incident) == before


# --- Timeline --------------------------------------------------------------------------

def test_htmx_timeline_add_returns_blank_form_and_triggers_refresh(client, ic, incident):
    client.force_login(ic)
    response = client.post(url(incident, "timeline/"),
                           {"body": "Rolled back deploy 4711", "kind": "action"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "timeline-form")
    assert 'id="incident-timeline"' not in html(response)
    assert "Rolled back deploy 4711" not in html(response)
    assert re.search(r'<textarea name="body"[^>]*>\s*</textarea>', html(response))
    assert "timeline-changed" in hx_trigger(response)
    entry = incident.timeline.get(body="Rolled back deploy 4711")
    assert entry.kind == TimelineKind.ACTION
    assert entry.author == ic


def test_htmx_timeline_get_returns_only_the_timeline(client, viewer, incident):
    client.force_login(viewer)
    response = client.get(url(incident, "timeline/"), **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-timeline")
    assert "Error rate at 40% on checkout-api" in html(response)


def test_plain_post_timeline_add_redirects_back(client, ic, incident):
    client.force_login(ic)
    response = client.post(url(incident, "timeline/"), {"body": "Paged DB team", "kind": "note"})
    assert response.status_code == 302
    assert response["Location"] == url(incident)
    assert incident.timeline.filter(body="Paged DB team").exists()


@pytest.mark.parametrize("body", ["", "   \n  "])
def test_timeline_add_empty_body_is_400_with_error_and_saves_nothing(client, ic, incident, body):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "timeline/"), {"body": body, "kind": "note"}, **HX)
    assert response.status_code == 400
    assert_fragment(response, "timeline-form")
    assert "This field is required." in html(response)
    assert "timeline-changed" not in hx_trigger(response)
    assert snapshot(incident) == before


def test_timeline_add_system_kind_is_refused(client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "timeline/"), {"body": "fake", "kind": "resolved"}, **HX)
    assert response.status_code == 400
    assert snapshot(incident) == before


@pytest.mark.parametrize("body", [
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    '<a href="javascript:alert(1)">y</a> <img src=x onerror=alert(1)>',
])
def test_timeline_markup_is_stored_as_typed_and_rendered_harmless(client, ic, incident, body):
    client.force_login(ic)
    client.post(url(incident, "timeline/"), {"body": body, "kind": "note"}, **HX)
    entry = incident.timeline.get(kind=TimelineKind.NOTE, body=body)
    assert entry.body == body
    for response in (client.get(url(incident, "timeline/"), **HX), client.get(url(incident))):
        timeline = section(html(response), 'id="incident-timeline"', "</ol>")
        assert f'id="entry-{entry.pk}"' in timeline
        assert "<script" not in timeline.lower()
        assert "javascript:" not in timeline.lower()
        assert "onerror" not in timeline.lower()
    page = html(client.get(url(incident)))
    assert "<script>alert" not in page
    assert "javascript:" not in page


def test_htmx_entry_edit_get_returns_edit_form_fragment(client, ic, incident, note):
    client.force_login(ic)
    response = client.get(url(incident, f"timeline/{note.pk}/edit/"), **HX)
    assert response.status_code == 200
    assert_fragment(response, f"entry-{note.pk}")
    text = html(response)
    assert re.search(r'<textarea name="body"[^>]*>\s*Error rate at 40% on checkout-api</textarea>',
                     text)
    assert '<input type="hidden" name="version" value="1"' in text


def test_htmx_entry_edit_post_saves_and_returns_entry_fragment(client, ic, incident, note):
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/edit/"),
                           {"body": "Error rate at **55%**", "kind": "finding", "version": 1},
                           **HX)
    assert response.status_code == 200
    assert_fragment(response, f"entry-{note.pk}")
    text = html(response)
    assert "<strong>55%</strong>" in text
    assert "<textarea" not in text
    assert "edited" in text
    note.refresh_from_db()
    assert note.body == "Error rate at **55%**"
    assert note.kind == TimelineKind.FINDING
    assert note.version == 2
    assert note.edited_by == ic
    assert note.revisions.get().body == "Error rate at 40% on checkout-api"


def test_plain_post_entry_edit_redirects_back(client, ic, incident, note):
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/edit/"),
                           {"body": "edited", "kind": "note", "version": 1})
    assert response.status_code == 302
    assert response["Location"] == url(incident)
    note.refresh_from_db()
    assert note.body == "edited"


def test_stale_edit_is_409_showing_their_text_and_keeping_mine(client, ic, manager, incident,
                                                               note):
    services.edit_timeline_entry(note, body="Their newer text", expected_version=1, by=manager)
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/edit/"),
                           {"body": "My own careful wording", "kind": "note", "version": 1},
                           **HX)
    assert response.status_code == 409
    assert_fragment(response, f"entry-{note.pk}")
    text = html(response)
    assert "Manager changed this entry" in text
    current = section(text, 'class="entry-body current"', "</div>")
    assert "Their newer text" in current
    assert re.search(r'<textarea name="body"[^>]*>\s*My own careful wording</textarea>', text)
    assert '<input type="hidden" name="version" value="2"' in text
    note.refresh_from_db()
    assert note.body == "Their newer text"
    assert note.version == 2
    assert note.revisions.count() == 1


def test_saving_again_after_a_conflict_replaces_their_text(client, ic, manager, incident,
                                                           note):
    services.edit_timeline_entry(note, body="Their newer text", expected_version=1, by=manager)
    client.force_login(ic)
    client.post(url(incident, f"timeline/{note.pk}/edit/"),
                {"body": "My own careful wording", "kind": "note", "version": 1}, **HX)
    response = client.post(url(incident, f"timeline/{note.pk}/edit/"),
                           {"body": "My own careful wording", "kind": "note", "version": 2},
                           **HX)
    assert response.status_code == 200
    note.refresh_from_db()
    assert note.body == "My own careful wording"
    assert list(note.revisions.values_list("body", flat=True)) == [
        "Their newer text", "Error rate at 40% on checkout-api"]


def test_plain_post_stale_edit_is_409_full_page_keeping_my_text(client, ic, manager, incident,
                                                                note):
    services.edit_timeline_entry(note, body="Their newer text", expected_version=1, by=manager)
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/edit/"),
                           {"body": "My own careful wording", "kind": "note", "version": 1})
    assert response.status_code == 409
    assert_full_page(response)
    assert "Their newer text" in html(response)
    assert "My own careful wording</textarea>" in html(response)
    note.refresh_from_db()
    assert note.body == "Their newer text"


def test_edit_of_an_entry_deleted_meanwhile_is_409_keeping_my_text(client, ic, manager,
                                                                   incident, note):
    """The service answers ConflictError("deleted while you were editing"); the user's
    typed text must come back to them, as for any other conflict."""
    services.delete_timeline_entry(note, expected_version=1, by=manager)
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/edit/"),
                           {"body": "My own careful wording", "kind": "note", "version": 1},
                           **HX)
    assert response.status_code == 409
    assert "deleted while you were editing" in html(response)
    assert "My own careful wording</textarea>" in html(response)
    note.refresh_from_db()
    assert note.body == "Error rate at 40% on checkout-api"
    assert note.deleted_at is not None


def test_entry_of_another_incident_is_404(client, ic, incident, note):
    other = declare(ic, title="Other incident")
    client.force_login(ic)
    assert client.get(url(other, f"timeline/{note.pk}/"), **HX).status_code == 404
    response = client.post(url(other, f"timeline/{note.pk}/edit/"),
                           {"body": "hijack", "kind": "note", "version": 1}, **HX)
    assert response.status_code == 404
    note.refresh_from_db()
    assert note.body == "Error rate at 40% on checkout-api"


def test_timeline_entry_in_the_future_is_refused(client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    future = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url(incident, "timeline/"),
                           {"body": "from the future", "kind": "note", "occurred_at": future},
                           **HX)
    assert response.status_code == 400
    assert "cannot be in the future" in html(response)
    assert "from the future</textarea>" in html(response)
    assert snapshot(incident) == before


def test_editing_only_the_text_keeps_when_the_entry_happened(client, ic, incident):
    """A browser posts back what the edit form showed: the entry must not move in time."""
    occurred = (timezone.now() - timedelta(minutes=10)).replace(second=37, microsecond=0)
    entry = services.add_timeline_entry(incident, body="DB failover started", by=ic,
                                        occurred_at=occurred)
    client.force_login(ic)
    form_html = html(client.get(url(incident, f"timeline/{entry.pk}/edit/"), **HX))
    shown = re.search(r'name="occurred_at" value="([^"]*)"', form_html).group(1)
    response = client.post(url(incident, f"timeline/{entry.pk}/edit/"),
                           {"body": "DB failover started (primary db-1)", "kind": "note",
                            "occurred_at": shown, "version": 1}, **HX)
    assert response.status_code == 200
    entry.refresh_from_db()
    assert entry.body == "DB failover started (primary db-1)"
    assert entry.occurred_at == occurred


def test_editing_a_system_entry_is_refused(client, ic, incident):
    declared = incident.timeline.get(kind=TimelineKind.DECLARED)
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, f"timeline/{declared.pk}/edit/"),
                           {"body": "rewrite history", "kind": "note", "version": 1}, **HX)
    assert response.status_code == 400
    assert "cannot be edited" in html(response)
    assert snapshot(incident) == before


def test_htmx_delete_is_soft_and_entry_disappears(client, ic, incident, note):
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/delete/"), {"version": 1}, **HX)
    assert response.status_code == 200
    assert_fragment(response, f"entry-{note.pk}")
    assert "Entry deleted" in html(response)
    note.refresh_from_db()
    assert note.deleted_at is not None
    assert note.deleted_by == ic
    assert note.body == "Error rate at 40% on checkout-api"
    page = html(client.get(url(incident)))
    assert "Error rate at 40% on checkout-api" not in page
    assert f'id="entry-{note.pk}"' not in page
    assert client.get(url(incident, f"timeline/{note.pk}/"), **HX).status_code == 404


def test_plain_post_delete_redirects_back(client, ic, incident, note):
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/delete/"), {"version": 1})
    assert response.status_code == 302
    assert response["Location"] == url(incident)
    assert TimelineEntry.objects.get(pk=note.pk).deleted_at is not None


def test_stale_delete_is_409_and_keeps_entry(client, ic, manager, incident, note):
    services.edit_timeline_entry(note, body="Their newer text", expected_version=1, by=manager)
    client.force_login(ic)
    response = client.post(url(incident, f"timeline/{note.pk}/delete/"), {"version": 1}, **HX)
    assert response.status_code == 409
    note.refresh_from_db()
    assert note.deleted_at is None


def test_history_fragment_after_edit_shows_previous_text(client, ic, incident, note):
    services.edit_timeline_entry(note, body="Second wording", expected_version=1, by=ic)
    client.force_login(ic)
    response = client.get(url(incident, f"timeline/{note.pk}/history/"), **HX)
    assert response.status_code == 200
    assert_fragment(response, f"entry-{note.pk}")
    text = html(response)
    assert "Second wording" in text
    assert '<pre class="previous">Error rate at 40% on checkout-api</pre>' in text
    assert "Version 1" in text


def test_entry_history_without_htmx_is_a_full_page(client, ic, incident, note):
    services.edit_timeline_entry(note, body="Second wording", expected_version=1, by=ic)
    client.force_login(ic)
    response = client.get(url(incident, f"timeline/{note.pk}/history/"))
    assert response.status_code == 200
    assert_full_page(response)
    assert "Error rate at 40% on checkout-api" in html(response)


# --- Checklist and resolve ---------------------------------------------------------------

def test_checklist_tick_and_untick(client, ic, incident):
    item = incident.checklist.get(text="Acknowledge the alert")
    client.force_login(ic)
    response = client.post(url(incident, f"checklist/{item.pk}/"), {"done": "on"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-checklist")
    item.refresh_from_db()
    assert item.done_at is not None
    assert item.done_by == ic
    assert re.search(r'<input type="checkbox" name="done" checked> Acknowledge the alert',
                     html(response))

    response = client.post(url(incident, f"checklist/{item.pk}/"), {}, **HX)
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.done_at is None
    assert item.done_by is None


def test_checklist_tick_needs_to_work_on_the_incident(client, responder, incident):
    item = incident.checklist.get(text="Acknowledge the alert")
    client.force_login(responder)
    response = client.post(url(incident, f"checklist/{item.pk}/"), {"done": "on"}, **HX)
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.done_at is None
    services.join_incident(incident, by=responder)
    response = client.post(url(incident, f"checklist/{item.pk}/"), {"done": "on"}, **HX)
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.done_by == responder


def test_checklist_item_of_another_incident_is_404(client, ic, incident):
    other = declare(ic, title="Other incident")
    item = other.checklist.first()
    client.force_login(ic)
    response = client.post(url(incident, f"checklist/{item.pk}/"), {"done": "on"}, **HX)
    assert response.status_code == 404
    item.refresh_from_db()
    assert item.done_at is None


def test_checklist_waive_with_reason(client, ic, incident):
    item = closure_items(incident)[0]
    client.force_login(ic)
    response = client.post(url(incident, f"checklist/{item.pk}/waive/"),
                           {"reason": "No public status page"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-checklist")
    assert "Waived: No public status page" in html(response)
    assert "timeline-changed" in hx_trigger(response)
    item.refresh_from_db()
    assert item.waived_reason == "No public status page"
    assert incident.timeline.filter(kind=TimelineKind.CHECKLIST).count() == 1


@pytest.mark.parametrize("reason", ["", "   "])
def test_checklist_waive_without_reason_is_400(client, ic, incident, reason):
    item = closure_items(incident)[0]
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, f"checklist/{item.pk}/waive/"), {"reason": reason},
                           **HX)
    assert response.status_code == 400
    assert_fragment(response, "incident-checklist")
    assert "is waived" in html(response)
    assert snapshot(incident) == before


def test_resolve_with_open_closure_items_is_400_listing_them(client, ic, incident):
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "resolve/"), {"resolution": "Rolled back"}, **HX)
    assert response.status_code == 400
    assert_fragment(response, "incident-header")
    errors = section(html(response), '<div class="errors" role="alert">', "</div>")
    for text in checklists.ITEMS[checklists.CLOSURE]:
        assert text.replace('"', "&quot;") in errors
    assert snapshot(incident) == before


def test_resolve_after_settling_closure_items_through_the_page(client, ic, incident):
    client.force_login(ic)
    first, *rest = closure_items(incident)
    assert client.post(url(incident, f"checklist/{first.pk}/"), {"done": "on"},
                       **HX).status_code == 200
    for item in rest:
        assert client.post(url(incident, f"checklist/{item.pk}/waive/"),
                           {"reason": "Internal only"}, **HX).status_code == 200
    response = client.post(url(incident, "resolve/"), {"resolution": "Rolled back"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-header")
    assert "timeline-changed" in hx_trigger(response)
    assert '<span class="badge status-resolved">Resolved</span>' in html(response)
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert incident.resolution == "Rolled back"
    assert incident.resolved_at is not None
    assert incident.timeline.filter(kind=TimelineKind.RESOLVED).count() == 1


def test_htmx_reopening_a_resolved_incident(client, ic, incident):
    settle_closure(incident, ic)
    services.resolve_incident(incident, resolution="Fixed", by=ic)
    client.force_login(ic)
    response = client.post(url(incident, "status/"), {"to": "investigating"}, **HX)
    assert response.status_code == 200
    assert "timeline-changed" in hx_trigger(response)
    incident.refresh_from_db()
    assert incident.status == Status.INVESTIGATING
    assert incident.resolved_at is None
    assert "reopened" in incident.timeline.filter(kind=TimelineKind.STATUS).get().body


def test_resolve_without_resolution_text_is_400(client, ic, incident):
    settle_closure(incident, ic)
    client.force_login(ic)
    before = snapshot(incident)
    response = client.post(url(incident, "resolve/"), {"resolution": ""}, **HX)
    assert response.status_code == 400
    assert snapshot(incident) == before


def test_plain_post_resolve_redirects_back(client, ic, incident):
    settle_closure(incident, ic)
    client.force_login(ic)
    response = client.post(url(incident, "resolve/"), {"resolution": "Fixed"})
    assert response.status_code == 302
    assert response["Location"] == url(incident)
    assert Incident.objects.get(pk=incident.pk).status == Status.RESOLVED


# --- List ------------------------------------------------------------------------------

@pytest.fixture
def listed(ic, checkout):
    """Four incidents, declared oldest first; the oldest is the worst."""
    search = Service.objects.create(name="Search", slug="search")
    base = timezone.now() - timedelta(hours=10)

    def make(title, severity, hours, svc):
        when = base + timedelta(hours=hours)
        return declare(ic, title=title, severity=severity, services=svc,
                       started_at=when, detected_at=when)

    incidents = {
        "outage": make("Total outage of payments", Severity.SEV1, 0, [checkout]),
        "slow": make("Slow search results", Severity.SEV3, 1, [search]),
        "typo": make("Typo on pricing page", Severity.SEV4, 2, []),
        "db": make("Database failover", Severity.SEV2, 3, [checkout, search]),
    }
    services.change_status(incidents["slow"], to=Status.INVESTIGATING, by=ic)
    return incidents


def titles_in(text, incidents):
    return {key for key, inc in incidents.items() if inc.title in text}


def test_list_renders_the_table_with_every_incident(client, viewer, listed):
    client.force_login(viewer)
    response = client.get("/incidents/")
    assert response.status_code == 200
    assert_full_page(response)
    text = html(response)
    assert 'id="incident-table"' in text
    assert 'class="filters card"' in text
    assert titles_in(text, listed) == set(listed)
    for incident in listed.values():
        assert f'href="/incidents/{incident.ref}/"' in text


@pytest.mark.parametrize("query, expected", [
    ({"status": "investigating"}, {"slow"}),
    ({"status": ["declared"], "severity": ["1", "2"]}, {"outage", "db"}),
    ({"severity": "4"}, {"typo"}),
    ({"q": "SEARCH"}, {"slow"}),
    ({"q": "payments"}, {"outage"}),
])
def test_list_filters_narrow_the_rows(client, viewer, listed, query, expected):
    client.force_login(viewer)
    response = client.get("/incidents/", query)
    assert response.status_code == 200
    assert titles_in(html(response), listed) == expected


def test_list_filter_by_service(client, viewer, listed, checkout):
    client.force_login(viewer)
    response = client.get("/incidents/", {"service": checkout.pk})
    assert titles_in(html(response), listed) == {"outage", "db"}


def test_list_search_by_exact_ref(client, viewer, listed):
    client.force_login(viewer)
    response = client.get("/incidents/", {"q": listed["typo"].ref.lower()})
    assert titles_in(html(response), listed) == {"typo"}


def test_list_default_order_is_newest_detected_first(client, viewer, listed):
    client.force_login(viewer)
    text = html(client.get("/incidents/"))
    positions = [text.index(listed[k].title) for k in ("db", "typo", "slow", "outage")]
    assert positions == sorted(positions)


def test_list_sort_by_severity(client, viewer, listed):
    client.force_login(viewer)
    text = html(client.get("/incidents/", {"sort": "severity"}))
    positions = [text.index(listed[k].title) for k in ("outage", "db", "slow", "typo")]
    assert positions == sorted(positions)
    text = html(client.get("/incidents/", {"sort": "-severity"}))
    positions = [text.index(listed[k].title) for k in ("typo", "slow", "db", "outage")]
    assert positions == sorted(positions)


def test_list_htmx_returns_only_the_table_region(client, viewer, listed):
    client.force_login(viewer)
    response = client.get("/incidents/", {"severity": "1"}, **HX)
    assert response.status_code == 200
    assert_fragment(response, "incident-table")
    text = html(response)
    assert 'class="filters card"' not in text
    assert titles_in(text, listed) == {"outage"}


def test_list_boosted_htmx_request_gets_the_full_page(client, viewer, listed):
    client.force_login(viewer)
    response = client.get("/incidents/", **HX, HTTP_HX_BOOSTED="true")
    assert_full_page(response)


def csv_rows(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_list_csv_exports_header_and_exactly_the_filtered_rows(client, viewer, listed):
    client.force_login(viewer)
    response = client.get("/incidents/", {"format": "csv", "severity": ["1", "2"]})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = csv_rows(response)
    assert header == ["ID", "Title", "Severity", "Status", "Commander", "Services",
                      "Detected", "Resolved"]
    assert sorted(row[0] for row in rows) == sorted([listed["outage"].ref, listed["db"].ref])
    db_row = next(row for row in rows if row[0] == listed["db"].ref)
    assert db_row[1:6] == ["Database failover", "SEV-2", "Declared", "ic", "Checkout, Search"]
    assert db_row[6] == listed["db"].detected_at.isoformat()
    assert db_row[7] == ""


def test_list_csv_defuses_formula_titles(client, viewer, ic):
    declare(ic, title='=HYPERLINK("http://evil.example","click")')
    declare(ic, title="+1 plus", severity=Severity.SEV3)
    declare(ic, title="@SUM(A1)", severity=Severity.SEV3)
    client.force_login(viewer)
    rows = csv_rows(client.get("/incidents/", {"format": "csv"}))[1:]
    titles = {row[1] for row in rows}
    assert titles == {'\'=HYPERLINK("http://evil.example","click")', "'+1 plus", "'@SUM(A1)"}


@pytest.mark.parametrize("query", [
    {"severity": "9", "detected_after": "notadate"},
    {"status": "exploded"},
    {"service": "999999"},
    {"service": "abc", "commander": "abc"},
    {"detected_before": "2025-13-45T99:99"},
    {"sort": "no_such_column"},
    {"page": "abc"},
    {"page": "999"},
])
def test_list_invalid_filter_values_never_500(client, viewer, listed, query):
    client.force_login(viewer)
    assert client.get("/incidents/", query).status_code == 200
    assert client.get("/incidents/", query, **HX).status_code == 200


def test_list_invalid_filter_shows_the_error(client, viewer, listed):
    client.force_login(viewer)
    text = html(client.get("/incidents/", {"severity": "9", "detected_after": "notadate"}))
    assert "Select a valid choice" in text
    assert "Enter a valid date/time." in text


def test_list_csv_with_invalid_filter_values_is_not_500(client, viewer, listed):
    client.force_login(viewer)
    response = client.get("/incidents/", {"format": "csv", "detected_after": "notadate"})
    assert response.status_code == 200
    assert csv_rows(response)[0][0] == "ID"


# --- Dashboard -------------------------------------------------------------------------

def test_dashboard_lists_active_incidents_worst_first_without_resolved(
        client, viewer, ic, listed):
    old = declare(ic, title="Old resolved thing", severity=Severity.SEV1)
    settle_closure(old, ic)
    services.resolve_incident(old, resolution="done", by=ic)
    client.force_login(viewer)
    response = client.get("/")
    assert response.status_code == 200
    text = html(response)
    assert '<span class="count">4</span>' in text
    assert "SEV-1 1" in text and "SEV-4 1" in text
    active = section(text, "All active, worst first")
    positions = [active.index(listed[k].title) for k in ("outage", "db", "slow", "typo")]
    assert positions == sorted(positions)
    assert "Old resolved thing" not in text


def test_dashboard_my_incidents_lists_only_mine(client, ic, responder, listed):
    services.join_incident(listed["slow"], by=responder)
    services.assign_role(listed["db"], role="communications_lead", user=responder, by=ic)
    client.force_login(responder)
    text = html(client.get("/"))
    mine = section(text, "<h2>My incidents</h2>", "All active, worst first")
    assert titles_in(mine, listed) == {"db", "slow"}
    assert mine.index(listed["db"].title) < mine.index(listed["slow"].title)


def test_dashboard_my_incidents_is_empty_for_someone_without_roles(client, viewer, listed):
    client.force_login(viewer)
    text = html(client.get("/"))
    mine = section(text, "<h2>My incidents</h2>", "All active, worst first")
    assert titles_in(mine, listed) == set()
    assert "You hold no role on an open incident." in mine


# --- Profile and time zones --------------------------------------------------------------

def test_profile_changes_time_zone(client, responder):
    client.force_login(responder)
    assert client.get("/oncall/me/").status_code == 200
    response = client.post("/oncall/me/", {"timezone": "America/New_York"})
    assert response.status_code == 302
    assert response["Location"] == "/oncall/me/"
    assert Profile.objects.get(user=responder).timezone == "America/New_York"
    assert "Times are now shown in America/New_York." in html(client.get("/oncall/me/"))


def test_profile_rejects_unknown_time_zone(client, responder):
    client.force_login(responder)
    response = client.post("/oncall/me/", {"timezone": "Mars/Olympus_Mons"})
    assert response.status_code == 200
    assert "Select a valid choice" in html(response)
    assert not Profile.objects.filter(user=responder).exists()


@pytest.mark.parametrize("detected, shown", [
    (datetime(2025, 1, 15, 14, 0, tzinfo=UTC), "2025-01-15 09:00 EST"),
    (datetime(2025, 7, 15, 14, 0, tzinfo=UTC), "2025-07-15 10:00 EDT"),
])
def test_incident_page_shows_times_in_the_users_zone(client, ic, detected, shown):
    incident = declare(ic, started_at=detected, detected_at=detected)
    client.force_login(ic)
    assert f"<dt>Detected</dt><dd>{detected:%Y-%m-%d %H:%M} UTC</dd>" in html(
        client.get(url(incident)))
    client.post("/oncall/me/", {"timezone": "America/New_York"})
    text = html(client.get(url(incident)))
    assert f"<dt>Detected</dt><dd>{shown}</dd>" in text
    assert "times in America/New_York" in text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T", section(text, 'id="incident-timeline"'))


def test_list_shows_times_in_the_users_zone(client, ic):
    detected = datetime(2025, 1, 15, 14, 0, tzinfo=UTC)
    declare(ic, started_at=detected, detected_at=detected)
    client.force_login(ic)
    client.post("/oncall/me/", {"timezone": "America/New_York"})
    text = html(client.get("/incidents/"))
    assert "2025-01-15 09:00 EST" in text
    assert "times in America/New_York" in text


def test_incident_page_defaults_to_utc(client, ic):
    detected = datetime(2025, 1, 15, 14, 0, tzinfo=UTC)
    incident = declare(ic, started_at=detected, detected_at=detected)
    client.force_login(ic)
    text = html(client.get(url(incident)))
    assert "<dt>Detected</dt><dd>2025-01-15 14:00 UTC</dd>" in text
    assert "times in UTC" in text


# --- A long timeline -------------------------------------------------------------------

def long_timeline(incident, extra):
    """`extra` notes after the incident's own entries, a minute apart, numbered."""
    start = incident.declared_at
    TimelineEntry.objects.bulk_create(
        TimelineEntry(incident=incident, kind=TimelineKind.NOTE, body=f"Shard {n} checked",
                      body_html=f"<p>Shard {n} checked</p>",
                      occurred_at=start + timedelta(seconds=n + 1))
        for n in range(extra))
    return incident.timeline.filter(deleted_at__isnull=True).count()


def test_a_long_timeline_shows_its_latest_entries_and_offers_the_earlier_ones(
        client, viewer, incident):
    total = long_timeline(incident, 150)
    client.force_login(viewer)

    text = html(client.get(url(incident)))

    timeline = section(text, 'id="incident-timeline"', "</ol>")
    assert timeline.count('class="entry ') == 100
    assert "Shard 149 checked" in timeline and "Shard 50 checked" in timeline
    assert "Shard 49 checked" not in timeline
    assert f"Show the {total - 100} earlier entries" in timeline
    assert timeline.index("Shard 50 checked") < timeline.index("Shard 149 checked")


def test_showing_all_entries_keeps_them_all_when_the_timeline_refreshes(
        client, viewer, incident):
    total = long_timeline(incident, 150)
    client.force_login(viewer)

    page = html(client.get(url(incident), {"timeline": "all"}))
    refreshed = client.get(url(incident, "timeline/"), {"timeline": "all"}, **HX)

    for text in (page, html(refreshed)):
        timeline = section(text, 'id="incident-timeline"', "</ol>")
        assert timeline.count('class="entry ') == total
        assert "earlier entr" not in timeline
        assert "Shard 0 checked" in timeline
        assert f'hx-get="{url(incident, "timeline/")}?timeline=all"' in timeline


def test_a_short_timeline_shows_everything_without_the_offer(client, viewer, incident):
    total = long_timeline(incident, 10)
    client.force_login(viewer)

    timeline = section(html(client.get(url(incident))), 'id="incident-timeline"', "</ol>")

    assert timeline.count('class="entry ') == total
    assert "earlier entr" not in timeline
