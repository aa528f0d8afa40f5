"""Turn an inbound body into alert messages, or say exactly which field is wrong.

Pure: no ORM. Each parser returns a list of `Message`s or raises `PayloadError`
whose `errors` name the fields, PagerDuty-style (`'payload.summary' is missing or
blank`). Values that would not survive the database (NUL characters, NaN) are
refused here, so a bad body is a 400, never a 500.
"""

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mindweave_ir.inputs import scrub

MAX_KEY_LENGTH = 255
MAX_SUMMARY_LENGTH = 1024
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
EVENT_SEVERITIES = ("critical", "error", "warning", "info")
ALERTMANAGER_STATUSES = ("firing", "resolved")
ALERTMANAGER_VERSION = "4"
# Alertmanager's "not ended yet".
ZERO_TIME = "0001-01-01T00:00:00Z"
MIN_YEAR, MAX_YEAR = 1970, 9000


class PayloadError(Exception):
    """The body is not something we accept; `errors` name each bad field."""

    def __init__(self, errors):
        super().__init__("; ".join(errors))
        self.errors = list(errors)


@dataclass
class Message:
    """One thing a source said about one alert: trigger, acknowledge or resolve it, or a
    note that changes nothing (CloudWatch's INSUFFICIENT_DATA)."""

    action: str
    key: str
    group_key: str = ""
    summary: str = ""
    source: str = ""
    source_severity: str = ""
    labels: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    link: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    key_generated: bool = False


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")


# What JSON text must hold for a string parsed from it to hold NUL or a lone
# surrogate: the character itself, or its \u escape (hex in either case).
_MAY_BE_BAD = re.compile(r"[\x00\ud800-\udfff]|\\u(?:0000|[dD][89a-fA-F])")


def load_json(text):
    """Parse JSON strictly (no NaN/Infinity). NUL and lone surrogates (`\\ud800`), which
    no database text column takes, are replaced by U+FFFD in every string: the sender
    cannot be asked to fix one label, and refusing the body would drop every alert in
    it. (Text that cannot hold one is not walked string by string: one search of the
    text costs a tenth of the walk.)"""
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
        return scrub(data) if _MAY_BE_BAD.search(text) else data
    except RecursionError:
        raise PayloadError(["body is nested too deeply"]) from None
    except ValueError as exc:
        raise PayloadError([f"body is not valid JSON: {exc}"]) from None


def parse_time(value):
    """An ISO 8601 timestamp as an aware datetime (naive means UTC), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if not MIN_YEAR <= when.year <= MAX_YEAR:
        # Year 1 or 9999 overflow when shown in a time zone; nothing real is that far off.
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _text(value):
    return value.strip() if isinstance(value, str) else ""


def _is_link(value):
    return isinstance(value, str) and len(value) <= 2000 \
        and value.startswith(("http://", "https://"))


def _is_str_map(value):
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


# --- PagerDuty Events API v2 --------------------------------------------------------

def routing_key_of(data):
    """The integration token an Events API body names, or PayloadError."""
    if not isinstance(data, dict):
        raise PayloadError(["the event must be a JSON object"])
    key = data.get("routing_key")
    if not isinstance(key, str) or not key.strip():
        raise PayloadError(["'routing_key' is missing or blank"])
    return key.strip()


def parse_event(data, missing_key=None):
    """An Events API v2 body -> one Message. A trigger without dedup_key gets
    `missing_key` (the caller derives it from the stored body, so parsing that body
    again gives the same key), else a random one."""
    errors = []
    action = data.get("event_action")
    if action not in EVENT_ACTIONS:
        errors.append("'event_action' is missing or invalid (expected trigger, "
                      "acknowledge or resolve)")
    dedup_key = data.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        errors.append("'dedup_key' must be a string")
        dedup_key = None
    dedup_key = (dedup_key or "").strip()
    if len(dedup_key) > MAX_KEY_LENGTH:
        errors.append(f"'dedup_key' is longer than {MAX_KEY_LENGTH} characters")
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is missing or blank")
    message = Message(action=action or "", key=dedup_key)
    if action == "trigger":
        errors += _event_payload(data.get("payload"), message)
    if errors:
        raise PayloadError(errors)
    if not message.key:
        message.key, message.key_generated = missing_key or uuid.uuid4().hex, True
    message.group_key = message.key
    return [message]


def _event_payload(payload, message):
    """Fill `message` from a trigger's payload; return the errors found."""
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    errors = []
    summary, source = payload.get("summary"), payload.get("source")
    if not _text(summary):
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > MAX_SUMMARY_LENGTH:
        errors.append(f"'payload.summary' is longer than {MAX_SUMMARY_LENGTH} characters")
    if not _text(source):
        errors.append("'payload.source' is missing or blank")
    elif len(source) > 255:
        errors.append("'payload.source' is longer than 255 characters")
    severity = payload.get("severity")
    if severity not in EVENT_SEVERITIES:
        errors.append("'payload.severity' is missing or invalid (expected critical, error, "
                      "warning or info)")
    timestamp = payload.get("timestamp")
    started = None
    if timestamp is not None:
        started = parse_time(timestamp)
        if started is None:
            errors.append("'payload.timestamp' is not an ISO 8601 timestamp (1970-9000)")
    labels = {}
    for name in ("component", "group", "class"):
        value = payload.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            errors.append(f"'payload.{name}' must be a string")
        elif value.strip():
            labels[name] = value.strip()
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict):
        details = {"details": details}
    if errors:
        return errors
    message.summary = summary.strip()
    message.source = source.strip()
    message.source_severity = severity
    message.labels = labels
    message.details = details or {}
    message.started_at = started
    return []


