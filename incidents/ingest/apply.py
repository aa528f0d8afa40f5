"""Applying one message (trigger, acknowledge, resolve) to an integration's alerts,
under its lock, within a batch: rules 3-5 of receive.py's docstring.

`Batch` holds what a batch reads once instead of once per alert; `apply_message` is
the one entry point (receive.py calls it per message, in a savepoint per body).
"""

import hashlib

from django.db.models import F, Q
from django.utils import timezone

from mindweave_ir.live import versions as live

from .. import matchers, services
from ..models import (
    OPEN_ALERT_STATUSES,
    Alert,
    AlertStatus,
    DetectionSource,
    IntegrationKind,
    Severity,
    Silence,
    Status,
)
from .store import add_counts, batches_writes, insert_many, insert_new, take_ids

DETECTION_SOURCES = {
    IntegrationKind.ALERTMANAGER: DetectionSource.MONITORING,
    IntegrationKind.EVENTS: DetectionSource.PAGERDUTY,
    IntegrationKind.CLOUDWATCH: DetectionSource.CLOUDWATCH,
}
JOIN_NOTES = 20  # alerts joining an incident are noted one by one up to this many


class Batch:
    """What applying one batch reads once instead of once per alert: the open alerts
    of its keys, the active silences, each group's open incident and how many alerts
    joined it. Kept up to date as the batch writes (only ingestion writes an
    integration's alerts, and only under its lock); forgotten after a failed body,
    whose savepoint undid writes these had seen. The incidents whose alert lists
    changed are announced to their watchers once, when the batch is done.

    On PostgreSQL a batch's new alerts are inserted together and its repeats of an
    alert added up, in one statement each, by flush() (receive.py calls it at the end
    of the batch's savepoint, or of each body's): a new alert gets its id from the
    sequence at once (ids taken ahead, one round trip), so its answer can name it.
    Before anything else reads or writes an alert row the batch holds back, or reads
    alerts by group or incident, the held-back writes are flushed first (written()),
    so every statement sees what the messages before it did, in their order."""

    def __init__(self, integration, keys):
        self.integration, self.keys = integration, list(dict.fromkeys(keys))
        self.changed = set()
        self.ids = []  # taken ahead from the sequence, used from the end
        self.batched = batches_writes()
        self.forget()

    def announce(self):
        """Tell the watchers of the incidents whose alerts changed (once the batch's
        transaction commits). One rolled back since changes nothing but a re-render."""
        if self.changed:
            live.bump(*(live.incident_key(pk) for pk in sorted(self.changed)))

    def forget(self):
        self.open, self.groups, self.joined, self.silences = None, {}, {}, None
        self.unsaved, self.folds = {}, {}  # undone with the savepoint: never written

    def add(self, alert):
        """Save a new alert (or a known one routed anew): inserted at flush() when the
        batch writes together, else at once. It has its id on return either way."""
        if alert.pk is not None:  # a known alert routed anew: its row updated now
            if alert.pk not in self.unsaved:  # (a held-back one's INSERT carries it)
                self.written(alert)
                insert_new(alert)
            return
        if not self.batched:
            insert_new(alert)
            return
        if not self.ids:
            # Enough for every key of the batch still without an open alert (this
            # one among them); a key resolved and triggered again takes more later.
            needed = sum(1 for open_alert in self.open.values() if open_alert is None)
            self.ids = take_ids(Alert, max(1, needed))[::-1]
        alert.pk = self.ids.pop()
        self.unsaved[alert.pk] = alert

    def fold(self, alert, now):
        """One more message for an open alert: counted in memory, written at flush()
        (or at once when the batch does not write together)."""
        alert.count, alert.last_received_at = alert.count + 1, now
        if alert.pk in self.unsaved:
            return  # its INSERT carries the count
        if not self.batched:
            Alert.objects.filter(pk=alert.pk).update(count=F("count") + 1,
                                                     last_received_at=now)
            return
        added, _ = self.folds.get(alert.pk, (0, None))
        self.folds[alert.pk] = (added + 1, now)

    def written(self, alert=None):
        """Before a statement reads or writes `alert`'s row (or, without one, reads
        alerts by anything else): write what is held back."""
        if alert is None or alert.pk in self.unsaved or alert.pk in self.folds:
            self.flush()

    def flush(self):
        """Write the held-back new alerts and repeats: one statement each."""
        if self.unsaved:
            insert_many(list(self.unsaved.values()))
            self.unsaved = {}
        if self.folds:
            add_counts(Alert, self.folds)
            self.folds = {}

    def open_alert(self, key):
        if self.open is None:
            self.open = dict.fromkeys(self.keys)
            for first in range(0, len(self.keys), 500):
                for alert in self._open_alerts(key__in=self.keys[first:first + 500]):
                    self.open[alert.key] = alert
        if key not in self.open:
            self.written()
            self.open[key] = self._open_alerts(key=key).first()
        return self.open[key]

    def _open_alerts(self, **keys):
        return (Alert.objects.select_related(None).select_related("incident")
                .filter(integration=self.integration, status__in=OPEN_ALERT_STATUSES, **keys))

    def silence_for(self, labels, now):
        """The active silence (oldest first, so the answer is stable) muting these labels."""
        if self.silences is None:
            self.silences = list(
                Silence.objects.filter(ends_at__gt=now)
                .filter(Q(integration=None) | Q(integration=self.integration))
                .order_by("starts_at", "id"))
        active = [silence for silence in self.silences if silence.is_active(now)]
        return matchers.first_matching(active, labels, self.integration.pk)

    def group_incident(self, group_hash):
        """The open incident an earlier alert of this group went to, if any."""
        if group_hash not in self.groups:
            self.written()
            alert = (Alert.objects.filter(integration=self.integration,
                                          group_hash=group_hash, incident__isnull=False)
                     .exclude(incident__status=Status.RESOLVED)
                     .select_related("incident").order_by("-created_at", "-id").first())
            self.groups[group_hash] = alert.incident if alert else None
        return self.groups[group_hash]

    def joined_count(self, incident):
        """Alerts in `incident`, counting the one just saved into it; counted up to
        JOIN_NOTES + 2 only (all _note_join needs to know), so a storm's thousands are
        not counted again by each batch."""
        joined = self.joined.get(incident.pk)
        if joined is None:
            self.written()
        joined = Alert.objects.filter(incident=incident).order_by()[:JOIN_NOTES + 2].count() \
            if joined is None else joined + 1
        self.joined[incident.pk] = joined
        return joined



