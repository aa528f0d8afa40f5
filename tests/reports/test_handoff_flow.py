"""The weekly handoff through its services and pages: drafts with stale-edit refusal,
handing off (activity frozen, incoming notified), acknowledging once, who may do what,
the checklist, the dashboard panel, the on-call log and the PDF.

Primary On-Call is weekly, Monday 09:00 America/New_York, ic then responder: ic's week
runs from Monday 2 March 09:00 EST (14:00 UTC) to Monday 9 March 09:00 EDT (13:00 UTC).
The clock is frozen 90 minutes before that handoff, inside the 120-minute prepare lead.
"""

import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident
from mindweave_ir.live import versions as live
from oncall import notices
from oncall.models import ContactKind, ContactMethod, DeliveryStatus, Notice
from reports import activity, shifts
from reports.models import Handoff, HandoffState, ShiftCheck
from reports.services import handoffs as services
from tests.conftest import make_user
from tests.incidents.factories import declare
from tests.oncall.conftest import smtp_server  # noqa: F401 - a fixture, used below
from tests.oncall.factories import ScheduleFactory
from tests.pages import assert_fragment, html

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
END = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
NOW = END - timedelta(minutes=90)
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def schedule(ic, responder, manager):
    return ScheduleFactory(name="Primary On-Call", members=[ic, responder], by=manager)


@pytest.fixture
def handoff(schedule):
    return services.current_handoff(schedule, NOW)


@pytest.fixture
def reachable(responder, ic):
    """The incoming has an e-mail and a webhook (and a paused Slack); ic has e-mail."""
    methods = [
        ContactMethod.objects.create(user=responder, kind=ContactKind.EMAIL,
                                     target="responder@example.com"),
        ContactMethod.objects.create(user=responder, kind=ContactKind.WEBHOOK,
                                     target="https://hooks.example.com/responder"),
    ]
    ContactMethod.objects.create(user=responder, kind=ContactKind.SLACK,
                                 target="https://hooks.example.com/paused", disabled_at=NOW)
    ContactMethod.objects.create(user=ic, kind=ContactKind.EMAIL, target="ic@example.com")
    return methods


def incident_of(by, title, minutes_ago=10, **kwargs):
    """An incident declared `minutes_ago` minutes before now, in the shift."""
    made = declare(by, title=title, page_oncall=False, **kwargs)
    at = NOW - timedelta(minutes=minutes_ago)
    Incident.objects.filter(pk=made.pk).update(declared_at=at, started_at=at, detected_at=at)
    made.refresh_from_db()
    return made


def as_user(user):
    client = Client()
    client.force_login(user)
    return client


def url(handoff, suffix=""):
    return f"/reports/handoffs/{handoff.pk}/{suffix}"


def fresh(handoff):
    return Handoff.objects.get(pk=handoff.pk)


def state_of(handoff):
    row = fresh(handoff)
    return row.state, row.summary, row.unresolved, row.version


def form(summary="Quiet week; one SEV-2 on checkout.", unresolved="Watch the payment queue.",
         version=1, action="save"):
    return {"summary": summary, "unresolved": unresolved, "version": version, "action": action}


def hand_off(handoff, by, summary="Quiet week; one SEV-2 on checkout.", unresolved="Queue."):
    return services.hand_off(handoff, summary=summary, unresolved=unresolved,
                             expected_version=fresh(handoff).version, by=by, now=NOW)


# --- drafts -------------------------------------------------------------------------------

def test_the_outgoing_saves_a_draft_and_a_stale_version_is_refused(handoff, ic, manager):
    saved = services.save_draft(handoff, summary="  First pass  ", unresolved="Queue ",
                                expected_version=1, by=ic)
    assert (saved.summary, saved.unresolved, saved.version) == ("First pass", "Queue", 2)

    with pytest.raises(services.StaleHandoff) as refused:
        services.save_draft(handoff, summary="Overwrite", unresolved="", expected_version=1,
                            by=manager)

    assert refused.value.current.version == 2
    assert state_of(handoff) == (HandoffState.DRAFT, "First pass", "Queue", 2)


def test_saving_through_the_page_returns_the_form_fragment(handoff, ic):
    response = as_user(ic).post(url(handoff, "save/"), form(), **HX)

    assert response.status_code == 200
    assert_fragment(response, "handoff-form")
    assert "Draft saved" in html(response)
    assert 'name="version" value="2"' in html(response)
    assert state_of(handoff) == (HandoffState.DRAFT, "Quiet week; one SEV-2 on checkout.",
                                 "Watch the payment queue.", 2)


