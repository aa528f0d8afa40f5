"""CloudWatch alarms through an SNS HTTPS subscription: a verified SNS message (sns.py)
stored and acted on, and the subscription's state kept on its integration.

1. Only a verified message is stored (an unverified one changes nothing), with its
   MessageId: a replay of a message already received (SNS redelivers when an answer
   is slow) is folded, stored once and applied once. A body that failed leaves the
   unique index, so SNS's retry of it is stored and applied.
2. A Notification goes down the same path as any alert body (receive.py): applied at
   once or queued, deduplicated by the alarm's ARN. It also shows the subscription is
   confirmed, if this server had not seen that yet (confirmed by hand in SNS).
3. A SubscriptionConfirmation is confirmed by a Celery task that visits its
   SubscribeURL (sns.confirm): the request answers SNS at once, a slow or failing SNS
   holds no web worker, and a transient failure is retried with backoff. A lost task
   is recovered by the admin's "Confirm the SNS subscription again" (or by requesting
   a new confirmation in SNS).
4. An UnsubscribeConfirmation is recorded; its SubscribeURL is never visited (that
   would subscribe again).
Whatever went wrong with a stored message or a confirmation is kept as the
integration's `last_error`, shown in the admin.
"""

import json
import logging
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.utils import timezone

from mindweave_ir.queue import enqueue_on_commit

from ..models import InboundPayload, Integration, PayloadOutcome, SubscriptionState
from . import sns
from .parse import PayloadError
from .receive import receive_cloudwatch

log = logging.getLogger(__name__)

CONFIRMED = "confirmed"
CONFIRM_TASK = "incidents.tasks.confirm_sns_subscription"


class SnsReceipt(NamedTuple):
    """What the endpoint answers: a message, and each alert's result (notifications)."""

    message: str
    results: list
    queued: bool = False


def store_sns_message(integration, body, envelope):
    """Keep a verified SNS message's body (rule 1); None if its MessageId was already
    received. A notification is stored pending (outcome "received") like any alert
    body; a (un)subscription message is settled as it is stored."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    pending = envelope["Type"] == sns.NOTIFICATION
    try:
        with transaction.atomic():
            return InboundPayload.objects.create(
                integration=integration, body=text.replace("\x00", "\ufffd"),
                message_id=envelope["MessageId"],
                outcome=PayloadOutcome.RECEIVED if pending else PayloadOutcome.PROCESSED,
                result="" if pending else f"{envelope['Type']} for {envelope['TopicArn']}")
    except IntegrityError:
        return None


def duplicate_of(integration, envelope):
    """The stored message a replay repeats (for its answer), or None."""
    return (InboundPayload.objects.filter(integration=integration,
                                          message_id=envelope["MessageId"])
            .exclude(outcome=PayloadOutcome.FAILED).order_by("id").first())


def receive_sns(integration, payload, envelope):
    """Act on a verified, stored SNS message (rules 2-4); returns an SnsReceipt, raises
    PayloadError for a notification that is no CloudWatch alarm (payload rejected)."""
    kind, topic = envelope["Type"], envelope["TopicArn"]
    if kind == sns.SUBSCRIPTION_CONFIRMATION:
        _set_state(integration, SubscriptionState.CONFIRMING, topic=topic)
        enqueue_on_commit(CONFIRM_TASK, payload.pk)
        return SnsReceipt(f"Subscription to {topic} received; confirming it.", [])
    if kind == sns.UNSUBSCRIBE_CONFIRMATION:
        _set_state(integration, SubscriptionState.UNSUBSCRIBED, topic=topic)
        return SnsReceipt(f"Unsubscribed from {topic}; recorded.", [])
    if (integration.subscription_state != SubscriptionState.CONFIRMED
            or integration.topic_arn != topic):
        _set_state(integration, SubscriptionState.CONFIRMED, topic=topic)
    try:
        receipt = receive_cloudwatch(integration, payload, envelope)
    except PayloadError as exc:
        record_error(integration, f"Notification {envelope['MessageId']} refused: "
                                  + "; ".join(exc.errors))
        raise
    return SnsReceipt("Notification queued" if receipt.queued else "Notification processed",
                      receipt.results, receipt.queued)


def _set_state(integration, state, *, topic=None, subscription_arn=None, error=None):
    changes = {"subscription_state": state, "subscription_changed_at": timezone.now()}
    if topic is not None:
        changes["topic_arn"] = topic[:256]
    if subscription_arn is not None:
        changes["subscription_arn"] = subscription_arn
    if error is not None:
        changes.update(last_error=error, last_error_at=timezone.now() if error else None)
    Integration.objects.filter(pk=integration.pk).update(**changes)
    for name, value in changes.items():
        setattr(integration, name, value)


def record_error(integration, error):
    """Keep `error` as the integration's last error (shown in the admin)."""
    now = timezone.now()
    Integration.objects.filter(pk=integration.pk).update(last_error=error, last_error_at=now)
    integration.last_error, integration.last_error_at = error, now


