"""Incidents from declaration to resolution (§6.1): declare, open for an alert, move
the status, change the severity, assign roles, join, resolve; SLA breach notes.

Each verb runs in one transaction, checks permission and state first (a refusal
raises and changes nothing), and writes its own timeline entry. Views, the admin,
the API, tasks and commands call these; none repeats the logic.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify

from mindweave_ir.inputs import SOON, OutOfRange, ahead, check_time
from oncall import paging
from oncall.models import OPEN_PAGE_STATUSES, EscalationPolicy, Page, PageEventKind

from .. import checklists, permissions
from ..models import (
    ChecklistItem,
    ChecklistPhase,
    DetectionSource,
    Exercise,
    Incident,
    IncidentSequence,
    Severity,
    Status,
    TimelineKind,
)
from .checklists import reopen_closure, tick_observed
from .common import IncidentError, lock, name, refuse_bad_text, require, write_entry

ROLE_FIELDS = {
    "commander": "Incident Commander",
    "technical_lead": "Technical Lead",
    "communications_lead": "Communications Lead",
}


def _next_ref(year):
    """INC-YYYY-NNNN from a per-year counter; the UPDATE's row lock serialises declares."""
    IncidentSequence.objects.get_or_create(year=year)
    IncidentSequence.objects.filter(year=year).update(last=F("last") + 1)
    number = IncidentSequence.objects.values_list("last", flat=True).get(year=year)
    return f"INC-{year}-{number:04d}"


def channel_name_for(title, when):
    """`#inc-YYYYMMDD-brief-description` (§3.2 step 5), within Slack's 80 characters."""
    prefix = f"#inc-{when:%Y%m%d}-"
    brief = slugify(title)[: 79 - len(prefix)].strip("-") or "incident"
    return prefix + brief


def _free_channel_name(channel):
    """The name itself if unused, else the name with the first free `-N` suffix."""
    taken = set(Incident.objects.filter(channel_name__startswith=channel)
                .values_list("channel_name", flat=True))
    candidate, n = channel, 1
    while candidate in taken:
        n += 1
        candidate = f"{channel[:79 - len(str(n)) - 1]}-{n}"
    return candidate


@transaction.atomic
def declare_incident(
    *, title, severity, by, description="", classification=None, classified_severity=None,
    override_reason="", services=(), customer_impact="", detection_source=DetectionSource.OTHER,
    started_at=None, detected_at=None, commander=None, page_oncall=True, exercise=Exercise.REAL,
):
    """Open an incident (§6.1 declareIncident).

    1. Check the declarer may declare and an override of the tree's severity has a reason.
    2. Number it INC-YYYY-NNNN, name its channel.
    3. Copy the §3.2/§3.4 checklists onto it and write the "declared" timeline entry.
    4. Page on-call per severity (`page_oncall=False` only for back-filled history).
    The declarer commands it unless someone else is named. A test or game day
    (`exercise`) runs the same way; only the metrics leave it out.
    """
    require(permissions.can_declare(by), "Only Responders, Incident Commanders and Managers "
                                         "may declare incidents.")
    severity = Severity(severity)
    title = (title or "").strip()
    if not title or len(title) > Incident._meta.get_field("title").max_length:
        raise IncidentError("A title of 1 to 200 characters is needed.")
    overridden = classified_severity is not None and severity != classified_severity
    override_reason = (override_reason or "").strip() if overridden else ""
    if overridden and not override_reason:
        raise IncidentError(
            f"The decision tree gave {Severity(classified_severity).label}; say why "
            f"{severity.label} is right instead."
        )
    refuse_bad_text(title, description, customer_impact, override_reason)
    now = timezone.now()
    started_at = started_at or now
    detected_at = detected_at or now
    if started_at > now or detected_at > now:
        raise IncidentError("Start and detection times cannot be in the future.")
    try:
        check_time(started_at, latest=ahead(SOON))
        check_time(detected_at, latest=ahead(SOON))
    except OutOfRange as exc:
        raise IncidentError(str(exc)) from None
    if detected_at < started_at:
        raise IncidentError("The incident cannot be detected before it started.")
    incident = _create_incident(
        now, services, title=title, description=description, severity=severity,
        classification=dict(classification or {}), classified_severity=classified_severity,
        severity_override_reason=override_reason, customer_impact=customer_impact,
        detection_source=detection_source, declared_by=by, started_at=started_at,
        detected_at=detected_at, commander=commander or by,
        exercise=Exercise(exercise or Exercise.REAL),
    )
    body = f"Incident declared as **{severity.label}** by {name(by)}; " \
           f"commander {name(incident.commander)}; channel `{incident.channel_name}`."
    if override_reason:
        body += f"\n\nSeverity set over the decision tree's " \
                f"{Severity(classified_severity).label}: {override_reason}"
    write_entry(incident, TimelineKind.DECLARED, body, by=by)
    if classified_severity is not None:
        tick_observed(incident, checklists.CLASSIFY_SEVERITY,
                      because=f"the decision tree classified it as "
                              f"{Severity(classified_severity).label} when it was declared")
    if page_oncall:
        _page_on_call(incident, by=by)
    return incident