def test_a_stale_save_is_a_409_that_keeps_the_writers_text(handoff, ic, manager):
    services.save_draft(handoff, summary="Manager's words", unresolved="", expected_version=1,
                        by=manager)

    response = as_user(ic).post(url(handoff, "save/"),
                                form(summary="My own careful summary"), **HX)

    assert response.status_code == 409
    assert_fragment(response, "handoff-form")
    text = html(response)
    assert "saved by someone else" in text
    assert "My own careful summary" in text  # the writer's text, kept in the form
    assert "Manager&#x27;s words" in text or "Manager's words" in text  # what is saved now
    assert 'name="version" value="2"' in text  # saving again overwrites knowingly
    assert state_of(handoff) == (HandoffState.DRAFT, "Manager's words", "", 2)


def test_without_javascript_a_save_redirects_back(handoff, ic):
    response = as_user(ic).post(url(handoff, "save/"), form())

    assert response.status_code == 302 and response["Location"] == url(handoff)
    assert fresh(handoff).version == 2


# --- handing off ---------------------------------------------------------------------------

def test_handing_off_without_a_summary_is_refused_and_changes_nothing(
        handoff, ic, reachable):
    services.save_draft(handoff, summary="Draft so far", unresolved="Queue",
                        expected_version=1, by=ic)

    with pytest.raises(services.HandoffError, match="Write a shift summary"):
        services.hand_off(handoff, summary="   ", unresolved="", expected_version=2, by=ic,
                          now=NOW)
    response = as_user(ic).post(url(handoff, "save/"),
                                form(summary=" \n ", version=2, action="hand_off"), **HX)

    assert response.status_code == 400
    assert_fragment(response, "handoff-form")
    assert "Write a shift summary before handing off" in html(response)
    assert state_of(handoff) == (HandoffState.DRAFT, "Draft so far", "Queue", 2)
    assert fresh(handoff).activity == {} and fresh(handoff).handed_off_at is None
    assert not Notice.objects.exists()


def test_handing_off_freezes_the_activity_and_notifies_the_incoming_on_each_method(
        handoff, ic, responder, reachable, clock, django_capture_on_commit_callbacks):
    incident = incident_of(ic, "Checkout returning 500s")

    commander = as_user(ic)  # signing in saves the user: not part of the hand-off
    with django_capture_on_commit_callbacks() as wakes:
        response = commander.post(url(handoff, "save/"), form(action="hand_off"), **HX)

    assert response.status_code == 200
    assert response["HX-Redirect"] == url(handoff)
    row = fresh(handoff)
    assert (row.state, row.handed_off_by, row.handed_off_at, row.version, row.incoming) == (
        HandoffState.HANDED_OFF, ic, NOW, 2, responder)
    assert row.summary == "Quiet week; one SEV-2 on checkout."
    assert [r["ref"] for r in row.activity["opened"]["rows"]] == [incident.ref]
    sent = Notice.objects.filter(key=f"handoff:{handoff.pk}:handed-off").order_by("id")
    assert [(n.user, n.contact_method) for n in sent] == [(responder, m) for m in reachable]
    # each sent as soon as the hand-off commits; and the dashboard's live version moves
    assert len(wakes) == 3
    assert all("Quiet week; one SEV-2 on checkout." in n.text for n in sent)

    # The incident changes afterwards; the handed-over page does not.
    Incident.objects.filter(pk=incident.pk).update(title="Renamed after the handoff")
    clock.move_to(NOW + timedelta(minutes=20))  # still inside the shift
    late = incident_of(ic, "Declared after the handoff", minutes_ago=-10)
    live = activity.gather(fresh(handoff), NOW + timedelta(minutes=20))
    assert late.ref in {r["ref"] for r in live["opened"]["rows"]}  # what a live page shows
    page = html(as_user(responder).get(url(handoff)))
    assert "Checkout returning 500s" in page
    assert "Renamed after the handoff" not in page
    assert "Declared after the handoff" not in page
    assert "As handed over" in page
    assert "Quiet week; one SEV-2 on checkout." in page and "Watch the payment queue." in page