def _group_hash(group_key):
    return hashlib.sha256(group_key.encode()).hexdigest()


def apply_message(context, message):
    """Apply one message; returns its result dict (key, alert id, outcome, action)."""
    now = timezone.now()
    handler = {"trigger": _trigger, "acknowledge": _acknowledge, "resolve": _resolve,
               "note": _note}
    alert, outcome = handler[message.action](context, message, now)
    return {"key": message.key, "alert": alert.pk if alert else None, "outcome": outcome,
            "action": message.action}


def _silenced_routing(why, silence):
    return f"{why}: silenced by silence #{silence.pk} ({silence.comment}); " \
           "no incident, no page."


def _fold(context, alert, now):
    context.fold(alert, now)
    _changed(context, alert)


def _changed(context, alert):
    """The alert's incident page lists it: its watchers are told when the batch ends."""
    if alert.incident_id:
        context.changed.add(alert.incident_id)


def _trigger(context, message, now):
    integration = context.integration
    alert = context.open_alert(message.key)
    if alert is not None and alert.silence_id and alert.incident_id is None:
        return _refire_silenced(context, alert, message, now)
    if alert is not None:
        _fold(context, alert, now)
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
    silence = context.silence_for(message.labels, now)
    if silence is not None:
        alert.silence, alert.routing = silence, _silenced_routing(why, silence)
        context.add(alert)
        context.open[message.key] = alert
        return alert, f"new alert #{alert.pk} silenced by silence #{silence.pk}"
    alert, outcome = _route(context, alert, message, why)
    context.open[message.key] = alert
    return alert, outcome