def _create_incident(now, services, **fields):
    """Steps 2-3 of declaring: number it, name its channel, copy the checklists."""
    incident = Incident.objects.create(
        ref=_next_ref(now.year), declared_at=now,
        channel_name=_free_channel_name(channel_name_for(fields["title"], now)), **fields)
    incident.services.set(services)
    ChecklistItem.objects.bulk_create(
        ChecklistItem(incident=incident, phase=phase, position=position, text=text)
        for phase, position, text in checklists.all_items()
    )
    tick_observed(incident, checklists.CREATE_CHANNEL, now=now,
                  because=f"the channel {incident.channel_name} was created with the incident")
    return incident


def _policy_for(incident):
    """The first mapped policy among the incident's services, else the default one."""
    policy_ids = [s.escalation_policy_id for s in incident.services.all()
                  if s.escalation_policy_id]
    if policy_ids:
        return EscalationPolicy.objects.get(pk=policy_ids[0])
    return EscalationPolicy.objects.filter(is_default=True).first()


def _page_on_call(incident, *, by, policy=None):
    """Page per §1.1: SEV-1/2 escalate (SEV-1 also the major-incident schedule), SEV-3
    notifies the first level without escalation, SEV-4 pages nobody. `policy`, when
    given (an alert integration's), wins over the services' and the default one."""
    severity = Severity(incident.severity)
    if severity == Severity.SEV4:
        return None
    policy = policy or _policy_for(incident)
    if policy is None:
        write_entry(incident, TimelineKind.PAGE, "**Nobody was paged**: no escalation policy maps "
                    "to these services and there is no default policy.", by=None)
        return None
    return paging.trigger_page(
        title=f"{incident.ref} {incident.title}", severity=severity.label,
        link=f"{settings.SITE_URL}{incident.get_absolute_url()}",
        dedup_key=f"incident/{incident.ref}/{severity.label}", policy=policy,
        source=_page_source(incident), escalate=severity <= Severity.SEV2,
        extra_schedule=policy.major_incident_schedule if severity == Severity.SEV1 else None,
        is_test=incident.is_exercise,
    )


@transaction.atomic
def open_incident_for_alert(*, title, severity, description, detection_source, services=(),
                            started_at=None, policy=None):
    """Open an incident for an inbound alert: declare_incident's steps 2-4 with no
    declarer (so no permission check and no commander yet), paging through `policy`
    (the integration's) when given. Returns (incident, page or None)."""
    now = timezone.now()
    started_at = min(started_at or now, now)
    title = (title or "").strip() or "Alert"
    limit = Incident._meta.get_field("title").max_length
    if len(title) > limit:
        title = title[: limit - 1] + "…"
    severity = Severity(severity)
    incident = _create_incident(
        now, services, title=title, description=description, severity=severity,
        detection_source=detection_source, declared_by=None, started_at=started_at,
        detected_at=now)
    write_entry(incident, TimelineKind.DECLARED, f"Incident opened as **{severity.label}** by an "
                f"alert; no commander yet; channel `{incident.channel_name}`.\n\n{description}",
                by=None)
    return incident, _page_on_call(incident, by=None, policy=policy)


def _page_source(incident):
    return f"incident:{incident.pk}"


def _acknowledged(incident, *, by, now, how="acknowledged the incident"):
    """The incident was just acknowledged (its `acknowledged_at` saved as `now`): one
    truth (DESIGN.md), so its still-escalating pages are acknowledged at that same
    moment, and the triage item is ticked."""
    paging.acknowledge_pages(_page_source(incident), by=by, now=now,
                             via=f"incident {incident.ref} acknowledged")
    tick_observed(incident, checklists.ACKNOWLEDGE_ALERT, now=now,
                  because=f"{name(by)} {how}")


def on_page_event(kind, page, text, *, by=None):
    """oncall's report about a page this app raised: onto the incident's timeline.

    Acknowledging a page (`by` a person) acknowledges the incident if it was not yet
    (the first of either is the acknowledged time, MTTA) and joins them to the response
    so they can write on its timeline. Pages acknowledged because the incident was
    come with no `by`.
    """
    if not page.source.startswith("incident:") or kind == PageEventKind.DELIVERED:
        return
    incident = Incident.objects.filter(pk=page.source.partition(":")[2]).first()
    if incident is None:
        return
    write_entry(incident, TimelineKind.PAGE, f"Page ({page.severity}): {text}", by=by)
    if kind != PageEventKind.ACKNOWLEDGED or by is None:
        return
    first = Incident.objects.filter(pk=incident.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=page.acknowledged_at, updated_at=timezone.now())
    if first:
        _acknowledged(incident, by=by, now=page.acknowledged_at, how="acknowledged its page")
    if permissions.can_join(by, incident) and not permissions.works_on(by, incident):
        incident.responders.add(by)
        write_entry(incident, TimelineKind.ROLE,
                    f"{name(by)} joined the response (acknowledged the page).", by=by)