def test_the_handed_off_email_arrives_when_delivered(handoff, ic, responder, reachable):
    hand_off(handoff, ic)
    email = Notice.objects.get(key=f"handoff:{handoff.pk}:handed-off", kind="email")

    assert notices.deliver(email.pk, now=NOW).startswith("sent")

    [message] = mail.outbox
    assert message.to == ["responder@example.com"]
    assert message.subject == "On-call handoff: Primary On-Call — please acknowledge"
    assert "Quiet week; one SEV-2 on checkout." in message.body
    assert f"/reports/handoffs/{handoff.pk}/" in message.body
    assert Notice.objects.get(pk=email.pk).status == DeliveryStatus.SENT


def test_the_handed_off_email_reaches_a_real_smtp_server(
        handoff, ic, responder, smtp_server):  # noqa: F811 - the imported fixture
    ContactMethod.objects.create(user=responder, kind=ContactKind.EMAIL,
                                 target="responder@example.com")
    hand_off(handoff, ic, summary="Handed over through SMTP.")

    assert notices.deliver_due(now=NOW) == 1  # the beat's pass, as if the wake-up was lost

    [(recipients, message)] = smtp_server.messages
    assert recipients == ["responder@example.com"]
    assert "Primary On-Call" in message["Subject"]
    assert "Handed over through SMTP." in message.get_body(("plain",)).get_content()


def test_a_stale_hand_off_is_a_409_that_keeps_the_text_and_hands_nothing_off(
        handoff, ic, manager, reachable):
    services.save_draft(handoff, summary="Manager's words", unresolved="", expected_version=1,
                        by=manager)

    response = as_user(ic).post(url(handoff, "save/"),
                                form(summary="My hand-off text", action="hand_off"), **HX)

    assert response.status_code == 409
    assert "My hand-off text" in html(response) and "saved by someone else" in html(response)
    assert state_of(handoff) == (HandoffState.DRAFT, "Manager's words", "", 2)
    assert not Notice.objects.exists()


def test_a_shift_that_has_not_started_cannot_be_handed_off(schedule, ic, responder):
    following = services.current_handoff(schedule, END + timedelta(days=1))
    assert following.outgoing == responder

    with pytest.raises(services.HandoffError, match="has not started yet"):
        services.hand_off(following, summary="Too early", unresolved="", expected_version=1,
                          by=responder, now=NOW)
    assert state_of(following) == (HandoffState.DRAFT, "", "", 1)
    page = html(as_user(responder).get(url(following)))
    assert 'disabled title="The shift has not started"' in page


def test_a_handed_off_handoff_can_no_longer_be_changed(handoff, ic, manager):
    hand_off(handoff, ic)
    before = state_of(handoff)
    check = handoff.checks.first()

    response = as_user(ic).post(url(handoff, "save/"), form(version=2), **HX)
    ticked = as_user(manager).post(url(handoff, f"checks/{check.pk}/"), {"done": "on"}, **HX)

    assert response.status_code == 400 and "can no longer be changed" in html(response)
    assert ticked.status_code == 400 and "can no longer be changed" in html(ticked)
    assert state_of(handoff) == before
    assert ShiftCheck.objects.get(pk=check.pk).done_at is None


def test_nobody_on_call_next_cannot_be_handed_to(schedule, ic, responder, manager):
    lonely = ScheduleFactory(name="Lonely", members=[ic], by=manager)
    handoff = services.current_handoff(lonely, NOW)
    assert handoff.incoming == ic  # a one-person rotation hands to itself

    # A handoff whose incoming is gone (deleted user) and whose schedule is gone too.
    Handoff.objects.filter(pk=handoff.pk).update(incoming=None, schedule=None)
    with pytest.raises(services.HandoffError, match="Nobody is on call after this shift"):
        hand_off(fresh(handoff), ic)
    assert fresh(handoff).state == HandoffState.DRAFT


# --- acknowledging ---------------------------------------------------------------------------

def test_only_the_incoming_acknowledges_and_only_once(handoff, ic, responder, manager,
                                                      reachable):
    with pytest.raises(services.HandoffError, match="has not been handed off yet"):
        services.acknowledge(handoff, by=responder, now=NOW)
    hand_off(handoff, ic)
    for someone_else in (ic, manager):
        with pytest.raises(services.HandoffError, match="only they can acknowledge"):
            services.acknowledge(handoff, by=someone_else, now=NOW)
    assert fresh(handoff).state == HandoffState.HANDED_OFF

    done = services.acknowledge(handoff, by=responder, now=NOW + timedelta(minutes=3))

    assert (done.state, done.acknowledged_by, done.acknowledged_at, done.version) == (
        HandoffState.ACKNOWLEDGED, responder, NOW + timedelta(minutes=3), 3)
    with pytest.raises(services.HandoffError, match="Already acknowledged by Responder"):
        services.acknowledge(handoff, by=responder, now=NOW + timedelta(minutes=9))
    row = fresh(handoff)
    assert (row.acknowledged_at, row.version) == (NOW + timedelta(minutes=3), 3)
    # The outgoing hears of it, once.
    assert list(Notice.objects.filter(key=f"handoff:{handoff.pk}:acknowledged")
                .values_list("user__username", flat=True)) == ["ic"]