def _refire_silenced(context, alert, message, now):
    """A repeat of an alert a silence kept quiet: fold it while a silence still covers
    it, else route it now (the silence expired; nothing was re-fired when it did)."""
    integration = context.integration
    _fold(context, alert, now)  # _route saves the row with the count folded here
    why = f"Integration {integration.name} ({integration.get_kind_display()}), key {alert.key}"
    silence = context.silence_for(alert.labels, now)
    if silence is not None:
        if silence.pk != alert.silence_id:
            alert.silence, alert.routing = silence, _silenced_routing(why, silence)
            context.written(alert)
            Alert.objects.filter(pk=alert.pk).update(silence=silence, routing=alert.routing)
        return alert, f"folded into existing alert #{alert.pk}; still silenced by " \
                      f"silence #{silence.pk}"
    alert, outcome = _route(context, alert, message,
                            f"{why} (silence #{alert.silence_id} no longer active)")
    return alert, f"silence over; {outcome}"


def _route(context, alert, message, why):
    """Send a new (or no longer silenced) alert to its group's open incident, or open
    one that pages on-call; `why` starts its routing text."""
    integration, severity = context.integration, alert.severity
    incident = context.group_incident(alert.group_hash)
    if incident is not None:
        alert.incident = incident
        alert.routing = f"{why}: joined {incident.ref}, the open incident of its group; " \
                        "no page (the incident's own paging covers it)."
        context.add(alert)
        _changed(context, alert)
        _note_join(context, incident, message)
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
    context.add(alert)
    context.groups[alert.group_hash] = incident
    context.joined[incident.pk] = 1
    return alert, f"new alert #{alert.pk} opened {incident.ref}; {paged}"


def _note_join(context, incident, message):
    """Note a joining alert on the timeline; past JOIN_NOTES, a storm is noted once (the
    incident's Alerts section lists every one)."""
    joined = context.joined_count(incident)
    if joined <= JOIN_NOTES:
        services.note_alert(incident, body=f"Alert joined: **{message.summary}** "
                                           f"({context.integration.name}, key "
                                           f"`{message.key}`).")
    elif joined == JOIN_NOTES + 1:
        services.note_alert(incident, body=f"More than {JOIN_NOTES} alerts have joined; "
                                           "the rest are listed under Alerts only.")


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


def _acknowledge(context, message, now):
    alert = context.open_alert(message.key)
    if alert is None:
        return None, "no open alert with this key; nothing changed"
    if alert.status == AlertStatus.ACKNOWLEDGED:
        return alert, f"alert #{alert.pk} was already acknowledged"
    context.written(alert)
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.ACKNOWLEDGED,
                                             acknowledged_at=now, last_received_at=now)
    alert.status, alert.acknowledged_at, alert.last_received_at = \
        AlertStatus.ACKNOWLEDGED, now, now
    if alert.incident_id:
        services.note_alert(alert.incident, body=f"Alert acknowledged at its source: "
                                                 f"**{alert.summary}** (key `{alert.key}`).")
    return alert, f"acknowledged alert #{alert.pk}"


def _resolve(context, message, now):
    alert = context.open_alert(message.key)
    if alert is None:
        return None, "no open alert with this key; nothing changed"
    context.written(alert)
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.RESOLVED,
                                             resolved_at=min(message.ended_at or now, now),
                                             last_received_at=now)
    context.open[message.key] = None
    if alert.incident_id:
        services.note_alert(alert.incident, body=f"Alert resolved at its source: "
                                                 f"**{alert.summary}** (key `{alert.key}`). "
                                                 "The incident stays open until its "
                                                 "commander resolves it.")
    return alert, f"resolved alert #{alert.pk}"


def _note(context, message, now):
    """Something the source said about an alert that changes nothing and pages nobody
    (a CloudWatch alarm's INSUFFICIENT_DATA): noted on the open alert's incident."""
    alert = context.open_alert(message.key)
    if alert is None:
        return None, "no open alert with this key; noted nowhere, nothing paged"
    context.written(alert)
    Alert.objects.filter(pk=alert.pk).update(last_received_at=now)
    alert.last_received_at = now
    if not alert.incident_id:
        return alert, f"alert #{alert.pk} has no incident; nothing noted, nothing paged"
    reason = message.details.get("NewStateReason") or ""
    services.note_alert(alert.incident, body=f"Alert data insufficient at its source: "
                                             f"**{alert.summary}** (key `{alert.key}`)"
                                             + (f": {reason[:500]}" if reason else ".")
                                             + " Not paged; the alert stays open.")
    _changed(context, alert)
    return alert, f"noted on {alert.incident.ref}; alert #{alert.pk} stays open, no page"
