"""Every write to a post-incident review: workflow, sections, action items.

Each function runs in a transaction, checks permission and state first, bumps the
review's `version` (a stale `expected_version` is refused, never overwritten) and
records a PIRChange saying who changed what.
"""

import functools
import re
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from incidents import permissions as incident_permissions
from mindweave_ir.errors import Conflict, Refused
from mindweave_ir.inputs import PLANNING_HORIZON, OutOfRange, check_date
from mindweave_ir.live import versions as live
from mindweave_ir.templatetags.mw import display_name
from oncall.roles import Role, has_role

from ..models import (
    ActionItem,
    ContributingFactor,
    FactorCategory,
    PIRChange,
    PIRState,
    PostIncidentReview,
    PreventionMeasure,
    Why,
)
from ..pdf.store import schedule_render

BUSINESS_DAYS_TO_REVIEW = 5  # §7.1
PREVENTION_DEFAULTS = ("Add monitoring for [condition]", "Update runbook for [scenario]",
                       "Implement [safeguard]")

# Text still to be written: `[[… fill in]]` (customer templates) or a bracketed phrase
# like the handbook template's `[condition]`, `[safeguard]`, `[Immediate fix]`. Not a
# Markdown link or reference (`[text](url)`, `[text][ref]`, `[ref]: url`), a checkbox
# (`[ ]`, `[x]`) or an index (`items[0]`).
PLACEHOLDER = re.compile(r"\[\[[^\[\]\n]{1,200}\]\]"
                         r"|(?<![\w\]`])\[(?![ xX]\])[A-Za-z][^\[\]\n]{0,200}\](?![(\[:])")
# The sections a review must have written before approval, as the page titles them.
REQUIRED_TEXT = (("impact", "Incident summary: Impact"),
                 ("what_happened", "Root cause analysis: What happened?"),
                 ("why_it_happened", "Root cause analysis: Why did it happen?"),
                 ("went_well", "Lessons learned: What went well?"),
                 ("could_improve", "Lessons learned: What could be improved?"))


class PIRError(Refused):
    """A request the workflow refuses."""


class StaleEdit(PIRError, Conflict):
    """Someone saved the review since the caller read it."""

    def __init__(self, message, current):
        super().__init__(message)
        self.current = current


def add_business_days(moment, days):
    """`moment` plus `days` weekdays (Saturday and Sunday do not count)."""
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


_name = functools.partial(display_name, missing="the system")


def can_edit(user, pir):
    """The incident's people (and ICs, Managers) edit until a Manager approves."""
    if pir.is_approved:
        return False
    return has_role(user, Role.MANAGER, Role.INCIDENT_COMMANDER) or \
        incident_permissions.can_edit(user, pir.incident)


def can_approve(user):
    return has_role(user, Role.MANAGER)


def _audit(pir, by, what):
    PIRChange.objects.create(pir=pir, by=by, what=what)


def _locked_for_edit(pir, expected_version, by):
    """Lock the review, check `by` may edit it, then that nobody saved meanwhile."""
    current = _locked(pir)
    _require_edit(current, by)
    return _locked(current, expected_version)


def _locked(pir, expected_version=None):
    current = PostIncidentReview.objects.select_for_update().select_related("incident") \
        .get(pk=pir.pk)
    if expected_version is not None and current.version != expected_version:
        last = current.changes.select_related("by").first()
        who = f"{_name(last.by)} at {timezone.localtime(last.at):%H:%M %Z}" if last else "someone"
        raise StaleEdit(f"{who} changed this review while you were editing. Your text was "
                        "not saved; it is shown below so you can merge it.", current)
    return current


def _require_edit(pir, by):
    if pir.is_approved:
        raise PIRError("This review is approved and read-only; a Manager can reopen it.")
    if not can_edit(by, pir):
        raise PermissionDenied("Only the incident's responders, Incident Commanders and "
                               "Managers edit its review.")