def test_acknowledging_after_the_shift_changed_says_the_shift_is_yours(
        handoff, ic, responder, reachable, clock):
    hand_off(handoff, ic)
    clock.move_to(END + timedelta(minutes=5))

    page = as_user(responder).post(url(handoff, "acknowledge/"), **HX)

    assert "Acknowledged. The shift is yours." in html(page)
    assert "Your shift starts" not in html(page)


def test_acknowledging_without_htmx_says_when_the_shift_starts(handoff, ic, responder,
                                                                reachable):
    hand_off(handoff, ic)

    page = as_user(responder).post(url(handoff, "acknowledge/"), follow=True)

    assert "Your shift starts 20" in html(page)


def test_acknowledging_through_the_page(handoff, ic, responder, reachable):
    draft = as_user(responder).post(url(handoff, "acknowledge/"), **HX)
    assert draft.status_code == 400
    assert_fragment(draft, "handoff-state")
    assert "has not been handed off yet" in html(draft)
    assert fresh(handoff).state == HandoffState.DRAFT

    hand_off(handoff, ic)
    version = fresh(handoff).version
    stranger = as_user(ic).post(url(handoff, "acknowledge/"), **HX)
    assert stranger.status_code == 403
    assert "only they can acknowledge it" in html(stranger)
    assert state_of(handoff)[0] == HandoffState.HANDED_OFF and fresh(handoff).version == version

    first = as_user(responder).post(url(handoff, "acknowledge/"), **HX)
    assert first.status_code == 200
    assert_fragment(first, "handoff-state")
    # Acknowledged 90 minutes before the shift changes: say when it starts (issue 17 #10).
    assert "Acknowledged. Your shift starts" in html(first)
    assert "stays on call until then" in html(first)
    assert "The shift is yours" not in html(first)
    assert "Acknowledge handoff" not in html(first)

    second = as_user(responder).post(url(handoff, "acknowledge/"), **HX)
    assert second.status_code == 400
    assert "Already acknowledged" in html(second)
    row = fresh(handoff)
    assert (row.state, row.acknowledged_at, row.version) == (
        HandoffState.ACKNOWLEDGED, NOW, version + 1)


def test_the_acknowledge_button_is_for_the_incoming_only(handoff, ic, responder, viewer):
    hand_off(handoff, ic)
    ack = f'action="{url(handoff, "acknowledge/")}"'

    assert ack in html(as_user(responder).get(url(handoff)))
    for other in (ic, viewer):
        page = html(as_user(other).get(url(handoff)))
        assert ack not in page
        assert "Waiting for Responder to acknowledge" in page


# --- who may edit and tick ---------------------------------------------------------------------

def test_a_viewer_may_not_tick_and_is_told_why(handoff, viewer):
    check = handoff.checks.first()

    response = as_user(viewer).post(url(handoff, f"checks/{check.pk}/"), {"done": "on"}, **HX)

    assert response.status_code == 403
    assert_fragment(response, "handoff-checklist")
    assert "Only the outgoing on-call (Ic) or a Manager can change this handoff." \
        in html(response)
    assert ShiftCheck.objects.get(pk=check.pk).done_at is None


def test_a_viewer_may_not_edit_and_is_told_why(handoff, viewer):
    response = as_user(viewer).post(url(handoff, "save/"), form(), **HX)

    assert response.status_code == 403
    assert_fragment(response, "handoff-form")
    assert "Only the outgoing on-call (Ic) or a Manager can change this handoff." \
        in html(response)
    assert state_of(handoff) == (HandoffState.DRAFT, "", "", 1)


def test_the_incoming_may_neither_edit_nor_hand_off(handoff, responder):
    with pytest.raises(services.HandoffError, match="Only the outgoing on-call"):
        services.save_draft(handoff, summary="Mine now", unresolved="", expected_version=1,
                            by=responder)
    with pytest.raises(services.HandoffError, match="Only the outgoing on-call"):
        services.hand_off(handoff, summary="Mine now", unresolved="", expected_version=1,
                          by=responder, now=NOW)
    assert state_of(handoff) == (HandoffState.DRAFT, "", "", 1)
    page = html(as_user(responder).get(url(handoff)))
    assert 'name="summary"' not in page and "Ic prepares this handoff." in page