def confirm_subscription(payload_id):
    """Task: confirm the subscription a stored SubscriptionConfirmation asks for (rule 3).

    Idempotent: a confirmation already done is not sent again. A 4xx from SNS fails it
    for good (the state and the body say why); no answer or a 5xx is recorded and
    raised, for the task's retry.
    """
    payload = (InboundPayload.objects.select_related("integration")
               .filter(pk=payload_id).first())
    if payload is None:
        return "no such payload"
    if payload.result.startswith(CONFIRMED):
        return "already confirmed"
    integration, envelope = payload.integration, json.loads(payload.body)
    topic = envelope.get("TopicArn", "")
    try:
        subscription_arn = sns.confirm(envelope.get("SubscribeURL"))
    except sns.SnsUnavailable as exc:
        record_error(integration, f"Confirming the subscription: {exc}; retrying. "
                                  f"Topic: {topic}.")
        raise
    except sns.SnsRefused as exc:
        error = f"{exc}. Topic: {topic}."
        with transaction.atomic():
            _set_state(integration, SubscriptionState.FAILED, topic=topic, error=error)
            InboundPayload.objects.filter(pk=payload.pk).update(
                outcome=PayloadOutcome.FAILED, error=error)
        return "confirmation refused"
    with transaction.atomic():
        _set_state(integration, SubscriptionState.CONFIRMED, topic=topic,
                   subscription_arn=subscription_arn, error="")
        InboundPayload.objects.filter(pk=payload.pk).update(
            result=f"{CONFIRMED}: {subscription_arn or topic}")
    log.info("SNS subscription of integration %s to %s confirmed", integration.pk, topic)
    return "confirmed"


def _latest_confirmation(integration):
    recent = (InboundPayload.objects.filter(integration=integration)
              .exclude(message_id="").exclude(outcome=PayloadOutcome.RECEIVED)
              .order_by("-id").only("id", "body", "outcome")[:50])
    for payload in recent:
        try:
            if json.loads(payload.body).get("Type") == sns.SUBSCRIPTION_CONFIRMATION:
                return payload
        except (ValueError, AttributeError):
            continue
    return None


def confirm_again(integration):
    """Send the latest SubscriptionConfirmation of the integration to be confirmed again
    (a lost task, a fixed network); False if it has received none lately."""
    payload = _latest_confirmation(integration)
    if payload is None:
        return False
    with transaction.atomic():
        InboundPayload.objects.filter(pk=payload.pk).update(
            outcome=PayloadOutcome.PROCESSED, error="",
            result=f"{sns.SUBSCRIPTION_CONFIRMATION} (confirming again)")
        _set_state(integration, SubscriptionState.CONFIRMING)
        enqueue_on_commit(CONFIRM_TASK, payload.pk)
    return True