def _bump(pir):
    """Every change of what the review shows passes here: a new version; its PDF
    rendered in the background once the change commits (reports/pdf/store.py); and,
    since its incident's page names the review's state, the incident's watchers told."""
    PostIncidentReview.objects.filter(pk=pir.pk).update(version=F("version") + 1,
                                                        updated_at=timezone.now())
    live.bump(live.incident_key(pir.incident_id))
    pir.refresh_from_db(fields=["version", "updated_at"])
    schedule_render(pir.pk)


@transaction.atomic
def create_pir_for(incident):
    """Open the review of a just-resolved incident (idempotent: reopening and
    resolving again keeps the existing review). Prefilled from the incident."""
    existing = PostIncidentReview.objects.filter(incident=incident).first()
    if existing is not None:
        return existing
    resolved = incident.resolved_at or timezone.now()
    downtime = int((resolved - incident.started_at).total_seconds() // 60)
    pir = PostIncidentReview.objects.create(
        incident=incident, due_at=add_business_days(resolved, BUSINESS_DAYS_TO_REVIEW),
        impact=incident.customer_impact, sla_downtime_minutes=max(downtime, 0),
        what_happened=incident.resolution,
    )
    Why.objects.bulk_create(Why(pir=pir, position=n) for n in range(1, 6))
    ContributingFactor.objects.bulk_create(
        ContributingFactor(pir=pir, category=c) for c in FactorCategory)
    PreventionMeasure.objects.bulk_create(
        PreventionMeasure(pir=pir, text=t, position=n) for n, t in enumerate(PREVENTION_DEFAULTS))
    _audit(pir, None, f"Review opened; due {timezone.localtime(pir.due_at):%Y-%m-%d}.")
    schedule_render(pir.pk)
    return pir


# Fields a section form may change, by section.
SECTIONS = {
    "summary": ("impact",),
    "root_cause": ("what_happened", "why_it_happened", "root_cause_category"),
    "impact": ("customers_affected", "revenue_impact", "sla_downtime_minutes"),
    "lessons": ("went_well", "could_improve"),
}


@transaction.atomic
def update_section(pir, *, section, data, expected_version, by):
    """Save one section's fields; refuse if someone saved since `expected_version`."""
    pir = _locked_for_edit(pir, expected_version, by)
    if section not in SECTIONS:
        raise PIRError(f"Unknown section {section!r}.")
    changed = []
    for field in SECTIONS[section]:
        if field in data and getattr(pir, field) != data[field]:
            setattr(pir, field, data[field])
            changed.append(pir._meta.get_field(field).verbose_name)
    if changed:
        pir.full_clean(exclude=["incident", "key_entries"])
        pir.save(update_fields=list(SECTIONS[section]))
        _bump(pir)
        _audit(pir, by, "Changed " + ", ".join(changed) + ".")
    return pir


def _rows(related, *fields):
    return list(related.order_by(*fields).values_list(*fields))


def _changed(pir, by, before, after, what):
    """Bump the version and audit only when the rows really changed."""
    if before != after:
        _bump(pir)
        _audit(pir, by, what)
    return pir


@transaction.atomic
def set_whys(pir, *, answers, expected_version, by):
    """The five whys, in order (a list of up to five strings)."""
    pir = _locked_for_edit(pir, expected_version, by)
    if len(answers) > 5:
        raise PIRError("There are five whys, no more.")
    before = _rows(pir.whys, "position", "answer")
    for position, answer in enumerate(answers, start=1):
        Why.objects.update_or_create(pir=pir, position=position,
                                     defaults={"answer": answer.strip()})
    return _changed(pir, by, before, _rows(pir.whys, "position", "answer"),
                    "Changed the 5 whys.")


@transaction.atomic
def set_factors(pir, *, factors, expected_version, by):
    """factors: {category: (contributed, note)} for the seven §3.5 categories."""
    pir = _locked_for_edit(pir, expected_version, by)
    before = _rows(pir.factors, "category", "contributed", "note")
    for category, (contributed, note) in factors.items():
        if category not in FactorCategory.values:
            raise PIRError(f"Unknown contributing factor {category!r}.")
        ContributingFactor.objects.update_or_create(
            pir=pir, category=category, defaults={"contributed": contributed, "note": note})
    return _changed(pir, by, before, _rows(pir.factors, "category", "contributed", "note"),
                    "Changed the contributing factors.")


@transaction.atomic
def set_key_entries(pir, *, entry_ids, expected_version, by):
    pir = _locked_for_edit(pir, expected_version, by)
    entries = pir.incident.timeline.filter(pk__in=entry_ids, deleted_at__isnull=True)
    before = _rows(pir.key_entries, "pk")
    pir.key_entries.set(entries)
    return _changed(pir, by, before, _rows(pir.key_entries, "pk"),
                    f"Chose {len(entries)} key timeline entries.")


@transaction.atomic
def set_prevention(pir, *, measures, expected_version, by):
    """measures: list of (text, done) in order; blank texts are dropped."""
    pir = _locked_for_edit(pir, expected_version, by)
    before = _rows(pir.prevention, "text", "done")
    pir.prevention.all().delete()
    PreventionMeasure.objects.bulk_create(
        PreventionMeasure(pir=pir, text=text.strip()[:300], done=done, position=n)
        for n, (text, done) in enumerate(measures) if text.strip())
    return _changed(pir, by, before, _rows(pir.prevention, "text", "done"),
                    "Changed the prevention measures.")


def _check_action(pir, *, owner, due_date):
    if owner is None or not owner.is_active:
        raise ValidationError({"owner": "Every action item needs an owner who is a user here."})
    if due_date is None:
        raise ValidationError({"due_date": "Every action item needs a due date."})
    try:
        check_date(due_date, latest=timezone.localdate() + PLANNING_HORIZON)
    except OutOfRange as exc:
        raise ValidationError({"due_date": str(exc)}) from None
    if due_date < timezone.localdate(pir.incident.started_at):
        raise ValidationError({"due_date": "The due date cannot be before the incident."})


@transaction.atomic
def add_action_item(pir, *, action, owner, due_date, by, priority="P1", kind="corrective",
                    link=""):
    pir = _locked(pir)
    _require_edit(pir, by)
    _check_action(pir, owner=owner, due_date=due_date)
    item = ActionItem(pir=pir, action=action.strip(), owner=owner, due_date=due_date,
                      priority=priority, kind=kind, link=link)
    item.full_clean()
    item.save()
    _bump(pir)
    _audit(pir, by, f"Added action item {item.priority}: “{item.action[:80]}” "
                    f"for {_name(owner)}, due {due_date:%Y-%m-%d}.")
    return item


@transaction.atomic
def update_action_item(item, *, by, **fields):
    """Change an action item; its status may change even after approval (work goes on)."""
    pir = _locked(item.pir)
    only_status = set(fields) <= {"status"}
    if not only_status:
        _require_edit(pir, by)
    elif not (can_edit(by, pir) or item.owner_id == by.pk or can_approve(by)):
        raise PermissionDenied("Only the owner, the incident's people and Managers update it.")
    item = ActionItem.objects.select_for_update().get(pk=item.pk)
    for name, value in fields.items():
        setattr(item, name, value)
    if not only_status:  # closing an item whose owner has left must stay possible
        _check_action(pir, owner=item.owner, due_date=item.due_date)
    item.full_clean()
    item.save()
    _bump(pir)
    _audit(pir, by, f"Updated action item “{item.action[:80]}”: " + ", ".join(sorted(fields)) + ".")
    return item


@transaction.atomic
def delete_action_item(item, *, by):
    pir = _locked(item.pir)
    _require_edit(pir, by)
    text = item.action[:80]
    item.delete()
    _bump(pir)
    _audit(pir, by, f"Removed action item “{text}”.")


@transaction.atomic
def submit_for_review(pir, *, by):
    pir = _locked(pir)
    _require_edit(pir, by)
    if pir.state != PIRState.DRAFT:
        raise PIRError("Only a draft can be sent for review.")
    missing = [label for label, value in (("what happened", pir.what_happened),
                                          ("why it happened", pir.why_it_happened))
               if not value.strip()]
    if missing:
        raise PIRError("Fill in " + " and ".join(missing) + " before sending it for review.")
    pir.state, pir.submitted_at = PIRState.IN_REVIEW, timezone.now()
    pir.save(update_fields=["state", "submitted_at"])
    _bump(pir)
    _audit(pir, by, "Sent for review.")
    return pir


def _placeholders(text):
    return ", ".join(dict.fromkeys(PLACEHOLDER.findall(text or "")))


def unfinished_sections(pir):
    """What stops `pir` being approved, one line per section: a required section not
    written yet, or any section still holding a template placeholder (issue 17 item 5:
    an approved PDF printed "Implement [safeguard]" and "Not written yet")."""
    problems = []
    for field, label in REQUIRED_TEXT:
        text = getattr(pir, field)
        if not text.strip():
            problems.append(f"{label} is not written yet")
        elif found := _placeholders(text):
            problems.append(f"{label} still holds {found}")
    for why in pir.whys.all():
        if found := _placeholders(why.answer):
            problems.append(f"5 Whys: why {why.position} still holds {found}")
    for factor in pir.factors.all():
        if found := _placeholders(factor.note):
            problems.append(f"Contributing factors: {factor.get_category_display()} still "
                            f"holds {found}")
    for measure in pir.prevention.all():
        if found := _placeholders(measure.text):
            problems.append(f"Prevention measures: “{measure.text[:80]}” still holds {found}")
    for item in pir.action_items.all():
        if found := _placeholders(item.action):
            problems.append(f"Action items: “{item.action[:80]}” still holds {found}")
    return problems


@transaction.atomic
def approve(pir, *, by):
    """Manager only; the review becomes read-only. Refused, naming each section, while a
    required section is empty or any section holds a template placeholder."""
    pir = _locked(pir)
    if not can_approve(by):
        raise PermissionDenied("Only a Manager approves a post-incident review.")
    if pir.state != PIRState.IN_REVIEW:
        raise PIRError("Only a review that is in review can be approved.")
    if not pir.action_items.exists():
        raise PIRError("Add at least one action item (with owner and due date) first.")
    if problems := unfinished_sections(pir):
        raise PIRError("Not approved: finish these sections first (replace or remove each "
                       "placeholder in brackets): " + "; ".join(problems) + ".")
    pir.state, pir.approved_at, pir.approved_by = PIRState.APPROVED, timezone.now(), by
    pir.save(update_fields=["state", "approved_at", "approved_by"])
    _bump(pir)
    _audit(pir, by, "Approved.")
    return pir


@transaction.atomic
def reopen(pir, *, reason, by):
    """Manager only, with a reason: an approved (or in-review) review back to draft."""
    pir = _locked(pir)
    if not can_approve(by):
        raise PermissionDenied("Only a Manager reopens a post-incident review.")
    if pir.state == PIRState.DRAFT:
        raise PIRError("The review is already a draft.")
    reason = (reason or "").strip()
    if not reason:
        raise PIRError("Say why the review is reopened.")
    pir.state, pir.approved_at, pir.approved_by = PIRState.DRAFT, None, None
    pir.save(update_fields=["state", "approved_at", "approved_by"])
    _bump(pir)
    _audit(pir, by, f"Reopened: {reason}")
    return pir


@transaction.atomic
def record_reminder(pir, *, by, to):
    """Note in the audit trail that a reminder about the review went to `to` (a user or
    a description). Not an edit of the review, so `version` stays as it is."""
    if by is not None and not can_approve(by):
        raise PermissionDenied("Only a Manager sends review reminders by hand.")
    who = _name(to) if hasattr(to, "get_username") else str(to)
    _audit(pir, by, f"Reminder sent to {who}.")