def test_a_manager_may_edit_tick_and_hand_off_for_the_outgoing(handoff, manager, responder):
    check = handoff.checks.first()
    client = as_user(manager)

    assert client.post(url(handoff, f"checks/{check.pk}/"), {"done": "on"}, **HX) \
        .status_code == 200
    assert client.post(url(handoff, "save/"), form(action="hand_off"), **HX).status_code == 200

    row = fresh(handoff)
    assert (row.state, row.handed_off_by) == (HandoffState.HANDED_OFF, manager)
    assert ShiftCheck.objects.get(pk=check.pk).done_by == manager


# --- the checklist ------------------------------------------------------------------------------

def test_ticking_records_who_and_when_and_unticking_clears_it(handoff, ic, clock):
    check = handoff.checks.order_by("phase", "position").first()
    client = as_user(ic)

    response = client.post(url(handoff, f"checks/{check.pk}/"), {"done": "on"}, **HX)

    assert response.status_code == 200
    assert_fragment(response, "handoff-checklist")
    ticked = ShiftCheck.objects.get(pk=check.pk)
    assert (ticked.done_by, ticked.done_at) == (ic, NOW)
    text = html(response)
    assert '<span class="count">1/13</span>' in text
    assert "Ic, 2026-03-09 11:30 UTC" in text

    clock.move_to(NOW + timedelta(minutes=10))  # ticking again keeps the first record
    client.post(url(handoff, f"checks/{check.pk}/"), {"done": "on"}, **HX)
    assert ShiftCheck.objects.get(pk=check.pk).done_at == NOW

    response = client.post(url(handoff, f"checks/{check.pk}/"), {}, **HX)
    cleared = ShiftCheck.objects.get(pk=check.pk)
    assert (cleared.done_by, cleared.done_at) == (None, None)
    assert '<span class="count">0/13</span>' in html(response)


def test_a_tick_builds_only_the_checklist(handoff, ic, responder, reachable):
    for n in range(5):
        incident_of(ic if n % 2 else responder, f"Incident {n:03d}", minutes_ago=n + 1)
    check = handoff.checks.first()
    client = as_user(ic)

    with CaptureQueriesContext(connection) as tick:
        response = client.post(url(handoff, f"checks/{check.pk}/"), {"done": "on"}, **HX)

    assert_fragment(response, "handoff-checklist")
    # Session, user, roles, the handoff, the check, its write, the checklist (9 here;
    # 20 when the shift's incidents, pages, readiness and notices were built too).
    assert len(tick) <= 10, "\n".join(q["sql"] for q in tick.captured_queries)


def test_a_check_of_another_shift_is_refused(handoff, schedule, ic):
    other = services.current_handoff(schedule, END + timedelta(days=1))
    foreign = other.checks.first()

    response = as_user(ic).post(url(handoff, f"checks/{foreign.pk}/"), {"done": "on"}, **HX)

    assert response.status_code == 404
    assert ShiftCheck.objects.get(pk=foreign.pk).done_at is None


def test_ticking_without_javascript_redirects_back(handoff, ic):
    check = handoff.checks.first()

    response = as_user(ic).post(url(handoff, f"checks/{check.pk}/"), {"done": "on"})

    assert response.status_code == 302 and response["Location"] == url(handoff)
    assert ShiftCheck.objects.get(pk=check.pk).done_by == ic


# --- the dashboard -----------------------------------------------------------------------------

def test_the_dashboard_asks_the_outgoing_to_prepare_a_draft_due_soon(handoff, ic, responder):
    page = html(as_user(ic).get("/"))
    assert 'id="handoff-panel"' in page
    assert "Your Primary On-Call shift ends" in page and url(handoff) in page
    assert 'id="handoff-panel"' not in html(as_user(responder).get("/"))


