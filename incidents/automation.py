"""Automation rules at work (handbook §6.2). See AutomationRule for what a rule says.

`evaluate` runs on the beat (every 30 s): for each enabled rule, the open alerts it
matches that have fired for long enough and that it has not acted on yet. Each is
claimed by writing its AutomationFiring row first (unique per rule and alert, so two
workers never act twice); then, outside any transaction, the webhook is called or the
policy paged, and the outcome is recorded and written to the incident's timeline.
Past `max_per_hour` in the last hour the firing is recorded as skipped, not retried.
"""

import json
import logging
import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from oncall import channels, paging

from . import matchers, services
from .models import (
    OPEN_ALERT_STATUSES,
    Alert,
    AutomationAction,
    AutomationFiring,
    AutomationRule,
    FiringResult,
    Severity,
    TimelineKind,
)

log = logging.getLogger(__name__)

_FIELD = re.compile(r"\{\{\s*\.(Labels|Annotations)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
DRY_RUN_DAYS = 7


# --- pure parts ---------------------------------------------------------------------------

def render(template, labels, annotations):
    """`{{ .Labels.x }}` / `{{ .Annotations.x }}` filled in; a missing one reads `<no value>`
    (as Alertmanager's templates do)."""
    def fill(found):
        source = labels if found.group(1) == "Labels" else annotations
        value = (source or {}).get(found.group(2))
        return "<no value>" if value in (None, "") else str(value)

    return _FIELD.sub(fill, template or "")


def alert_name(alert):
    return str((alert.labels or {}).get("alertname") or alert.summary)


def why_not(rule, alert, now):
    """Why `rule` would not act on `alert` now ("" when it would)."""
    if alert.status not in OPEN_ALERT_STATUSES:
        return "the alert is resolved"
    if rule.alert_name and alert_name(alert) != rule.alert_name:
        return f"its name is {alert_name(alert)!r}, not {rule.alert_name!r}"
    if rule.matchers and not matchers.matches(rule.matchers, alert.labels):
        return f"its labels do not match {matchers.describe(rule.matchers)}"
    if rule.max_severity and alert.severity > rule.max_severity:
        return f"it is {Severity(alert.severity).label}, below {Severity(rule.max_severity).label}"
    firing_for = now - alert.started_at
    if firing_for < timedelta(minutes=rule.duration_minutes):
        return (f"it has fired for {int(firing_for.total_seconds() // 60)} of the "
                f"{rule.duration_minutes} minutes needed")
    return ""


# --- acting --------------------------------------------------------------------------------

def _candidates(rule, now):
    alerts = Alert.objects.filter(status__in=OPEN_ALERT_STATUSES,
                                  started_at__lte=now - timedelta(minutes=rule.duration_minutes))
    alerts = alerts.exclude(automation_firings__rule=rule).select_related("incident")
    return [a for a in alerts.order_by("started_at", "id")[:200] if not why_not(rule, a, now)]


def _claim(rule, alert, now):
    """The new firing row, or None if another worker already has this alert."""
    recent = AutomationFiring.objects.filter(rule=rule, fired_at__gte=now - timedelta(hours=1),
                                             result__in=[FiringResult.DONE,
                                                         FiringResult.RUNNING,
                                                         FiringResult.FAILED]).count()
    result = FiringResult.RATE_LIMITED if recent >= rule.max_per_hour else FiringResult.RUNNING
    try:
        with transaction.atomic():
            return AutomationFiring.objects.create(
                rule=rule, alert=alert, incident=alert.incident, fired_at=now, result=result,
                message=render(rule.message, alert.labels, alert.details),
                detail=(f"More than {rule.max_per_hour} firings in the last hour."
                        if result == FiringResult.RATE_LIMITED else ""))
    except IntegrityError:
        return None


def _webhook_body(rule, alert, firing):
    incident = alert.incident
    return json.dumps({
        "event": "automation", "rule": rule.name, "message": firing.message,
        "alert": {"name": alert_name(alert), "summary": alert.summary, "status": alert.status,
                  "severity": Severity(alert.severity).label, "labels": alert.labels,
                  "annotations": alert.details, "started_at": alert.started_at.isoformat()},
        "incident": ({"id": incident.ref, "is_test": incident.is_exercise,
                      "url": f"{settings.SITE_URL}{incident.get_absolute_url()}"}
                     if incident else None),
        "sent_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _act(rule, alert, firing):
    """Do the rule's action; returns (result, detail)."""
    if rule.action == AutomationAction.WEBHOOK:
        hook = channels.WebhookChannel()
        body = _webhook_body(rule, alert, firing)
        headers = {"X-MindWeave-Event": "automation",
                   "X-MindWeave-Signature": hook.signature(rule.webhook_secret, body)}
        try:
            answer = hook.post(hook.validate_target(rule.webhook_url), body, headers,
                               rule.webhook_secret)
        except channels.ChannelError as exc:
            return FiringResult.FAILED, f"webhook failed: {exc}"
        except ValidationError as exc:
            return FiringResult.FAILED, f"webhook URL refused: {' '.join(exc.messages)}"
        return FiringResult.DONE, f"webhook answered {answer}"
    if rule.policy is None:
        return FiringResult.FAILED, "no escalation policy to page"
    incident = alert.incident
    page = paging.trigger_page(
        title=firing.message or alert.summary, dedup_key=f"automation/{rule.pk}/{alert.pk}",
        policy=rule.policy, severity=Severity(alert.severity).label,
        link=(f"{settings.SITE_URL}{incident.get_absolute_url()}" if incident else ""),
        source=f"incident:{incident.pk}" if incident else "automation",
        is_test=bool(incident and incident.is_exercise))
    return FiringResult.DONE, f"paged {rule.policy.name} (page {page.pk})"


def fire(rule, alert, now=None):
    """Act on one alert once; returns the firing (None if another worker had it)."""
    now = now or timezone.now()
    firing = _claim(rule, alert, now)
    if firing is None:
        return None
    if firing.result == FiringResult.RUNNING:
        firing.result, firing.detail = _act(rule, alert, firing)
        AutomationFiring.objects.filter(pk=firing.pk).update(result=firing.result,
                                                             detail=firing.detail)
    if alert.incident_id:
        services.note_alert(alert.incident, kind=TimelineKind.AUTOMATION, body=(
            f"Automation **{rule.name}** on alert “{alert.summary[:120]}”: "
            f"{firing.get_result_display().lower()} — {firing.detail}"
            + (f"\n\n{firing.message}" if firing.message else "")))
    log.info("automation %s on alert %s: %s %s", rule.name, alert.pk, firing.result,
             firing.detail)
    return firing


def evaluate(now=None):
    """Beat: every enabled rule against the open alerts; returns how many firings."""
    now = now or timezone.now()
    fired = 0
    for rule in AutomationRule.objects.filter(enabled=True).select_related("policy"):
        for alert in _candidates(rule, now):
            fired += fire(rule, alert, now) is not None
    return fired


def dry_run(rule, now=None, days=DRY_RUN_DAYS):
    """The alerts of the last `days` days and what the rule would make of each:
    [(alert, reason it would not act or "", already acted on)]."""
    now = now or timezone.now()
    alerts = list(Alert.objects.filter(last_received_at__gte=now - timedelta(days=days))
                  .order_by("-last_received_at", "-id")[:200])
    acted = set(AutomationFiring.objects.filter(rule=rule, alert__in=alerts)
                .values_list("alert_id", flat=True))
    rows = []
    for alert in alerts:
        reason = why_not(rule, alert, now)
        if rule.alert_name and reason.startswith("its name"):
            continue  # other alerts entirely: leave them out
        rows.append((alert, reason, alert.pk in acted))
    return rows
