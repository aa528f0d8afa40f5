"""Reminders about action items and reviews: one e-mail a day, never two (locmem outbox)."""

import smtplib
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.template.loader import render_to_string
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import ChecklistPhase, Exercise, Incident, Severity
from oncall.models import ContactMethod
from oncall.roles import Role
from reports import reminders, services, tasks
from reports.models import ActionItem, ActionStatus, PIRChange, PostIncidentReview
from tests.conftest import make_user
from tests.reports.factories import finish_sections

pytestmark = pytest.mark.django_db

RESOLVED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday: the review is due 9 March 10:00
THURSDAY = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
FRIDAY = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
MONDAY = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


@pytest.fixture
def people(ic, responder, manager):
    for user in (ic, responder, manager):
        user.email = f"{user.username}@example.com"
        user.save()
    return ic, responder, manager


@pytest.fixture
def pir(people):
    ic = people[0]
    with time_machine.travel(RESOLVED, tick=False):
        incident = incident_services.declare_incident(title="Checkout errors",
                                                      severity=Severity.SEV2, by=ic)
        for item in incident.checklist.filter(phase=ChecklistPhase.CLOSURE):
            incident_services.set_checklist_item(item, done=True, by=ic)
        incident_services.resolve_incident(incident, resolution="Rolled back.", by=ic)
    return PostIncidentReview.objects.get(incident=incident)


def item(pir, owner, due, status=ActionStatus.OPEN, action="Add a payments canary"):
    with time_machine.travel(RESOLVED, tick=False):
        made = services.add_action_item(pir, action=action, owner=owner, due_date=due,
                                        by=pir.incident.commander)
    ActionItem.objects.filter(pk=made.pk).update(status=status)
    return made


def run(at):
    with time_machine.travel(at, tick=False):
        return reminders.send_reminders()


def sent_to(outbox, address, about):
    return [m for m in outbox if address in m.to and about in m.subject]


# --- Action items --------------------------------------------------------------------------

def test_an_owner_gets_one_email_a_day_listing_items_due_soon_or_overdue(pir, people,
                                                                        mailoutbox):
    _, responder, _ = people
    item(pir, responder, date(2026, 3, 10), action="Canary payments")  # due in 1 day
    item(pir, responder, date(2026, 3, 4), action="Fix the alert")  # overdue
    item(pir, responder, date(2026, 3, 20), action="Rewrite the runbook")  # not yet
    item(pir, responder, date(2026, 3, 9), status=ActionStatus.DONE, action="Rolled back")

    run(MONDAY)
    mails = sent_to(mailoutbox, "responder@example.com", "action item")
    assert len(mails) == 1
    body = mails[0].body
    assert "Canary payments" in body and "Fix the alert" in body and "OVERDUE" in body
    assert "Rewrite the runbook" not in body and "Rolled back" not in body
    assert f"/reports/pir/{pir.incident.ref}/" in body
    assert mails[0].subject == "[MindWeave IR] 2 action items overdue or due soon"

    run(MONDAY.replace(hour=15))  # the next hourly runs the same day
    run(MONDAY.replace(hour=23, minute=59))
    assert len(sent_to(mailoutbox, "responder@example.com", "action item")) == 1

    run(MONDAY.replace(day=10))  # the next day
    assert len(sent_to(mailoutbox, "responder@example.com", "action item")) == 2
    assert set(ActionItem.objects.exclude(reminded_on=None).values_list("action", flat=True)) \
        == {"Canary payments", "Fix the alert"}


def test_closed_items_are_not_reminded(pir, people, mailoutbox):
    _, responder, _ = people
    item(pir, responder, date(2026, 3, 4), status=ActionStatus.DONE)
    item(pir, responder, date(2026, 3, 9), status=ActionStatus.WONT_DO)

    run(MONDAY)

    assert not sent_to(mailoutbox, "responder@example.com", "action item")


def test_an_item_done_after_a_reminder_is_not_reminded_again(pir, people, mailoutbox):
    _, responder, _ = people
    due = item(pir, responder, date(2026, 3, 9))
    run(MONDAY)
    services.update_action_item(due, by=responder, status=ActionStatus.DONE)

    run(MONDAY.replace(day=10))

    assert len(sent_to(mailoutbox, "responder@example.com", "action item")) == 1


def test_each_owner_gets_their_own_email(pir, people, mailoutbox):
    ic, responder, _ = people
    item(pir, responder, date(2026, 3, 9), action="Responder's item")
    item(pir, ic, date(2026, 3, 9), action="IC's item")

    run(MONDAY)

    (to_responder,) = sent_to(mailoutbox, "responder@example.com", "action item")
    (to_ic,) = sent_to(mailoutbox, "ic@example.com", "action item")
    assert to_responder.to == ["responder@example.com"]
    assert "Responder's item" in to_responder.body and "IC's item" not in to_responder.body
    assert "IC's item" in to_ic.body


def test_an_owner_without_an_account_address_is_reached_by_contact_method(pir, people,
                                                                         mailoutbox):
    _, responder, _ = people
    responder.email = ""
    responder.save()
    ContactMethod.objects.create(user=responder, kind="email", target="pager@example.com")
    item(pir, responder, date(2026, 3, 9))

    run(MONDAY)

    assert len(sent_to(mailoutbox, "pager@example.com", "action item")) == 1