def test_the_dashboard_shows_a_handoff_awaiting_acknowledgement(
        handoff, ic, responder, viewer, django_capture_on_commit_callbacks):
    hand_off(handoff, ic)
    ack = f'action="{url(handoff, "acknowledge/")}"'

    mine = html(as_user(responder).get("/"))
    assert 'id="handoff-panel"' in mine
    assert "handed Primary On-Call over to you" in mine
    assert ack in mine and ">Acknowledge</button>" in mine
    for other in (ic, viewer):
        page = html(as_user(other).get("/"))
        assert "not yet acknowledged by Responder" in page
        assert ack not in page

    # The dashboard's button posts without HTMX: acknowledged, then back to the handoff.
    # The dashboard is kept under its version, which moves once the write commits.
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(responder).post(url(handoff, "acknowledge/"))
    assert response.status_code == 302 and response["Location"] == url(handoff)
    assert fresh(handoff).state == HandoffState.ACKNOWLEDGED
    assert 'id="handoff-panel"' not in html(as_user(responder).get("/"))
    assert 'id="handoff-panel"' not in html(as_user(viewer).get("/"))


# --- the index and the on-call log ---------------------------------------------------------------

@pytest.fixture
def log(schedule, ic, responder, manager, django_user_model):
    """Three past weeks of Primary On-Call and one of a second schedule."""
    weeks = []
    for n, (summary, state) in enumerate([("Database failover drill", HandoffState.ACKNOWLEDGED),
                                          ("Quiet week", HandoffState.ACKNOWLEDGED),
                                          ("Payments outage", HandoffState.HANDED_OFF)]):
        span = shifts.shift_at(schedule, START - timedelta(weeks=3 - n))
        row = services.ensure_handoff(span)
        Handoff.objects.filter(pk=row.pk).update(summary=summary, state=state)
        weeks.append(fresh(row))
    other = make_user(django_user_model, "other")
    second = ScheduleFactory(name="Secondary On-Call", members=[other], by=manager)
    row = services.ensure_handoff(shifts.shift_at(second, START - timedelta(weeks=1)))
    Handoff.objects.filter(pk=row.pk).update(summary="Nights were calm",
                                             state=HandoffState.ACKNOWLEDGED)
    return weeks + [fresh(row)]


def listed(response):
    text = html(response)
    log_part = text[text.index('id="handoff-log"'):]
    return {summary for summary in ("Database failover drill", "Quiet week", "Payments outage",
                                    "Nights were calm") if summary in log_part}


def test_the_index_lists_current_shifts_and_the_log(log, schedule, handoff, ic, viewer):
    response = as_user(ic).get("/reports/handoffs/")

    assert response.status_code == 200
    text = html(response)
    current = text[text.index("Current shifts"):text.index("On-call log")]
    assert "Primary On-Call" in current and "Secondary On-Call" in current
    assert "Ic → Responder" in current
    assert "2026-03-09 13:00 UTC" in current
    assert f'href="/reports/handoffs/current/{schedule.pk}/"' in current
    assert "Open your shift&#x27;s checklist and handoff" in current \
        or "Open your shift's checklist and handoff" in current
    assert "Awaiting acknowledgement" in text and "Payments outage" not in current
    assert listed(response) == {"Database failover drill", "Quiet week", "Payments outage",
                                "Nights were calm"}
    assert "Open your shift" not in html(as_user(viewer).get("/reports/handoffs/"))


@pytest.mark.parametrize("query, expected", [
    ({"q": "failover"}, {"Database failover drill"}),
    ({"q": "SECONDARY"}, {"Nights were calm"}),
    ({"state": "handed_off"}, {"Payments outage"}),
    ({"state": ["handed_off", "acknowledged"], "q": "quiet"}, {"Quiet week"}),
    ({"state": ["handed_off", "acknowledged"], "q": "o"},
     {"Database failover drill", "Quiet week", "Payments outage", "Nights were calm"}),
    ({"after": "2026-03-02", "before": "2026-03-02"}, {"Payments outage",
                                                       "Nights were calm"}),
    ({"before": "2026-02-23"}, {"Database failover drill", "Quiet week"}),
    ({"after": "2026-02-17"}, {"Quiet week", "Payments outage", "Nights were calm"}),
])
def test_the_log_filters(log, ic, query, expected):
    response = as_user(ic).get("/reports/handoffs/", query)

    assert response.status_code == 200
    assert listed(response) == expected


def test_the_log_filters_by_schedule_and_person(log, schedule, ic, responder, django_user_model):
    client = as_user(ic)
    by_schedule = client.get("/reports/handoffs/", {"schedule": schedule.pk})
    other = django_user_model.objects.get(username="other")
    by_person = client.get("/reports/handoffs/", {"person": other.pk})

    assert listed(by_schedule) == {"Database failover drill", "Quiet week", "Payments outage"}
    assert listed(by_person) == {"Nights were calm"}
    assert listed(client.get("/reports/handoffs/", {"person": responder.pk})) == {
        "Database failover drill", "Quiet week", "Payments outage"}