@transaction.atomic
def change_status(incident, *, to, by, note=""):
    """Move the incident along its lifecycle; resolving goes through resolve_incident."""
    incident = lock(incident)
    require(permissions.can_command(by, incident),
            "Only the incident's commander, Incident Commanders and Managers change status.")
    to = Status(to)
    if to == Status.RESOLVED:
        return resolve_incident(incident, resolution=note, by=by)
    if to not in incident.allowed_transitions():
        raise IncidentError(
            f"{incident.get_status_display()} cannot go to {to.label}; allowed: "
            + ", ".join(s.label for s in incident.allowed_transitions()) + "."
        )
    before = Status(incident.status)
    now = timezone.now()
    incident.status = to
    first_acknowledgement = incident.acknowledged_at is None
    if first_acknowledgement:
        incident.acknowledged_at = now
    if to in (Status.IDENTIFIED, Status.FIXING, Status.MONITORING) \
            and incident.identified_at is None:
        incident.identified_at = now
    if to == Status.MONITORING and incident.mitigated_at is None:
        incident.mitigated_at = now
    if before == Status.RESOLVED:
        # The old resolution stays in the timeline's "resolved" entry.
        incident.resolved_at = None
        incident.resolution = ""
    incident.save()
    verb = "reopened" if before == Status.RESOLVED else "moved"
    body = f"Status {verb}: {before.label} → **{to.label}** by {name(by)}."
    if before == Status.RESOLVED and reopen_closure(incident):
        body += " The closure items the system had ticked are open again."
    if note.strip():
        body += f"\n\n{note.strip()}"
    write_entry(incident, TimelineKind.STATUS, body, by=by)
    if first_acknowledgement:
        _acknowledged(incident, by=by, now=now)
    return incident


_resolved_listeners = []


def subscribe_resolved(listener):
    """Call `listener(incident)` inside every resolution's transaction.

    Apps above this one (reports: the post-incident review) hook in here, since
    incidents imports nothing from them.
    """
    if listener not in _resolved_listeners:
        _resolved_listeners.append(listener)


@transaction.atomic
def resolve_incident(incident, *, resolution, by, fulfilled=()):
    """Resolve (§6.1 resolveIncident): needs a resolution and every closure item settled.

    `fulfilled`: closure items (texts) the caller's same step fulfils (resolve_with_updates
    sending the resolved status-page update ...): they do not hold the resolve back.
    """
    incident = lock(incident)
    require(permissions.can_command(by, incident),
            "Only the incident's commander, Incident Commanders and Managers resolve.")
    if Status.RESOLVED not in incident.allowed_transitions():
        raise IncidentError(f"A {incident.get_status_display()} incident cannot be resolved.")
    resolution = (resolution or "").strip()
    refuse_bad_text(resolution)
    if not resolution:
        raise IncidentError("Say how the incident was resolved.")
    open_items = list(
        incident.checklist.filter(phase=ChecklistPhase.CLOSURE, done_at__isnull=True,
                                  waived_reason="").exclude(text__in=list(fulfilled))
        .values_list("text", flat=True)
    )
    if open_items:
        raise IncidentError(
            "Tick or waive (with a reason) every closure item first: " + "; ".join(open_items)
        )
    now = timezone.now()
    before = Status(incident.status)
    incident.status = Status.RESOLVED
    incident.resolution = resolution
    incident.resolved_at = now
    first_acknowledgement = incident.acknowledged_at is None
    incident.acknowledged_at = incident.acknowledged_at or now
    incident.mitigated_at = incident.mitigated_at or now
    incident.save()
    write_entry(incident, TimelineKind.RESOLVED,
                f"Resolved by {name(by)} (was {before.label}).\n\n{resolution}", by=by)
    if first_acknowledgement:
        _acknowledged(incident, by=by, now=now)
    for listener in _resolved_listeners:
        listener(incident)
    for page in Page.objects.filter(source=_page_source(incident),
                                    status__in=OPEN_PAGE_STATUSES):
        paging.resolve_page(page, by=by, reason=f"Incident {incident.ref} resolved.")
    return incident