# --- Prometheus Alertmanager webhook ------------------------------------------------

def fingerprint_of(labels):
    """Alertmanager always sends a fingerprint; older senders may not: hash the labels."""
    canonical = json.dumps(labels, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def parse_alertmanager(data):
    """An Alertmanager webhook body (version "4") -> one Message per alert."""
    if not isinstance(data, dict):
        raise PayloadError(["the payload must be a JSON object"])
    errors = []
    if data.get("version") != ALERTMANAGER_VERSION:
        errors.append(f"'version' must be \"{ALERTMANAGER_VERSION}\"")
    group_key = data.get("groupKey")
    if not _text(group_key):
        errors.append("'groupKey' is missing or blank")
    if data.get("status") not in ALERTMANAGER_STATUSES:
        errors.append("'status' must be firing or resolved")
    for name in ("groupLabels", "commonLabels", "commonAnnotations"):
        if data.get(name) is not None and not _is_str_map(data.get(name)):
            errors.append(f"'{name}' must be an object of strings")
    for name in ("receiver", "externalURL"):
        if data.get(name) is not None and not isinstance(data.get(name), str):
            errors.append(f"'{name}' must be a string")
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        errors.append("'alerts' is missing or not a list")
        alerts = []
    messages = []
    for index, alert in enumerate(alerts):
        message = _alertmanager_alert(alert, f"alerts[{index}]", errors)
        if message is not None:
            message.group_key = group_key.strip() if isinstance(group_key, str) else ""
            message.source = message.source or _text(data.get("externalURL"))[:255]
            messages.append(message)
    if errors:
        raise PayloadError(errors)
    return messages


def _alertmanager_alert(alert, where, errors):
    if not isinstance(alert, dict):
        errors.append(f"'{where}' must be an object")
        return None
    before = len(errors)
    status = alert.get("status")
    if status not in ALERTMANAGER_STATUSES:
        errors.append(f"'{where}.status' must be firing or resolved")
    labels = alert.get("labels")
    if not _is_str_map(labels):
        errors.append(f"'{where}.labels' is missing or not an object of strings")
        labels = {}
    annotations = alert.get("annotations", {})
    if not _is_str_map(annotations):
        errors.append(f"'{where}.annotations' must be an object of strings")
        annotations = {}
    started = parse_time(alert.get("startsAt"))
    if started is None:
        errors.append(f"'{where}.startsAt' is missing or not an ISO 8601 timestamp "
                      "(1970-9000)")
    ends_at = alert.get("endsAt")
    ended = None
    if ends_at not in (None, "", ZERO_TIME) and not str(ends_at).startswith("0001-"):
        ended = parse_time(ends_at)
        if ended is None:
            errors.append(f"'{where}.endsAt' is not an ISO 8601 timestamp (1970-9000)")
    fingerprint = alert.get("fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, str):
        errors.append(f"'{where}.fingerprint' must be a string")
    elif isinstance(fingerprint, str) and len(fingerprint) > MAX_KEY_LENGTH:
        errors.append(f"'{where}.fingerprint' is longer than {MAX_KEY_LENGTH} characters")
    link = alert.get("generatorURL")
    if link is not None and not isinstance(link, str):
        errors.append(f"'{where}.generatorURL' must be a string")
    if len(errors) > before:
        return None
    summary = (annotations.get("summary") or annotations.get("description")
               or labels.get("alertname") or "Alertmanager alert").strip()
    return Message(
        action="trigger" if status == "firing" else "resolve",
        key=(fingerprint or "").strip() or fingerprint_of(labels),
        summary=summary[:MAX_SUMMARY_LENGTH],
        source=(labels.get("instance") or labels.get("job") or "")[:255],
        source_severity=labels.get("severity", "")[:50],
        labels=labels, details=annotations,
        link=link if _is_link(link) else "",
        started_at=started, ended_at=ended,
    )
