"""Celery tasks on a real worker over the configured broker (filesystem or Redis)."""

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from incidents import services, tasks
from incidents.models import Incident, Severity, TimelineEntry, TimelineKind
from mindweave_ir.celery import app
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)




def test_beat_task_on_real_worker_notes_each_breach_once(ic):
    incident = services.declare_incident(title="Queue backlog", severity=Severity.SEV1,
                                         by=ic)
    # Detected two hours ago: both SEV-1 targets (5 min, 1 h) are long past.
    two_hours_ago = timezone.now() - timedelta(hours=2)
    Incident.objects.filter(pk=incident.pk).update(started_at=two_hours_ago,
                                                   detected_at=two_hours_ago)
    sla_entries = TimelineEntry.objects.filter(incident=incident, kind=TimelineKind.SLA)

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        tasks.note_sla_breaches.delay()
        assert wait_for(lambda: sla_entries.count() == 2), "the worker never noted the breaches"
        tasks.note_sla_breaches.delay()  # a second tick (or a redelivery) notes nothing new
        time.sleep(1)

    assert sorted(e.body.split("**")[1] for e in sla_entries) == [
        "Resolution SLA breached", "Response SLA breached",
    ]
    incident.refresh_from_db()
    assert incident.response_breach_noted_at is not None
    assert incident.resolution_breach_noted_at is not None


@pytest.mark.django_db(transaction=False)
def test_every_beat_task_is_registered(settings):
    for app_name in ("incidents", "oncall", "reports"):
        __import__(f"{app_name}.tasks")
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "incidents.tasks.comms_tick" in scheduled
    assert scheduled - set(app.tasks) == set()


@pytest.mark.django_db(transaction=False)
def test_the_comms_tasks_names_from_before_the_reshape_still_run_the_same_code():
    """In-flight messages name incidents/comms_tasks.py, where the tasks used to live."""
    old_tick, old_deliver = (app.tasks["incidents.comms_tasks.tick"],
                             app.tasks["incidents.comms_tasks.deliver_update"])
    assert old_tick.__wrapped__ is tasks.comms_tick.__wrapped__
    assert old_deliver.__wrapped__ is tasks.deliver_update.__wrapped__
    assert (old_tick.max_retries, old_deliver.max_retries) == (3, 5)
    assert old_tick.acks_late and old_deliver.acks_late
