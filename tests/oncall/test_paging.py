"""The paging engine, driven step by step with a frozen clock (oncall/paging.py)."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from oncall import paging
from oncall.models import (
    ContactMethod,
    DeliveryStatus,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    Override,
    PageEventKind,
    PageStatus,
    Schedule,
    ScheduleMember,
)
from tests.oncall.conftest import free_port

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York
MIN = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def email(user):
    return ContactMethod.objects.create(user=user, kind="email",
                                        target=f"{user.username}@example.com")


def policy(*levels, repeat=0):
    """levels: (users, timeout) or (schedule, timeout)."""
    pol = EscalationPolicy.objects.create(name=f"Policy {EscalationPolicy.objects.count()}",
                                          repeat_count=repeat)
    for position, (target, timeout) in enumerate(levels, start=1):
        level = EscalationLevel.objects.create(
            policy=pol, position=position, timeout_minutes=timeout,
            schedule=target if isinstance(target, Schedule) else None)
        if not isinstance(target, Schedule):
            level.users.set(target)
    return pol


def trigger(pol, key="k1", **kwargs):
    return paging.trigger_page(title="Checkout down", severity="SEV-1", dedup_key=key,
                               policy=pol, link="https://ir.example/incidents/1/", **kwargs)


def deliver_all(now):
    return [paging.deliver(n.pk, now=now) for n in
            Notification.objects.filter(status=DeliveryStatus.QUEUED)]


def notified(page):
    return sorted((n.level, n.cycle, n.user.username) for n in page.notifications.all())


def test_first_level_is_paged_at_once_with_an_ack_link(ic, responder):
    email(ic)
    page = trigger(policy(([ic], 5), ([responder], 10)))

    paging.run_page(page.pk, now=T0)
    assert deliver_all(T0)[0].startswith("sent")

    page.refresh_from_db()
    assert (page.current_level, page.next_step_at) == (1, T0 + 5 * MIN)
    assert notified(page) == [(1, 0, "ic")]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ic@example.com"]
    assert "/oncall/ack/" in mail.outbox[0].body


def test_unacknowledged_page_escalates_to_level_two_after_the_timeout(ic, responder):
    email(ic), email(responder)
    page = trigger(policy(([ic], 5), ([responder], 10)))
    paging.run_page(page.pk, now=T0)

    assert paging.run_page(page.pk, now=T0 + 4 * MIN) == "not due"
    paging.run_page(page.pk, now=T0 + 5 * MIN)

    page.refresh_from_db()
    assert page.current_level == 2
    assert page.next_step_at == T0 + 15 * MIN
    assert notified(page) == [(1, 0, "ic"), (2, 0, "responder")]


def test_acknowledgement_stops_escalation_and_cancels_pending(ic, responder, clock):
    method = email(ic)
    method.notify_after_minutes = 3
    method.save()
    page = trigger(policy(([ic], 5), ([responder], 10)))
    paging.run_page(page.pk, now=T0)
    clock.shift(2 * MIN)

    paging.acknowledge_page(page, by=ic)

    page.refresh_from_db()
    assert page.status == PageStatus.ACKNOWLEDGED
    assert page.acknowledged_at == T0 + 2 * MIN
    assert page.next_step_at is None
    assert paging.run_page(page.pk, now=T0 + 30 * MIN) == "not due"
    assert page.notifications.get().status == DeliveryStatus.CANCELLED
    assert deliver_all(T0 + 30 * MIN) == []
    assert mail.outbox == []


def test_acknowledging_twice_is_refused(ic):
    email(ic)
    page = trigger(policy(([ic], 5)))
    paging.run_page(page.pk, now=T0)
    paging.acknowledge_page(page, by=ic)

    with pytest.raises(paging.PagingError, match="already acknowledged by Ic"):
        paging.acknowledge_page(page, by=ic)


def test_someone_never_notified_cannot_acknowledge(ic, responder):
    email(responder)
    page = trigger(policy(([responder], 5)))
    paging.run_page(page.pk, now=T0)
    outsider = responder.__class__.objects.create_user("outsider")

    with pytest.raises(paging.PagingError, match="Only people this page notified"):
        paging.acknowledge_page(page, by=outsider)
    page.refresh_from_db()
    assert page.status == PageStatus.TRIGGERED


def test_policy_repeats_then_stops_flagged_when_nobody_answers(ic, responder):
    email(ic), email(responder)
    page = trigger(policy(([ic], 5), ([responder], 10), repeat=1))
    for minute in (0, 5, 15, 20, 30):
        paging.run_page(page.pk, now=T0 + minute * MIN)

    page.refresh_from_db()
    assert notified(page) == [(1, 0, "ic"), (1, 1, "ic"), (2, 0, "responder"),
                              (2, 1, "responder")]
    assert page.status == PageStatus.EXHAUSTED
    assert page.events.filter(kind=PageEventKind.EXHAUSTED, flagged=True).exists()
    assert page.events.filter(kind=PageEventKind.REPEATED).count() == 1


def test_level_that_resolves_to_nobody_is_skipped_at_once_and_flagged(ic, responder):
    email(responder)
    empty = Schedule.objects.create(name="Empty", starts_on=date(2026, 1, 1))
    page = trigger(policy((empty, 5), ([ic], 5), ([responder], 10)))

    paging.run_page(page.pk, now=T0)

    page.refresh_from_db()
    assert page.current_level == 3  # level 1 nobody, level 2 no contact method
    assert notified(page) == [(3, 0, "responder")]
    skipped = page.events.filter(kind=PageEventKind.SKIPPED, flagged=True)
    assert skipped.count() == 2
    assert any("no working contact method" in e.text for e in skipped)


def test_sev3_style_page_notifies_first_level_without_escalating(ic, responder):
    email(ic), email(responder)
    page = trigger(policy(([ic], 5), ([responder], 10)), escalate=False)

    paging.run_page(page.pk, now=T0)
    assert paging.run_page(page.pk, now=T0 + 60 * MIN) == "not due"

    page.refresh_from_db()
    assert notified(page) == [(1, 0, "ic")]
    assert page.status == PageStatus.TRIGGERED


def test_override_on_call_is_paged_instead_of_the_rotation(ic, responder):
    email(ic), email(responder)
    primary = Schedule.objects.create(name="Primary", timezone="America/New_York",
                                      starts_on=date(2026, 1, 5))
    ScheduleMember.objects.create(schedule=primary, user=ic, position=0)
    assert primary.on_call_at(T0) == ic.pk
    Override.objects.create(schedule=primary, user=responder, start=T0 - MIN, end=T0 + 60 * MIN)

    page = trigger(policy((primary, 5)))
    paging.run_page(page.pk, now=T0)

    assert notified(page) == [(1, 0, "responder")]


def test_same_dedup_key_folds_into_the_open_page(ic):
    pol = policy(([ic], 5))
    first = trigger(pol, key="same")

    assert trigger(pol, key="same").pk == first.pk
    paging.acknowledge_page(first, by=ic)
    assert trigger(pol, key="same").pk == first.pk  # acknowledged is still open
    paging.resolve_page(first)
    assert trigger(pol, key="same").pk != first.pk


def test_delivering_twice_notifies_once(ic):
    email(ic)
    page = trigger(policy(([ic], 5)))
    paging.run_page(page.pk, now=T0)
    notification = page.notifications.get()

    assert paging.deliver(notification.pk, now=T0).startswith("sent")
    assert paging.deliver(notification.pk, now=T0) == "not mine"
    assert len(mail.outbox) == 1


def test_running_a_step_twice_notifies_once(ic):
    email(ic)
    page = trigger(policy(([ic], 5)))

    paging.run_page(page.pk, now=T0)
    assert paging.run_page(page.pk, now=T0) == "not due"
    assert page.notifications.count() == 1


def test_transient_failures_retry_with_backoff_then_fail_flagged(ic, settings):
    settings.NOTIFICATION_HTTP_TIMEOUT = 1
    ContactMethod.objects.create(user=ic, kind="webhook",
                                 target=f"http://127.0.0.1:{free_port()}/hook")
    page = trigger(policy(([ic], 30)))
    paging.run_page(page.pk, now=T0)
    notification = page.notifications.get()

    now = T0
    for attempt in range(1, paging.MAX_ATTEMPTS + 1):
        result = paging.deliver(notification.pk, now=now)
        notification.refresh_from_db()
        assert notification.attempts == attempt
        if attempt < paging.MAX_ATTEMPTS:
            assert result.startswith("retry")
            assert notification.status == DeliveryStatus.QUEUED
            assert notification.due_at > now
            now = notification.due_at
    assert notification.status == DeliveryStatus.FAILED
    assert page.events.filter(kind=PageEventKind.FAILED, flagged=True).exists()
    assert ContactMethod.objects.get().disabled_at is None  # transient: method kept


def test_permanent_failure_disables_the_method_visibly(ic, receiver):
    receiver.answer(404)
    method = ContactMethod.objects.create(user=ic, kind="webhook", target=receiver.url())
    page = trigger(policy(([ic], 5)))
    paging.run_page(page.pk, now=T0)

    assert paging.deliver(page.notifications.get().pk, now=T0).startswith("failed")

    method.refresh_from_db()
    assert method.disabled_at is not None
    assert "404" in method.disabled_reason
    assert not method.is_working


def test_auditor_fires_an_overdue_step_and_flags_it(ic, responder):
    email(ic), email(responder)
    page = trigger(policy(([ic], 5), ([responder], 10)))
    paging.run_page(page.pk, now=T0)
    deliver_all(T0)

    assert paging.audit(now=T0 + 5 * MIN + 30 * timedelta(seconds=1)) == 0  # within grace
    # The step, and then its notification: due when the step was (2 min ago), so the
    # auditor sends it too, at once, rather than a minute later (no engine runs).
    assert paging.audit(now=T0 + 7 * MIN) == 2
    assert paging.audit(now=T0 + 9 * MIN) == 0

    page.refresh_from_db()
    assert page.current_level == 2
    assert [n.status for n in page.notifications.order_by("level")] == [DeliveryStatus.SENT] * 2
    flagged = page.events.filter(kind=PageEventKind.AUDITOR, flagged=True)
    assert [e.text.split(";")[1].strip() for e in flagged] == [
        "the auditor fired it.", "the auditor sent it (is a paging engine running?)."]
    assert len(mail.outbox) == 2


def test_auditor_sends_nothing_an_engine_already_sent(ic):
    email(ic)
    page = trigger(policy(([ic], 30)))
    paging.run_page(page.pk, now=T0)
    deliver_all(T0)

    assert paging.audit(now=T0 + 5 * MIN) == 0
    assert len(mail.outbox) == 1


def test_auditor_marks_a_send_interrupted_by_a_dead_worker_failed_not_resent(ic):
    email(ic)
    page = trigger(policy(([ic], 30)))
    paging.run_page(page.pk, now=T0)
    Notification.objects.update(status=DeliveryStatus.SENDING, sending_at=T0)

    paging.audit(now=T0 + 3 * MIN)

    notification = page.notifications.get()
    assert notification.status == DeliveryStatus.FAILED
    assert "outcome unknown" in notification.error
    assert mail.outbox == []


def test_ack_token_round_trip_and_tampering(ic):
    page = trigger(policy(([ic], 5)))
    token = paging.ack_url(page, ic).rstrip("/").rsplit("/", 1)[1]

    assert paging.read_ack_token(token) == (page.pk, ic.pk)
    with pytest.raises(paging.PagingError, match="not valid"):
        paging.read_ack_token(token[:-2] + "xx")


def test_ack_token_expires_after_a_day(ic, clock):
    page = trigger(policy(([ic], 5)))
    token = paging.ack_url(page, ic).rstrip("/").rsplit("/", 1)[1]
    clock.shift(timedelta(hours=25))

    with pytest.raises(paging.PagingError, match="expired"):
        paging.read_ack_token(token)