@pytest.mark.parametrize("query", [
    {"schedule": "abc"}, {"schedule": "999999"}, {"person": "x"}, {"person": "999999"},
    {"state": "bogus"}, {"after": "2026-13-45"}, {"before": "yesterday"}, {"sort": "nope"},
    {"page": "999"}, {"page": "x"}, {"page": "99999999999999999999"}, {"page": "²"},
])
def test_bad_filter_values_are_no_500(log, ic, query):
    response = as_user(ic).get("/reports/handoffs/", query)

    assert response.status_code == 200
    assert listed(response) == {"Database failover drill", "Quiet week", "Payments outage",
                                "Nights were calm"}  # the whole log, unfiltered


def test_a_nul_in_a_filter_is_a_400(log, ic):
    # NUL is refused before any view sees it (issue 16), never a 500 or a DataError.
    assert as_user(ic).get("/reports/handoffs/", {"q": "\x00"}).status_code == 400


def test_an_htmx_filter_returns_only_the_log(log, ic):
    response = as_user(ic).get("/reports/handoffs/", {"q": "failover"}, **HX)

    assert response.status_code == 200
    assert_fragment(response, "handoff-log")
    assert listed(response) == {"Database failover drill"}
    assert "Current shifts" not in html(response)


def test_the_current_shift_link_opens_or_makes_its_handoff(schedule, ic, manager):
    response = as_user(ic).get(f"/reports/handoffs/current/{schedule.pk}/")

    handoff = Handoff.objects.get(schedule=schedule)
    assert response.status_code == 302 and response["Location"] == url(handoff)
    assert (handoff.shift_start, handoff.shift_end) == (START, END)
    assert as_user(ic).get(f"/reports/handoffs/current/{schedule.pk}/")["Location"] == \
        url(handoff)
    assert Handoff.objects.count() == 1
    assert as_user(ic).get("/reports/handoffs/current/999999/").status_code == 404
    later = ScheduleFactory(name="Not yet", members=[ic], by=manager,
                            starts_on=datetime(2026, 6, 1).date())
    assert as_user(ic).get(f"/reports/handoffs/current/{later.pk}/").status_code == 404


def test_index_queries_do_not_grow_with_the_number_of_schedules(ic, responder, manager):
    client = as_user(ic)
    client.get("/healthz")  # the signed-in user is read once, then cached: not counted

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/reports/handoffs/").status_code == 200
        return len(queries)

    ScheduleFactory(members=[ic, responder], by=manager)
    one = count()
    for _ in range(4):
        ScheduleFactory(members=[responder, ic], by=manager)
    assert count() == one


# --- the detail page ----------------------------------------------------------------------------

def test_the_detail_page_shows_the_shift_readiness_and_next_two_weeks(
        handoff, ic, responder, viewer, reachable):
    ContactMethod.objects.filter(pk=reachable[0].pk).update(last_test_ok=True,
                                                            last_test_at=NOW)
    incident = incident_of(ic, "Checkout returning 500s")

    response = as_user(viewer).get(url(handoff))

    assert response.status_code == 200
    text = html(response)
    assert "Primary On-Call handoff" in text
    assert "2026-03-02 09:00 EST → 2026-03-09 09:00 EDT" in text
    assert incident.ref in text and "Checkout returning 500s" in text
    assert "Gathered live, up to 2026-03-09 11:30 UTC" in text
    assert "Ready: a contact method" in text
    assert "2026-03-09 13:00 UTC → 2026-03-16 13:00 UTC: <strong>Responder</strong>" in text
    assert "2026-03-16 13:00 UTC → 2026-03-23 13:00 UTC: <strong>Ic</strong>" in text
    assert f'href="/reports/handoffs/{handoff.pk}.pdf"' in text


def test_readiness_warns_when_the_incoming_has_no_tested_method(handoff, viewer):
    text = html(as_user(viewer).get(url(handoff)))

    assert "Not confirmed" in text and "No contact methods: they cannot be paged." in text


def test_detail_queries_do_not_grow_with_the_shifts_incidents(
        handoff, ic, responder, reachable, django_assert_max_num_queries):
    client = as_user(ic)

    def add(count):
        first = Incident.objects.count()
        for n in range(first, first + count):
            incident_of(ic if n % 2 else responder, f"Incident {n:03d}", minutes_ago=n + 1)

    add(10)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(handoff)).status_code == 200
    add(50)
    assert Incident.objects.count() == 60
    with django_assert_max_num_queries(len(few)):
        response = client.get(url(handoff))
    assert response.status_code == 200
    assert "Incident 059" in html(response)