def test_a_failed_send_gives_the_claim_back_for_the_next_run(pir, people, mailoutbox,
                                                             monkeypatch):
    _, responder, _ = people
    due = item(pir, responder, date(2026, 3, 9))
    real_send_mail = reminders.send_mail

    def refused(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(reminders, "send_mail", refused)
    assert run(MONDAY) == 0
    assert ActionItem.objects.get(pk=due.pk).reminded_on is None
    assert PostIncidentReview.objects.get(pk=pir.pk).reminded_on is None

    monkeypatch.setattr(reminders, "send_mail", real_send_mail)
    assert run(MONDAY.replace(hour=10)) == 2  # the owner's list and the review's reminder
    assert ActionItem.objects.get(pk=due.pk).reminded_on == date(2026, 3, 9)


# --- Reviews -------------------------------------------------------------------------------

def test_a_review_due_within_a_business_day_reminds_commander_and_managers_once_a_day(
        pir, people, mailoutbox, django_user_model):
    make_user(django_user_model, "former", Role.MANAGER, email="former@example.com",
              is_active=False)

    run(FRIDAY)  # due Monday 10:00: one business day away
    (mail,) = sent_to(mailoutbox, "ic@example.com", pir.incident.ref)
    assert mail.to == ["ic@example.com", "manager@example.com"]
    assert mail.subject == f"[MindWeave IR] Due soon: post-incident review of {pir.incident.ref}"
    assert "2026-03-09 10:00" in mail.body
    assert f"/reports/pir/{pir.incident.ref}/" in mail.body

    run(FRIDAY.replace(hour=18))
    assert len(mailoutbox) == 1

    run(SATURDAY)
    run(MONDAY.replace(day=10))  # overdue now
    assert len(mailoutbox) == 3
    assert mailoutbox[-1].subject.startswith("[MindWeave IR] Overdue:")
    assert PostIncidentReview.objects.get(pk=pir.pk).reminded_on == date(2026, 3, 10)


def test_a_review_not_due_yet_is_not_reminded(pir, people, mailoutbox):
    assert run(THURSDAY) == 0  # due Monday: two business days away
    assert not mailoutbox


def test_an_approved_review_is_not_reminded(pir, people, mailoutbox):
    ic, responder, manager = people
    item(pir, responder, date(2026, 3, 30))
    with time_machine.travel(RESOLVED, tick=False):
        finish_sections(pir, ic)
    services.update_section(pir, section="root_cause",
                            expected_version=PostIncidentReview.objects.get(pk=pir.pk).version,
                            by=ic, data={"what_happened": "x", "why_it_happened": "y"})
    services.submit_for_review(pir, by=ic)
    services.approve(pir, by=manager)

    assert run(MONDAY.replace(day=16)) == 0
    assert not mailoutbox


# --- By hand, and the task ------------------------------------------------------------------

def test_a_failed_manual_reminder_is_a_refusal_and_leaves_no_record(pir, people, mailoutbox,
                                                                     monkeypatch):
    _, _, manager = people
    changes = PIRChange.objects.count()

    def refused(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"ic@example.com": (550, b"No such user")})

    monkeypatch.setattr(reminders, "send_mail", refused)
    with pytest.raises(services.PIRError, match="did not take the reminder"):
        reminders.send_pir_reminder(pir, by=manager)
    assert PIRChange.objects.count() == changes


def test_a_manual_reminder_goes_to_the_commander_even_if_reminded_today(pir, people,
                                                                       mailoutbox):
    ic, _, manager = people
    run(FRIDAY)
    version = PostIncidentReview.objects.get(pk=pir.pk).version

    with time_machine.travel(FRIDAY.replace(hour=13), tick=False):
        assert reminders.send_pir_reminder(pir, by=manager) == ["ic@example.com"]

    assert len(mailoutbox) == 2
    assert mailoutbox[-1].to == ["ic@example.com"]
    change = PIRChange.objects.filter(pir=pir).first()
    assert (change.by, change.what) == (manager, "Reminder sent to Ic.")
    assert PostIncidentReview.objects.get(pk=pir.pk).version == version


def test_a_manual_reminder_needs_a_manager_and_an_address(pir, people, mailoutbox):
    ic, _, manager = people
    changes = PIRChange.objects.count()

    with pytest.raises(PermissionDenied):
        reminders.send_pir_reminder(pir, by=ic)

    ic.email = ""
    ic.save()
    pir.incident.refresh_from_db()
    with pytest.raises(services.PIRError, match="no Incident Commander with an e-mail"):
        reminders.send_pir_reminder(pir, by=manager)
    assert not mailoutbox
    assert PIRChange.objects.count() == changes


def test_the_hourly_task_sends_the_days_reminders(pir, people, mailoutbox):
    with time_machine.travel(FRIDAY, tick=False):
        assert tasks.send_reminders() == "sent 1 reminder e-mails"
        assert tasks.send_reminders() == "sent 0 reminder e-mails"
    assert len(mailoutbox) == 1


def test_a_drills_review_reminder_says_test(pir):
    """Issue 17 item 6: everything about a test/game-day incident says "[TEST]"."""
    Incident.objects.filter(pk=pir.incident_id).update(exercise=Exercise.TEST)
    pir.refresh_from_db()

    subject = render_to_string("reports/email/pir_due_subject.txt",
                               reminders._pir_context(pir, timezone.now()))

    assert subject.startswith("[TEST] [MindWeave IR] ")
