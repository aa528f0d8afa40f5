"""Update cadence (§5.3): every 30 minutes for SEV-1/2; the Communications Lead (or
the IC) is reminded once per overdue interval."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from incidents import services, tasks
from incidents.comms import cadence
from incidents.models import CommsKind, CommsStatus, Severity
from mindweave_ir.templatetags.mw import when
from oncall.models import ContactMethod, Notice
from tests.incidents.factories import declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(timezone.now().replace(second=0, microsecond=0), tick=False)
    return time_machine


def reachable(user):
    ContactMethod.objects.create(user=user, kind="email", target=f"{user.username}@example.com")
    return user


def reminders(user=None):
    notices = Notice.objects.filter(key__startswith="comms:")
    return notices.filter(user=user) if user else notices


def publish(incident, by):
    return services.send_update(incident, channel=CommsKind.STATUS_PAGE, subject="S", body="B",
                             state="investigating", by=by)


def test_next_update_is_due_30_minutes_after_declaration_then_after_each_update(ic, clock):
    incident = declare(ic, severity=Severity.SEV1)
    assert cadence.next_update_due(incident) == incident.declared_at + timedelta(minutes=30)
    clock.shift(timedelta(minutes=12))
    update = publish(incident, ic)
    assert cadence.next_update_due(incident) == update.created_at + timedelta(minutes=30)


def test_a_failed_update_does_not_count(ic, clock):
    incident = declare(ic)
    clock.shift(timedelta(minutes=5))
    update = publish(incident, ic)
    update.status = CommsStatus.FAILED
    update.save()
    assert cadence.next_update_due(incident) == incident.declared_at + timedelta(minutes=30)


def test_sev3_4_and_resolved_incidents_have_no_cadence(ic):
    assert cadence.next_update_due(declare(ic, severity=Severity.SEV3)) is None
    assert cadence.next_update_due(declare(ic, severity=Severity.SEV4)) is None


def test_incident_page_shows_when_the_next_update_is_due(ic, clock):
    incident = declare(ic)
    client = Client()
    client.force_login(ic)
    text = client.get(f"/incidents/{incident.ref}/comms/", HTTP_HX_REQUEST="true") \
        .content.decode()
    due = cadence.next_update_due(incident)
    assert due == incident.declared_at + timedelta(minutes=30)
    # The deadline, counted down by the browser (static/js/app.js); the text the
    # server writes does not depend on the moment (issue 19: cached fragments).
    assert f'data-deadline="{due.isoformat()}"' in text
    assert f'Next update: <span class="sla-text">due {when(due)}</span>' in text


def test_reminder_goes_once_per_interval_to_the_comms_lead(ic, responder, clock):
    reachable(ic)
    reachable(responder)
    incident = declare(ic, severity=Severity.SEV2)
    services.assign_role(incident, role="communications_lead", user=responder, by=ic)
    clock.shift(timedelta(minutes=29))
    cadence.remind_overdue()
    assert reminders().count() == 0
    clock.shift(timedelta(minutes=2))  # 31 min: overdue
    cadence.remind_overdue()
    cadence.remind_overdue()  # a second beat tick in the same interval
    assert reminders(responder).count() == 1 and reminders(ic).count() == 0
    notice = reminders(responder).get()
    assert notice.key == f"comms:{incident.pk}:" \
        f"{incident.declared_at + timedelta(minutes=30):%Y%m%dT%H%M}"
    assert incident.ref in notice.subject and "overdue" in notice.subject
    clock.shift(timedelta(minutes=25))  # 56 min: same interval
    cadence.remind_overdue()
    assert reminders(responder).count() == 1
    clock.shift(timedelta(minutes=5))  # 61 min: the next interval
    cadence.remind_overdue()
    assert reminders(responder).count() == 2


def test_reminder_goes_to_the_ic_without_a_comms_lead(ic, clock):
    reachable(ic)
    declare(ic, severity=Severity.SEV1)
    clock.shift(timedelta(minutes=31))
    tasks.comms_tick()
    assert reminders(ic).count() == 1


def test_an_update_resets_the_interval(ic, clock):
    reachable(ic)
    incident = declare(ic, severity=Severity.SEV1)
    clock.shift(timedelta(minutes=25))
    publish(incident, ic)
    clock.shift(timedelta(minutes=10))  # 35 min after declaring, 10 after the update
    cadence.remind_overdue()
    assert reminders().count() == 0


def test_no_reminders_for_sev3_or_resolved(ic, clock):
    reachable(ic)
    declare(ic, severity=Severity.SEV3)
    incident = declare(ic, severity=Severity.SEV1)
    for item in incident.checklist.filter(phase="closure"):
        services.set_checklist_item(item, done=True, by=ic)
    services.resolve_incident(incident, resolution="Fixed.", by=ic)
    clock.shift(timedelta(hours=2))
    assert cadence.remind_overdue() == 0
    assert reminders().count() == 0
