"""Notices (oncall/notices.py): messages to a person outside paging, one row per enabled
contact method and key, sent at most once through oncall/delivery.py against real peers
on 127.0.0.1 (aiosmtpd, an HTTP receiver); and rotation.turn_at, the rotation turn that
contains an instant, which the handoffs build their shifts on.

The clock is frozen on Monday 9 March 2026, 12:00 UTC (08:00 in New York, EDT since
the day before)."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from oncall import delivery, notices
from oncall.models import ContactKind, ContactMethod, DeliveryStatus, Notice
from oncall.rotation import DAILY, WEEKLY, Coverage, Rotation, turn_at

NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
KEY = "handoff:7:handed-off"
LINK = "/reports/handoffs/7/"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def method(user, kind=ContactKind.EMAIL, target=None, **extra):
    target = target or f"{user.username}@example.com"
    return ContactMethod.objects.create(user=user, kind=kind, target=target, **extra)


def notify(user, key=KEY, subject="On-call handoff: Primary — please acknowledge",
           text="Ic handed Primary over to you.", link=LINK):
    return notices.notify(user, key=key, subject=subject, text=text, link=link)


def fresh(row):
    return type(row).objects.get(pk=row.pk)


# --- notify: one row per enabled method and key -------------------------------------------

@pytest.mark.django_db
def test_notify_makes_one_queued_notice_per_enabled_method(clock, responder, ic):
    mail_method = method(responder)
    hook = method(responder, ContactKind.WEBHOOK, "https://hooks.example.com/responder")
    method(responder, ContactKind.SLACK, "https://hooks.example.com/paused",
           disabled_at=NOW - timedelta(days=1), disabled_reason="Paused by owner.")
    method(ic)  # someone else's method is never used

    made = notify(responder)

    assert [n.contact_method for n in made] == [mail_method, hook]
    rows = Notice.objects.order_by("id")
    assert [(n.user, n.contact_method, n.kind, n.status) for n in rows] == [
        (responder, mail_method, "email", DeliveryStatus.QUEUED),
        (responder, hook, "webhook", DeliveryStatus.QUEUED)]
    assert {(n.key, n.subject, n.link, n.due_at, n.attempts) for n in rows} == {
        (KEY, "On-call handoff: Primary — please acknowledge", LINK, NOW, 0)}


@pytest.mark.django_db
def test_an_inactive_user_or_one_without_methods_gets_nothing(clock, responder, ic):
    method(responder)
    responder.is_active = False
    responder.save()

    assert notify(responder) == []
    assert notify(ic) == []  # no contact method at all
    assert notices.notify(None, key=KEY, subject="s", text="t") == []
    assert not Notice.objects.exists()


@pytest.mark.django_db
def test_the_same_key_twice_makes_no_new_rows_and_wakes_nobody_again(
        clock, responder, django_capture_on_commit_callbacks):
    method(responder)
    method(responder, ContactKind.WEBHOOK, "https://hooks.example.com/responder")

    with django_capture_on_commit_callbacks() as first_wakes:
        first = notify(responder)
    with django_capture_on_commit_callbacks() as second_wakes:
        second = notify(responder, subject="A different subject", text="Other text")

    assert [n.pk for n in second] == [n.pk for n in first]
    assert Notice.objects.count() == 2
    assert (len(first_wakes), len(second_wakes)) == (2, 0)
    assert set(Notice.objects.values_list("subject", flat=True)) == {
        "On-call handoff: Primary — please acknowledge"}
    # Another key is another message.
    assert len(notify(responder, key="handoff:7:acknowledged")) == 2
    assert Notice.objects.count() == 4


# --- deliver: real peers --------------------------------------------------------------------

@pytest.mark.django_db
def test_deliver_sends_the_email_through_a_real_smtp_server_once(clock, responder, smtp_server):
    method(responder)
    [notice] = notify(responder)

    result = notices.deliver(notice.pk, now=NOW)

    assert result.startswith("sent: accepted by mail server")
    [(recipients, message)] = smtp_server.messages
    assert recipients == ["responder@example.com"]
    assert message["Subject"] == "On-call handoff: Primary — please acknowledge"
    body = message.get_body(("plain",)).get_content()
    assert "Ic handed Primary over to you." in body
    assert f"{settings.SITE_URL}{LINK}" in body  # a relative link is made absolute
    assert "Acknowledge (one click" not in body  # a notice has no page to acknowledge
    sent = fresh(notice)
    assert (sent.status, sent.attempts, sent.sent_at, sent.error) == (
        DeliveryStatus.SENT, 1, NOW, "")
    # A second worker (or a redelivered task) finds it taken: nothing sent twice.
    assert notices.deliver(notice.pk, now=NOW + timedelta(minutes=5)) == "not mine"
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db
def test_deliver_posts_a_signed_notice_event_to_a_webhook(clock, responder, receiver):
    hook = method(responder, ContactKind.WEBHOOK, receiver.url("/mw/hook"))
    [notice] = notify(responder)

    assert notices.deliver(notice.pk, now=NOW).startswith("sent: HTTP 200")

    [request] = receiver.requests
    assert request["path"] == "/mw/hook"
    assert request["headers"]["X-MindWeave-Event"] == "notice"
    expected = "sha256=" + hmac.new(hook.secret.encode(), request["body"],
                                    hashlib.sha256).hexdigest()
    signature = request["headers"]["X-MindWeave-Signature"]
    assert hmac.compare_digest(signature, expected)
    payload = json.loads(request["body"])
    assert payload["event"] == "notice"
    assert payload["dedup_key"] == KEY
    assert payload["subject"] == "On-call handoff: Primary — please acknowledge"
    assert payload["link"] == f"{settings.SITE_URL}{LINK}"
    assert payload["ack_url"] == ""
    assert fresh(notice).status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_a_transient_failure_requeues_with_backoff_then_sends(clock, responder, receiver):
    hook = method(responder, ContactKind.WEBHOOK, receiver.url())
    [notice] = notify(responder)
    receiver.answer(503, "busy")

    result = notices.deliver(notice.pk, now=NOW)

    assert result.startswith("retry in 10s:") and "HTTP 503" in result
    queued = fresh(notice)
    assert (queued.status, queued.attempts) == (DeliveryStatus.QUEUED, 1)
    assert queued.due_at == NOW + timedelta(seconds=delivery.BACKOFF_SECONDS)
    assert "HTTP 503" in queued.error
    assert fresh(hook).is_enabled
    # Not due yet: nobody may send it before its backoff ends.
    assert notices.deliver(notice.pk, now=NOW + timedelta(seconds=9)) == "not mine"
    assert len(receiver.requests) == 1

    clock.move_to(NOW + timedelta(seconds=10))
    assert notices.deliver(notice.pk, now=NOW + timedelta(seconds=10)).startswith("retry in 20s")
    assert fresh(notice).due_at == NOW + timedelta(seconds=30)  # doubled: 10 s, 20 s, ...

    receiver.answer(200, "ok")
    clock.move_to(NOW + timedelta(seconds=30))
    assert notices.deliver_due(now=NOW + timedelta(seconds=30)) == 1
    sent = fresh(notice)
    assert (sent.status, sent.attempts, sent.error) == (DeliveryStatus.SENT, 3, "")
    assert len(receiver.requests) == 3


@pytest.mark.django_db
def test_transient_failures_give_up_after_max_attempts_without_disabling(
        clock, responder, receiver):
    hook = method(responder, ContactKind.WEBHOOK, receiver.url())
    [notice] = notify(responder)
    receiver.answer(503, "busy")

    at = NOW
    for _ in range(delivery.MAX_ATTEMPTS):
        clock.move_to(at)
        result = notices.deliver(notice.pk, now=at)
        at = fresh(notice).due_at

    assert result.startswith("failed:")
    failed = fresh(notice)
    assert (failed.status, failed.attempts) == (DeliveryStatus.FAILED, delivery.MAX_ATTEMPTS)
    assert fresh(hook).is_enabled  # the target is not bad, the moment was


@pytest.mark.django_db
def test_a_permanent_failure_fails_the_notice_and_disables_the_method(
        clock, responder, receiver):
    hook = method(responder, ContactKind.WEBHOOK, receiver.url())
    [notice] = notify(responder)
    receiver.answer(404, "no such hook")

    result = notices.deliver(notice.pk, now=NOW)

    assert result.startswith("failed:") and "HTTP 404" in result
    failed = fresh(notice)
    assert (failed.status, failed.attempts) == (DeliveryStatus.FAILED, 1)
    disabled = fresh(hook)
    assert disabled.disabled_at == NOW
    assert "HTTP 404" in disabled.disabled_reason
    # The disabled method is not used again.
    assert notify(responder, key="handoff:7:acknowledged") == []
    assert notices.deliver_due(now=NOW + timedelta(hours=1)) == 0
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_a_refused_recipient_is_permanent_too(clock, responder, smtp_server):
    mailbox = method(responder, target="nobody@example.com")
    [notice] = notify(responder)

    assert notices.deliver(notice.pk, now=NOW).startswith("failed: Mail server refused")
    assert fresh(notice).status == DeliveryStatus.FAILED
    assert not fresh(mailbox).is_enabled
    assert smtp_server.messages == []


# --- deliver_due: the beat's safety net -------------------------------------------------------

@pytest.mark.django_db
def test_deliver_due_sends_a_queued_notice_whose_wake_up_was_lost(clock, responder):
    method(responder)
    [notice] = notify(responder)  # its on_commit wake-up never ran
    later = Notice.objects.create(key="handoff:8:prepare", user=responder,
                                  contact_method=notice.contact_method, kind="email",
                                  subject="Later", text="Not yet", due_at=NOW + timedelta(hours=1))

    assert notices.deliver_due(now=NOW) == 1

    assert [m.to for m in mail.outbox] == [["responder@example.com"]]
    assert mail.outbox[0].subject == "On-call handoff: Primary — please acknowledge"
    assert fresh(notice).status == DeliveryStatus.SENT
    assert fresh(later).status == DeliveryStatus.QUEUED  # not due: left for later
    assert notices.deliver_due(now=NOW) == 0  # nothing sent twice
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_deliver_due_fails_a_notice_stuck_in_sending_without_resending_it(clock, responder):
    method(responder)
    [stuck] = notify(responder)
    [recent] = notify(responder, key="handoff:8:handed-off")
    Notice.objects.filter(pk=stuck.pk).update(status=DeliveryStatus.SENDING, attempts=1,
                                              sending_at=NOW - timedelta(minutes=2, seconds=1))
    Notice.objects.filter(pk=recent.pk).update(status=DeliveryStatus.SENDING, attempts=1,
                                               sending_at=NOW - timedelta(minutes=1))

    assert notices.deliver_due(now=NOW) == 0

    failed = fresh(stuck)
    assert (failed.status, failed.error, failed.attempts) == (
        DeliveryStatus.FAILED, delivery.INTERRUPTED, 1)
    assert fresh(recent).status == DeliveryStatus.SENDING  # may still be on its way
    assert mail.outbox == []  # the person may already have it: never resent


@pytest.mark.django_db
def test_for_key_lists_a_senders_notices_by_prefix(clock, responder):
    method(responder)
    notify(responder, key="handoff:7:handed-off")
    notify(responder, key="handoff:7:acknowledged")
    notify(responder, key="handoff:70:handed-off")

    keys = [n.key for n in notices.for_key("handoff:7:")]

    assert sorted(keys) == ["handoff:7:acknowledged", "handoff:7:handed-off"]


# --- rotation.turn_at ---------------------------------------------------------------------------

NEW_YORK = "America/New_York"


def primary(members=("alice", "bob", "carol"), coverage=None):
    """Weekly, Monday 09:00 America/New_York, handoff 0 on Monday 5 January 2026."""
    return Rotation(members, NEW_YORK, datetime(2026, 1, 5, 9), WEEKLY, coverage)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_turn_at_spans_monday_0900_to_monday_0900_local_across_spring_forward():
    # 8 March 2026 New York springs forward: the turn is one hour short.
    turn = turn_at(primary(), utc(2026, 3, 8, 12))

    assert (turn.start, turn.end) == (utc(2026, 3, 2, 14), utc(2026, 3, 9, 13))
    assert turn.end - turn.start == timedelta(hours=167)
    assert turn.member == "carol"  # handoff 8: 8 % 3
    for instant in (turn.start, turn.end):
        local = instant.astimezone(primary().zone)
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
    assert turn.start.tzinfo == UTC and turn.end.tzinfo == UTC


def test_turn_at_is_half_open_at_the_handoff_instant():
    rot = primary()
    before = turn_at(rot, utc(2026, 3, 9, 13) - timedelta(microseconds=1))
    at = turn_at(rot, utc(2026, 3, 9, 13))

    assert before.end == at.start == utc(2026, 3, 9, 13)
    assert (before.member, at.member) == ("carol", "alice")
    assert at.end == utc(2026, 3, 16, 13)
    assert at.end - at.start == timedelta(hours=168)


def test_turn_at_across_fall_back_is_169_hours():
    turn = turn_at(primary(), utc(2026, 11, 1, 12))

    assert (turn.start, turn.end) == (utc(2026, 10, 26, 13), utc(2026, 11, 2, 14))
    assert turn.end - turn.start == timedelta(hours=169)


def test_turn_at_is_none_before_handoff_0_and_member_0_from_it():
    rot = primary()
    assert turn_at(rot, utc(2026, 1, 5, 14) - timedelta(microseconds=1)) is None
    assert turn_at(rot, utc(2025, 12, 1)) is None
    first = turn_at(rot, utc(2026, 1, 5, 14))
    assert (first.start, first.end, first.member) == (utc(2026, 1, 5, 14), utc(2026, 1, 12, 14),
                                                      "alice")


def test_turn_at_ignores_coverage_and_accepts_any_zone():
    business = Coverage(days=frozenset(range(5)), start=datetime(2026, 1, 1, 9).time(),
                        end=datetime(2026, 1, 1, 17).time())
    saturday_night = datetime(2026, 3, 7, 23, 0, tzinfo=primary().zone)  # nobody covers it

    turn = turn_at(primary(coverage=business), saturday_night)

    assert (turn.start, turn.end, turn.member) == (utc(2026, 3, 2, 14), utc(2026, 3, 9, 13),
                                                   "carol")


def test_turn_at_of_a_daily_rotation_and_a_naive_instant():
    daily = Rotation(("a", "b"), NEW_YORK, datetime(2026, 3, 7, 9), DAILY)
    turn = turn_at(daily, utc(2026, 3, 8, 20))
    assert (turn.start, turn.end, turn.member) == (utc(2026, 3, 8, 13), utc(2026, 3, 9, 13), "b")
    assert turn.end - turn.start == timedelta(hours=24)
    assert turn_at(daily, utc(2026, 3, 8, 12)).end - utc(2026, 3, 7, 14) == timedelta(hours=23)
    with pytest.raises(ValueError, match="aware"):
        turn_at(daily, datetime(2026, 3, 8, 12))
