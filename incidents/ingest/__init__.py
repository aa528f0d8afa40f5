"""Inbound alerts: integrations and their tokens, raw bodies, dedup and grouping.

DESIGN.md's reliability rules, in order:
1. The raw body is stored first, in its own committed row, before it is acted on;
   whatever happens next only changes that row's outcome.
2. One body is processed in one transaction holding the integration's row lock,
   so a storm of identical alerts (even from many web processes) is serialised:
   the first opens the alert, the rest fold into it. The partial unique constraint
   on open alerts backs this up; a collision retries the whole body.
3. A firing alert joins the open incident of its group (Alertmanager's groupKey,
   the Events API's dedup_key) or opens one that pages on-call like a declared one.
4. Resolving an alert notes it on the incident's timeline; the incident stays open.
5. A firing alert that matches an active silence (ingest/silences.py) is stored and
   deduplicated as in 1-2 but opens no incident and pages nobody; its routing names
   the silence. Expiring a silence re-fires nothing retroactively: the next message
   about an alert it suppressed (Alertmanager repeats firing alerts) is routed as in 3.
"""

import hashlib

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from oncall.models import hash_token, issue_token

from .. import services
from ..models import (
    OPEN_ALERT_STATUSES,
    Alert,
    AlertStatus,
    DetectionSource,
    InboundPayload,
    Integration,
    IntegrationKind,
    PayloadOutcome,
    Severity,
    Silence,
    Status,
)
from . import silences
from .parse import (
    Message,
    PayloadError,
    load_json,
    parse_alertmanager,
    parse_event,
    routing_key_of,
)

__all__ = [
    "MAX_BODY_BYTES",
    "IntegrationError",
    "Message",
    "PayloadError",
    "create_integration",
    "integration_for_token",
    "issue_token",
    "load_json",
    "mark_failed",
    "raise_internal",
    "receive_alertmanager",
    "receive_event",
    "regenerate_token",
    "routing_key_of",
    "store_payload",
]

MAX_BODY_BYTES = 1024 * 1024
RETRIES = 3
DETECTION_SOURCES = {
    IntegrationKind.ALERTMANAGER: DetectionSource.MONITORING,
    IntegrationKind.EVENTS: DetectionSource.PAGERDUTY,
}


class IntegrationError(Exception):
    """A request about integrations the rules refuse (duplicate name ...)."""


# --- integrations and tokens --------------------------------------------------------

@transaction.atomic
def create_integration(*, name, kind, service=None, escalation_policy=None, severity_map=None):
    """Make an integration; returns (integration, token). The token is never stored."""
    name = (name or "").strip()
    if not name:
        raise IntegrationError("An integration needs a name.")
    kind = IntegrationKind(kind)
    if Integration.objects.filter(name__iexact=name).exists():
        raise IntegrationError(f"An integration named {name!r} already exists.")
    integration = Integration(name=name, kind=kind, service=service,
                              escalation_policy=escalation_policy)
    if severity_map is not None:
        integration.severity_map = severity_map
    try:
        integration.clean()
    except ValidationError as exc:
        raise IntegrationError(" ".join(exc.messages)) from None
    token = issue_token(integration)
    integration.save()
    return integration, token


@transaction.atomic
def regenerate_token(integration):
    """Replace the token (the old one stops working at once); returns the new one."""
    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    token = issue_token(integration)
    integration.save(update_fields=["token_hash", "token_prefix"])
    return token


def integration_for_token(token, kind):
    """The enabled integration of this kind with this token, or None.

    Looked up by the token's hash, so the comparison the database makes is between
    hashes and reveals nothing about the token through its timing.
    """
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    return (Integration.objects.select_related("service__escalation_policy",
                                               "escalation_policy")
            .filter(token_hash=hash_token(token), kind=kind, enabled=True).first())


# --- raw bodies ---------------------------------------------------------------------

