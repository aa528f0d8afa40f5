"""Declaring an incident (§1.2, §6.1 declareIncident): numbering, channel names,
checklists, the override of the tree's severity, who may declare; and the wizard that
asks the §1.2 questions one at a time, through the client (HTMX fragments included)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from incidents import checklists, services
from incidents.models import (
    ChecklistPhase,
    Incident,
    Severity,
    Status,
    TimelineEntry,
    TimelineKind,
)
from incidents.services import IncidentError
from tests.incidents.factories import ServiceFactory, declare
from tests.incidents.helpers import (
    HX,
    MINUTE,
    NOW,
    nothing_declared,
    reload,
    section,
)
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db


# --- declare_incident ----------------------------------------------------------------


class TestDeclareIncident:
    """services.declare_incident, called directly; the clock stands still at NOW."""

    @pytest.fixture(autouse=True)
    def clock(self):
        with time_machine.travel(NOW, tick=False) as traveller:
            yield traveller

    @pytest.fixture
    def incident(self, ic):
        return declare(ic, title="Checkout API returning errors", severity=Severity.SEV2)

    def test_declared_incident_gets_ref_with_year_and_four_digit_number(self, ic):
        incident = declare(ic)

        assert re.fullmatch(r"INC-\d{4}-\d{4}", incident.ref)
        assert incident.ref == "INC-2025-0001"

    def test_incident_numbers_are_sequential(self, ic, responder):
        refs = [declare(ic).ref, declare(responder).ref, declare(ic).ref]

        assert refs == ["INC-2025-0001", "INC-2025-0002", "INC-2025-0003"]

    def test_incident_numbers_restart_each_year(self, ic, clock):
        declare(ic)
        declare(ic)
        clock.move_to(datetime(2026, 1, 1, 0, 5, tzinfo=UTC))

        assert declare(ic).ref == "INC-2026-0001"

    def test_channel_name_is_date_and_slug_of_title(self, ic):
        incident = declare(ic, title="  Database connection pool exhausted! ")

        assert incident.channel_name == "#inc-20250314-database-connection-pool-exhausted"
        assert incident.title == "Database connection pool exhausted!"

    def test_long_title_gives_channel_name_within_slack_limit(self, ic):
        title = "Payments " + "very " * 35 + "slow"  # 188 of the 200 characters a title may have
        incident = declare(ic, title=title)

        assert len(incident.channel_name) <= 80
        assert re.fullmatch(r"#inc-20250314-[a-z0-9-]+", incident.channel_name)
        assert not incident.channel_name.endswith("-")
        assert incident.channel_name.startswith("#inc-20250314-payments-very-very")

    def test_title_without_slug_characters_gets_generic_channel_name(self, ic):
        incident = declare(ic, title="!!! ???")

        assert incident.channel_name == "#inc-20250314-incident"

    def test_same_title_same_day_gets_a_distinct_channel(self, ic):
        first = declare(ic, title="Login outage")
        second = declare(ic, title="Login outage")
        third = declare(ic, title="Login outage")

        assert first.channel_name == "#inc-20250314-login-outage"
        assert second.channel_name == "#inc-20250314-login-outage-2"
        assert third.channel_name == "#inc-20250314-login-outage-3"

    def test_same_long_title_same_day_gets_a_distinct_channel_within_limit(self, ic):
        title = "Search " + "degraded " * 20
        first, second = declare(ic, title=title), declare(ic, title=title)

        assert first.channel_name != second.channel_name
        assert len(second.channel_name) <= 80
        assert second.channel_name.endswith("-2")

    def test_channel_name_stays_unique_when_the_suffixed_name_is_taken(self, ic):
        # The second title slugs to exactly the name a repeated "Login outage" would get next.
        declare(ic, title="Login outage")
        declare(ic, title="Login outage 2")
        third = declare(ic, title="Login outage")

        channels = list(Incident.objects.values_list("channel_name", flat=True))
        assert third.ref == "INC-2025-0003"
        assert len(set(channels)) == 3, channels

    def test_same_title_next_day_reuses_the_plain_channel_name(self, ic, clock):
        declare(ic, title="Login outage")
        clock.shift(timedelta(days=1))

        assert declare(ic, title="Login outage").channel_name == "#inc-20250315-login-outage"

    def test_declaring_copies_every_checklist_phase_onto_the_incident(self, ic):
        incident = declare(ic)

        items = list(incident.checklist.order_by("position"))
        expected = [(phase, text) for phase, texts in checklists.ITEMS.items() for text in texts]
        assert [(i.phase, i.text) for i in items] == expected
        assert {i.phase for i in items} == set(ChecklistPhase.values)
        assert [i.position for i in items] == list(range(1, len(expected) + 1))
        # Only what the system saw happen is ticked: the channel was created with it.
        assert [i.text for i in items if i.is_done] == [checklists.CREATE_CHANNEL]
        assert not any(i.waived_reason for i in items)

    def test_checklists_belong_to_one_incident_each(self, ic):
        first, second = declare(ic), declare(ic)
        item = first.checklist.first()

        services.set_checklist_item(item, done=True, by=ic)

        assert first.checklist.filter(done_by=ic).count() == 1
        assert not second.checklist.filter(done_by__isnull=False).exists()

    def test_declaring_writes_one_declared_timeline_entry(self, ic):
        incident = declare(ic, title="Login outage", severity=Severity.SEV1)

        (entry,) = incident.timeline.exclude(kind=TimelineKind.PAGE)
        assert entry.kind == TimelineKind.DECLARED
        assert entry.author == ic
        assert entry.occurred_at == NOW
        assert "SEV-1" in entry.body
        assert "#inc-20250314-login-outage" in entry.body
        assert "<strong>SEV-1</strong>" in entry.body_html

    def test_declarer_commands_unless_someone_else_is_named(self, ic, responder, manager):
        assert declare(responder).commander == responder
        assert declare(manager, commander=ic).commander == ic

    def test_declaring_stores_fields_and_services(self, ic):
        database, api = ServiceFactory(), ServiceFactory()
        started = NOW - timedelta(minutes=20)
        detected = NOW - timedelta(minutes=10)

        incident = declare(ic, services=[database, api], started_at=started, detected_at=detected,
                           severity=Severity.SEV3)

        incident = reload(incident)
        assert set(incident.services.all()) == {database, api}
        assert (incident.started_at, incident.detected_at, incident.declared_at) == (
            started, detected, NOW)
        assert incident.severity == Severity.SEV3
        assert incident.status == Status.DECLARED
        assert incident.declared_by == ic
        assert incident.acknowledged_at is None

    def test_severity_matching_the_tree_needs_no_reason(self, ic):
        incident = declare(ic, severity=Severity.SEV2, classified_severity=Severity.SEV2,
                           classification={"security_breach": "no", "service_unavailable": "no",
                                           "majority_affected": "yes"})

        incident = reload(incident)
        assert incident.classified_severity == Severity.SEV2
        assert incident.classification["majority_affected"] == "yes"
        assert incident.severity_override_reason == ""

    @pytest.mark.parametrize("reason", ["", "   "])
    def test_override_of_the_tree_without_reason_is_refused_and_creates_nothing(self, ic, reason):
        with nothing_declared(IncidentError, match="decision tree gave SEV-3"):
            declare(ic, severity=Severity.SEV1, classified_severity=Severity.SEV3,
                    override_reason=reason)

    def test_override_of_the_tree_with_reason_is_stored_and_logged(self, ic):
        incident = declare(ic, severity=Severity.SEV1, classified_severity=Severity.SEV3,
                           override_reason="  CEO demo in an hour  ")

        incident = reload(incident)
        assert incident.severity == Severity.SEV1
        assert incident.classified_severity == Severity.SEV3
        assert incident.severity_override_reason == "CEO demo in an hour"
        body = incident.timeline.get(kind=TimelineKind.DECLARED).body
        assert "decision tree's SEV-3: CEO demo in an hour" in body

    def test_viewer_cannot_declare_and_nothing_is_created(self, viewer):
        with nothing_declared(PermissionDenied):
            declare(viewer)

    def test_refused_declaration_does_not_use_up_a_number(self, ic, viewer):
        with nothing_declared(PermissionDenied):
            declare(viewer)
        with nothing_declared(IncidentError):
            declare(ic, started_at=NOW + MINUTE)

        assert declare(ic).ref == "INC-2025-0001"

    @pytest.mark.parametrize(
        ("started", "detected"),
        [(NOW + MINUTE, None), (None, NOW + MINUTE), (NOW - MINUTE, NOW - 2 * MINUTE)],
        ids=["start-in-future", "detection-in-future", "detected-before-start"],
    )
    def test_impossible_times_are_refused_and_create_nothing(self, ic, started, detected):
        with nothing_declared(IncidentError):
            declare(ic, started_at=started, detected_at=detected)


# --- the declare wizard --------------------------------------------------------------


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
    assert "Pick a time between" in html(response)
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