@transaction.atomic
def change_severity(incident, *, to, by, reason="", page_oncall=True):
    """Escalate or de-escalate; the timeline says which (§6.1 updateSeverity)."""
    incident = lock(incident)
    require(permissions.can_command(by, incident),
            "Only the incident's commander, Incident Commanders and Managers change severity.")
    to = Severity(to)
    before = Severity(incident.severity)
    if to == before:
        raise IncidentError(f"The incident is already {to.label}.")
    if not incident.is_open:
        raise IncidentError("A resolved incident's severity cannot change; reopen it first.")
    reason = (reason or "").strip()
    escalated = to < before
    if not escalated and not reason:
        raise IncidentError("Say why the severity is being lowered.")
    incident.severity = to
    incident.save(update_fields=["severity", "updated_at"])
    word = "escalated" if escalated else "de-escalated"
    body = f"Severity {word}: {before.label} → **{to.label}** by {name(by)}."
    if reason:
        body += f"\n\n{reason}"
    write_entry(incident, TimelineKind.SEVERITY, body, by=by)
    if escalated and page_oncall:
        _page_on_call(incident, by=by)  # §6.1 updateSeverity: re-page when escalated
    return incident


@transaction.atomic
def assign_role(incident, *, role, user, by):
    """Give one of the three §3.3 roles to `user` (None clears TL or CL)."""
    incident = lock(incident)
    require(permissions.can_command(by, incident),
            "Only the incident's commander, Incident Commanders and Managers assign roles.")
    if role not in ROLE_FIELDS:
        raise IncidentError(f"Unknown role {role!r}.")
    if role == "commander" and user is None:
        raise IncidentError("An incident always has an Incident Commander; name the next one.")
    if user is not None and not permissions.can_hold_role(user):
        raise IncidentError(f"{name(user)} is a Viewer and cannot hold an incident role.")
    field = f"{role}_id"
    if getattr(incident, field) == (user.pk if user else None):
        raise IncidentError(f"{name(user)} is already {ROLE_FIELDS[role]}.")
    setattr(incident, role, user)
    incident.save(update_fields=[role, "updated_at"])
    if user is None:
        body = f"{ROLE_FIELDS[role]} unassigned by {name(by)}."
    else:
        body = f"**{name(user)}** is now {ROLE_FIELDS[role]} (assigned by {name(by)})."
    write_entry(incident, TimelineKind.ROLE, body, by=by)
    holders = [incident.commander, incident.technical_lead, incident.communications_lead]
    if all(holders):
        tick_observed(incident, checklists.ASSIGN_ROLES,
                      because="all three roles are assigned: " + ", ".join(
                          f"{name(user)} ({label})"
                          for user, label in zip(holders, ROLE_FIELDS.values(), strict=True)))
    return incident


@transaction.atomic
def join_incident(incident, *, by):
    """A responder joins the response, which lets them edit timeline and checklists."""
    incident = lock(incident)
    require(permissions.can_join(by, incident), "Viewers cannot join incidents.")
    if permissions.works_on(by, incident):
        raise IncidentError("You are already working on this incident.")
    incident.responders.add(by)
    write_entry(incident, TimelineKind.ROLE, f"{name(by)} joined the response.", by=by)
    return incident


def note_sla_breaches(*, now=None):
    """Write one timeline entry per breached SLA target of each open incident.

    A response target is breached when acknowledgement came late or not at all; a
    resolution target when the incident is still open past it. Each note is claimed
    with a conditional UPDATE, so two beat ticks (or two workers) never note the
    same breach twice. Returns how many were noted.
    """
    now = now or timezone.now()
    noted = 0
    candidates = Incident.objects.exclude(status=Status.RESOLVED).filter(
        Q(resolution_breach_noted_at__isnull=True) | Q(response_breach_noted_at__isnull=True)
    ).only("id", "severity", "detected_at", "acknowledged_at", "response_breach_noted_at",
           "resolution_breach_noted_at")
    for incident in candidates.iterator():
        targets = []
        if incident.response_breach_noted_at is None and incident.response_breached(now):
            targets.append(("Response", incident.response_due_at(), "response_breach_noted_at"))
        if incident.resolution_breach_noted_at is None and incident.resolution_breached(now):
            targets.append(("Resolution", incident.resolution_due_at(),
                            "resolution_breach_noted_at"))
        for label, due, field in targets:
            with transaction.atomic():
                claimed = Incident.objects.filter(pk=incident.pk, **{f"{field}__isnull": True}) \
                    .update(**{field: now})
                if claimed == 1:
                    sev = Severity(incident.severity).label
                    write_entry(incident, TimelineKind.SLA,
                                f"**{label} SLA breached**: {sev} target was "
                                f"{timezone.localtime(due):%Y-%m-%d %H:%M %Z}.",
                                by=None, occurred_at=due)
                    noted += 1
    return noted