def store_payload(integration, body):
    """Keep the body exactly as sent (NUL bytes, which no database text column
    accepts, shown as U+FFFD), committed on its own before anything else."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    return InboundPayload.objects.create(integration=integration,
                                         body=text.replace("\x00", "\ufffd"))


def _settle(payload, outcome, *, error="", result=""):
    InboundPayload.objects.filter(pk=payload.pk).update(outcome=outcome, error=error,
                                                       result=result)


def mark_failed(payload, exc):
    """An unexpected error while applying `payload`: say so on the kept body."""
    _settle(payload, PayloadOutcome.FAILED, error=f"{type(exc).__name__}: {exc}")


def _decode(body):
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError([f"body is not UTF-8: {exc}"]) from None


def receive_alertmanager(integration, payload, body):
    """Parse and apply an Alertmanager body already stored as `payload`.

    Returns one result dict per alert; raises PayloadError (payload marked rejected).
    """
    try:
        messages = parse_alertmanager(load_json(_decode(body)))
    except PayloadError as exc:
        _settle(payload, PayloadOutcome.REJECTED, error="\n".join(exc.errors))
        raise
    return _apply_all(integration, payload, messages)


def receive_event(integration, payload, data):
    """Apply an Events API body (already parsed to find its routing key, and stored)."""
    try:
        messages = parse_event(data)
    except PayloadError as exc:
        _settle(payload, PayloadOutcome.REJECTED, error="\n".join(exc.errors))
        raise
    return _apply_all(integration, payload, messages)


def raise_internal(integration, messages, body):
    """Apply messages the product itself raises (heartbeats) through the same path as
    an inbound body: `body` (a JSON text saying what happened) is kept like one."""
    return _apply_all(integration, store_payload(integration, body), messages)


def _apply_all(integration, payload, messages):
    """Apply every message in one transaction under the integration's row lock."""
    for attempt in range(RETRIES):
        try:
            with transaction.atomic():
                locked = Integration.objects.select_for_update().get(pk=integration.pk)
                locked.service, locked.escalation_policy = \
                    integration.service, integration.escalation_policy
                results = [_apply(locked, message) for message in messages]
                _settle(payload, PayloadOutcome.PROCESSED,
                        result="\n".join(f"{r['key']}: {r['outcome']}" for r in results))
                return results
        except IntegrityError:
            # Another writer opened the same key between our read and insert
            # (only possible without the row lock); the retry folds into it.
            if attempt == RETRIES - 1:
                raise
    return []


# --- applying one message -----------------------------------------------------------

def _group_hash(group_key):
    return hashlib.sha256(group_key.encode()).hexdigest()


def _open_alert(integration, key):
    return Alert.objects.filter(integration=integration, key=key,
                                status__in=OPEN_ALERT_STATUSES).first()


def _apply(integration, message):
    now = timezone.now()
    handler = {"trigger": _trigger, "acknowledge": _acknowledge, "resolve": _resolve}
    alert, outcome = handler[message.action](integration, message, now)
    return {"key": message.key, "alert": alert.pk if alert else None, "outcome": outcome,
            "action": message.action}


def _silence_for(integration, labels, now):
    """The active silence (oldest first, so the answer is stable) muting these labels."""
    active = Silence.objects.active(now).order_by("starts_at", "id")
    return silences.first_matching(active, labels, integration.pk)


def _silenced_routing(why, silence):
    return f"{why}: silenced by silence #{silence.pk} ({silence.comment}); " \
           "no incident, no page."


def _trigger(integration, message, now):
    alert = _open_alert(integration, message.key)
    if alert is not None and alert.silence_id and alert.incident_id is None:
        return _refire_silenced(integration, alert, message, now)
    if alert is not None:
        Alert.objects.filter(pk=alert.pk).update(count=F("count") + 1, last_received_at=now)
        return alert, f"folded into existing alert #{alert.pk}; no new page"
    severity = integration.severity_for(message.source_severity)
    group_hash = _group_hash(message.group_key or message.key)
    alert = Alert(
        integration=integration, key=message.key, group_key=message.group_key,
        group_hash=group_hash, summary=message.summary, source=message.source,
        source_severity=message.source_severity, severity=severity, labels=message.labels,
        details=message.details, link=message.link,
        started_at=min(message.started_at or now, now),
        created_at=now, last_received_at=now,
    )
    why = f"Integration {integration.name} ({integration.get_kind_display()}), key {message.key}"
    silence = _silence_for(integration, message.labels, now)
    if silence is not None:
        alert.silence, alert.routing = silence, _silenced_routing(why, silence)
        alert.save()
        return alert, f"new alert #{alert.pk} silenced by silence #{silence.pk}"
    return _route(integration, alert, message, why)


def _refire_silenced(integration, alert, message, now):
    """A repeat of an alert a silence kept quiet: fold it while a silence still covers
    it, else route it now (the silence expired; nothing was re-fired when it did)."""
    Alert.objects.filter(pk=alert.pk).update(count=F("count") + 1, last_received_at=now)
    alert.count, alert.last_received_at = alert.count + 1, now  # _route saves the row
    why = f"Integration {integration.name} ({integration.get_kind_display()}), key {alert.key}"
    silence = _silence_for(integration, alert.labels, now)
    if silence is not None:
        if silence.pk != alert.silence_id:
            Alert.objects.filter(pk=alert.pk).update(
                silence=silence, routing=_silenced_routing(why, silence))
        return alert, f"folded into existing alert #{alert.pk}; still silenced by " \
                      f"silence #{silence.pk}"
    alert, outcome = _route(integration, alert, message,
                            f"{why} (silence #{alert.silence_id} no longer active)")
    return alert, f"silence over; {outcome}"


