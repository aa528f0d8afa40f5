"""A CloudWatch alarm's SNS notification -> one alert message. Pure: no ORM.

The notification's `Message` is the alarm's state change as JSON (AlarmName,
AlarmDescription, AWSAccountId, NewStateValue, NewStateReason, StateChangeTime,
Region, AlarmArn, OldStateValue, Trigger {MetricName, Namespace, Dimensions ...}).
- ALARM triggers the alert, OK resolves it, INSUFFICIENT_DATA is noted on its
  incident (action "note"), never paged.
- The alert's key (and group) is the AlarmArn: each alarm is one alert, and its
  incident. An alarm without an ARN (very old ones) is keyed by account, region
  and name.
- The severity word is `severity: WORD` (or `severity=WORD`) anywhere in the
  AlarmDescription, mapped by the integration's severity map like Alertmanager's
  `severity` label; without one the integration's default severity applies.
"""

import hashlib
import re
from urllib.parse import quote

from .parse import MAX_KEY_LENGTH, MAX_SUMMARY_LENGTH, Message, PayloadError, load_json, parse_time

ACTIONS = {"ALARM": "trigger", "OK": "resolve", "INSUFFICIENT_DATA": "note"}
SEVERITY = re.compile(r"\bseverity\s*[:=]\s*([A-Za-z0-9_-]{1,50})", re.IGNORECASE)
_ARN = re.compile(r"arn:aws[a-z-]*:cloudwatch:([a-z0-9-]+):(\d+):alarm:(.+)")
MAX_LABEL = 1024


def alert_key(arn):
    """An alarm ARN as an alert key: itself if it fits, else its SHA-256."""
    if len(arn) <= MAX_KEY_LENGTH:
        return arn
    return "sha256:" + hashlib.sha256(arn.encode()).hexdigest()


def _text(data, name, errors, *, required=False, limit=None):
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            errors.append(f"'Message.{name}' is missing or blank")
        return ""
    if not isinstance(value, str) or not value.strip():
        errors.append(f"'Message.{name}' must be a non-blank string")
        return ""
    if limit and len(value) > limit:
        errors.append(f"'Message.{name}' is longer than {limit} characters")
        return ""
    return value.strip()


def parse_alarm_notification(envelope):
    """A verified SNS Notification (its fields as a dict) -> [Message], or PayloadError
    naming the fields (`Message.NewStateValue` ...)."""
    try:
        alarm = load_json(envelope.get("Message") or "")
    except PayloadError:
        raise PayloadError(["'Message' is not JSON: only CloudWatch alarm notifications "
                            "are accepted here"]) from None
    if not isinstance(alarm, dict):
        raise PayloadError(["'Message' must be a CloudWatch alarm (a JSON object)"])
    errors = []
    name = _text(alarm, "AlarmName", errors, required=True, limit=255)
    state = alarm.get("NewStateValue")
    if not isinstance(state, str) or state not in ACTIONS:
        errors.append("'Message.NewStateValue' must be ALARM, OK or INSUFFICIENT_DATA")
    arn = _text(alarm, "AlarmArn", errors, limit=2048)
    account = _text(alarm, "AWSAccountId", errors, limit=64)
    region = _text(alarm, "Region", errors, limit=100)
    reason = _text(alarm, "NewStateReason", errors, limit=4096)
    description = _text(alarm, "AlarmDescription", errors, limit=4096)
    changed_at = None
    if alarm.get("StateChangeTime") is not None:
        changed_at = parse_time(alarm.get("StateChangeTime"))
        if changed_at is None:
            errors.append("'Message.StateChangeTime' is not an ISO 8601 timestamp "
                          "(1970-9000)")
    trigger = alarm.get("Trigger")
    if trigger is not None and not isinstance(trigger, dict):
        errors.append("'Message.Trigger' must be an object")
    if errors:
        raise PayloadError(errors)
    labels = _labels(name, account, region, trigger or {})
    severity = SEVERITY.search(description)
    details = {"NewStateReason": reason, "AlarmDescription": description, "Region": region,
               "AWSAccountId": account, "AlarmArn": arn,
               "OldStateValue": _plain(alarm.get("OldStateValue")),
               "StateChangeTime": _plain(alarm.get("StateChangeTime"))}
    key = alert_key(arn or f"{account}:{region}:{name}")
    return [Message(
        action=ACTIONS[state], key=key, group_key=key, summary=name[:MAX_SUMMARY_LENGTH],
        source=(labels.get("namespace", "CloudWatch") + " " + labels.get("metric", "")
                ).strip()[:255],
        source_severity=severity.group(1).lower() if severity else "",
        labels=labels, details={k: v for k, v in details.items() if v},
        link=_console_link(arn, name), started_at=changed_at, ended_at=changed_at,
    )]


def _plain(value):
    return value.strip()[:MAX_LABEL] if isinstance(value, str) else ""


def _labels(name, account, region, trigger):
    """What silences and automation rules match on: the alarm's name as `alertname`,
    where it is, its metric and the metric's dimensions."""
    labels = {"alertname": name, "source": "cloudwatch"}
    if account:
        labels["aws_account"] = account
    if region:
        labels["region"] = region
    for label, field in (("namespace", "Namespace"), ("metric", "MetricName")):
        if _plain(trigger.get(field)):
            labels[label] = _plain(trigger.get(field))
    dimensions = trigger.get("Dimensions")
    for dimension in dimensions if isinstance(dimensions, list) else []:
        if isinstance(dimension, dict):
            dim_name, dim_value = _plain(dimension.get("name")), dimension.get("value")
            if dim_name and dim_name not in labels and isinstance(dim_value, (str, int, float)):
                labels[dim_name[:100]] = str(dim_value)[:MAX_LABEL]
    return labels


def _console_link(arn, name):
    """The alarm in the CloudWatch console (its region is in the ARN)."""
    found = _ARN.fullmatch(arn or "")
    if not found:
        return ""
    region = found.group(1)
    link = (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#alarmsV2:alarm/{quote(name, safe='')}")
    return link if len(link) <= 2000 else ""