# --- bad requests -------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["", "save/", "acknowledge/", "checks/1/"])
def test_unknown_handoff_is_404(ic, suffix):
    client = as_user(ic)
    method = client.get if suffix == "" else client.post

    assert method(f"/reports/handoffs/999999/{suffix}").status_code == 404
    assert client.get("/reports/handoffs/999999.pdf").status_code == 404


@pytest.mark.parametrize("suffix", ["save/", "acknowledge/", "checks/{check}/"])
def test_get_on_post_only_urls_is_405(handoff, ic, suffix):
    path = url(handoff, suffix.format(check=handoff.checks.first().pk))

    assert as_user(ic).get(path).status_code == 405
    assert state_of(handoff) == (HandoffState.DRAFT, "", "", 1)


@pytest.mark.parametrize("version", ["abc", "", "0", "-3", "1.5"])
def test_a_bogus_version_is_400_and_nothing_saved(handoff, ic, version, reachable):
    for action in ("save", "hand_off"):
        response = as_user(ic).post(url(handoff, "save/"),
                                    form(version=version, action=action), **HX)
        assert response.status_code == 400
        assert_fragment(response, "handoff-form")
    assert state_of(handoff) == (HandoffState.DRAFT, "", "", 1)
    assert not Notice.objects.exists()


def test_get_only_urls_refuse_post(handoff, ic):
    assert as_user(ic).post(f"/reports/handoffs/{handoff.pk}.pdf").status_code == 405
    assert as_user(ic).post("/reports/handoffs/").status_code == 405


# --- PDF ---------------------------------------------------------------------------------------

def pdf_text(content):
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", "-layout", "-", "-"], input=content,
                              capture_output=True, check=True).stdout.decode()
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.mark.pdf
def test_the_pdf_holds_the_summary_and_the_shift(handoff, ic, responder):
    incident = incident_of(ic, "Checkout returning 500s")
    hand_off(handoff, ic, summary="Printable summary of the week", unresolved="Queue backlog")

    response = as_user(responder).get(f"/reports/handoffs/{handoff.pk}.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == \
        'attachment; filename="handoff-Primary-On-Call-2026-03-09.pdf"'
    assert response.content.startswith(b"%PDF")
    text = " ".join(pdf_text(response.content).split())
    assert "Printable summary of the week" in text
    assert "Queue backlog" in text
    assert incident.ref in text
    assert "Primary On-Call" in text


@pytest.mark.pdf
def test_the_pdf_running_header_names_a_handoff_not_a_review(handoff, ic):
    from pypdf import PdfReader

    hand_off(handoff, ic, summary="\n".join(f"Line {n} of a long week." for n in range(60)))

    content = as_user(ic).get(f"/reports/handoffs/{handoff.pk}.pdf").content

    assert len(PdfReader(io.BytesIO(content)).pages) > 1  # pages after the first: a header
    text = " ".join(pdf_text(content).split())
    assert "Primary On-Call ·" in text
    assert "Post-incident review" not in text


def test_a_row_the_outgoing_held_a_role_in_names_them_not_their_role(ic):
    """Issue 17 item 10: the page and the PDF read "Checkout down their role"."""
    row = {"ref": "INC-2026-0001", "title": "Checkout down", "url": "/x/", "theirs": True,
           "severity": "SEV-1", "severity_value": 1, "status": "Investigating",
           "commander": "Ic", "declared_at": NOW}

    text = render_to_string("reports/handoffs/_incidents.html",
                            {"rows": [row], "handoff": Handoff(outgoing=ic), "link": False})

    assert "their role" not in text
    assert "Ic held a role</span>" in text


def test_handing_off_and_acknowledging_move_the_dashboards_live_version(
        handoff, ic, responder, django_capture_on_commit_callbacks):
    """The dashboard lists handoffs awaiting acknowledgement: its watchers see them
    come and go (issue 18)."""
    before = live.version(live.DASHBOARD)
    with django_capture_on_commit_callbacks(execute=True):
        hand_off(handoff, ic)
    assert live.version(live.DASHBOARD) == before + 1
    with django_capture_on_commit_callbacks(execute=True):
        services.acknowledge(handoff, by=responder, now=NOW)
    assert live.version(live.DASHBOARD) == before + 2