def _route(integration, alert, message, why):
    """Send a new (or no longer silenced) alert to its group's open incident, or open
    one that pages on-call; `why` starts its routing text."""
    severity = alert.severity
    incident = _group_incident(integration, alert.group_hash)
    if incident is not None:
        alert.incident = incident
        alert.routing = f"{why}: joined {incident.ref}, the open incident of its group; " \
                        "no page (the incident's own paging covers it)."
        alert.save()
        _note_join(incident, integration, message)
        return alert, f"new alert #{alert.pk} joined {incident.ref}"
    incident, page = services.open_incident_for_alert(
        title=message.summary, severity=severity, description=_description(integration, message),
        detection_source=DETECTION_SOURCES[IntegrationKind(integration.kind)],
        services=[integration.service] if integration.service_id else [],
        started_at=message.started_at, policy=integration.resolved_policy(),
    )
    alert.incident, alert.opened_incident, alert.paged = incident, True, page is not None
    if page is not None:
        paged = f"paged {page.policy.name}"
    elif severity == Severity.SEV4:
        paged = "no page: SEV-4 pages nobody"
    else:
        paged = "no page: no escalation policy applies"
    alert.routing = f"{why}: opened {incident.ref} at {alert.get_severity_display()}; {paged}."
    alert.save()
    return alert, f"new alert #{alert.pk} opened {incident.ref}; {paged}"


JOIN_NOTES = 20  # alerts joining an incident are noted one by one up to this many


def _note_join(incident, integration, message):
    """Note a joining alert on the timeline; past JOIN_NOTES, a storm is noted once (the
    incident's Alerts section lists every one)."""
    joined = Alert.objects.filter(incident=incident).count()
    if joined <= JOIN_NOTES:
        services.note_alert(incident, body=f"Alert joined: **{message.summary}** "
                                           f"({integration.name}, key `{message.key}`).")
    elif joined == JOIN_NOTES + 1:
        services.note_alert(incident, body=f"More than {JOIN_NOTES} alerts have joined; "
                                           "the rest are listed under Alerts only.")


def _group_incident(integration, group_hash):
    """The open incident an earlier alert of this group went to, if any."""
    alert = (Alert.objects.filter(integration=integration, group_hash=group_hash,
                                  incident__isnull=False)
             .exclude(incident__status=Status.RESOLVED)
             .select_related("incident").order_by("-created_at", "-id").first())
    return alert.incident if alert else None


def _description(integration, message):
    lines = [f"Opened by the **{integration.name}** integration from an alert "
             f"(key `{message.key}`)."]
    if message.source:
        lines.append(f"Source: {message.source}")
    for name, value in message.details.items():
        if isinstance(value, str) and value != message.summary:
            lines.append(f"{name}: {value}")
    if message.labels:
        lines.append("Labels: " + ", ".join(f"{k}={v}" for k, v in message.labels.items()))
    if message.link:
        lines.append(f"Link: {message.link}")
    return "\n".join(lines)


def _acknowledge(integration, message, now):
    alert = _open_alert(integration, message.key)
    if alert is None:
        return None, "no open alert with this key; nothing changed"
    if alert.status == AlertStatus.ACKNOWLEDGED:
        return alert, f"alert #{alert.pk} was already acknowledged"
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.ACKNOWLEDGED,
                                             acknowledged_at=now, last_received_at=now)
    if alert.incident_id:
        services.note_alert(alert.incident, body=f"Alert acknowledged at its source: "
                                                 f"**{alert.summary}** (key `{alert.key}`).")
    return alert, f"acknowledged alert #{alert.pk}"


def _resolve(integration, message, now):
    alert = _open_alert(integration, message.key)
    if alert is None:
        return None, "no open alert with this key; nothing changed"
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.RESOLVED,
                                             resolved_at=min(message.ended_at or now, now),
                                             last_received_at=now)
    if alert.incident_id:
        services.note_alert(alert.incident, body=f"Alert resolved at its source: "
                                                 f"**{alert.summary}** (key `{alert.key}`). "
                                                 "The incident stays open until its "
                                                 "commander resolves it.")
    return alert, f"resolved alert #{alert.pk}"
