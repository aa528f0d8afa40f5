"""Writes for schedules and overrides (handbook §2.1). Each function runs in a
transaction and checks who may do it; views, the admin and on-call files call these.
"""

import logging
from datetime import date

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from mindweave_ir.inputs import PLANNING_HORIZON, OutOfRange, ahead, check_time
from mindweave_ir.live import versions as live
from mindweave_ir.templatetags.mw import person, when

from .. import rotation
from ..models import (
    Coverage,
    EscalationLevel,
    Override,
    RotationKind,
    Schedule,
    ScheduleMember,
)
from ..roles import Role, has_role

logger = logging.getLogger("oncall.services")



def can_manage_schedules(user):
    return has_role(user, Role.INCIDENT_COMMANDER, Role.MANAGER)


MAX_CUSTOM_HOURS = 24 * 366
EARLIEST_START = date(2000, 1, 1)
LATEST_START = date(2100, 12, 31)

SCHEDULE_FIELDS = (
    "name", "description", "rotation_kind", "custom_length_hours", "timezone",
    "handoff_time", "handoff_day", "starts_on", "coverage", "business_days",
    "business_start", "business_end", "escalation_timeout_minutes", "team",
)


def can_edit_overrides(user, schedule):
    """Incident Commanders and Managers, or a Responder on the schedule's rotation
    (Viewers only read, even when they are on a rotation)."""
    if can_manage_schedules(user):
        return True
    return has_role(user, Role.RESPONDER) and ScheduleMember.objects.filter(
        schedule=schedule, user=user).exists()


def _check_schedule(schedule, members):
    """Refuse a schedule that could not be turned into a rotation (ValidationError).

    The form checks the same things beside each field; this is the guarantee for
    every other caller (admin actions, commands, tests).
    """
    errors = {}
    if not members:
        errors["members"] = "A schedule needs at least one member."
    elif len({m.pk for m in members}) != len(members):
        errors["members"] = "A person can appear only once in a rotation."
    custom = schedule.rotation_kind == RotationKind.CUSTOM
    if custom and not 0 < (schedule.custom_length_hours or 0) <= MAX_CUSTOM_HOURS:
        errors["custom_length_hours"] = (f"A custom rotation needs a shift length of 1 to "
                                         f"{MAX_CUSTOM_HOURS} hours.")
    if schedule.starts_on and not EARLIEST_START <= schedule.starts_on <= LATEST_START:
        errors["starts_on"] = (f"Choose a date between {EARLIEST_START:%Y} and "
                               f"{LATEST_START:%Y}.")
    if schedule.coverage == Coverage.BUSINESS:
        if not schedule.business_days:
            errors["business_days"] = "Business-hours coverage needs at least one weekday."
        start, end = schedule.business_start, schedule.business_end
        if start is None or end is None:
            errors["business_end"] = "Business-hours coverage needs a start and an end time."
        elif not start < end:
            errors["business_end"] = "Business hours must end after they start, the same day."
    try:
        schedule.full_clean()
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, messages)
    if errors:
        raise ValidationError(errors)


def _apply_schedule_fields(schedule, fields):
    unknown = set(fields) - set(SCHEDULE_FIELDS)
    if unknown:
        raise TypeError(f"not schedule fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(schedule, name, value)
    schedule.business_days = sorted({int(d) for d in schedule.business_days or []})


def _save_schedule(schedule):
    """Save; a name taken meanwhile by a concurrent writer is a refusal, not a 500.
    The dashboard's on-call panel shows schedules: its watchers are told on commit."""
    live.bump()
    try:
        with transaction.atomic():
            schedule.save()
    except IntegrityError:
        raise ValidationError({"name": "A schedule with this name already exists."}) from None


def _set_members(schedule, members):
    schedule.members.all().delete()
    ScheduleMember.objects.bulk_create(
        ScheduleMember(schedule=schedule, user=user, position=i)
        for i, user in enumerate(members)
    )


@transaction.atomic
def create_schedule(*, members, by, **fields):
    """A new rotation; `members` are users in rotation order, `fields` Schedule fields."""
    if not can_manage_schedules(by):
        raise PermissionDenied("Only Incident Commanders and Managers create schedules.")
    members = list(members)
    schedule = Schedule()
    _apply_schedule_fields(schedule, fields)
    _check_schedule(schedule, members)
    _save_schedule(schedule)
    _set_members(schedule, members)
    logger.info("schedule %s created by %s", schedule.pk, by)
    return schedule


# What the rotation's turns are made of, besides its members.
ROTATION_SHAPE = ("rotation_kind", "custom_length_hours", "timezone", "handoff_time",
                  "handoff_day", "starts_on", "coverage", "business_days", "business_start",
                  "business_end")


@transaction.atomic
def update_schedule(schedule, *, members, by, keep_shift=False, now=None, **fields):
    """Change a rotation; its members are replaced by `members`, in that order.

    With `keep_shift` (changes applied from a file, team changes), the past and the
    turn in progress stay as they were: 1. a change of members only takes effect
    at the next handoff, the old list kept for earlier turns (see rotation.Era),
    the rotation going on with whoever followed in the old order; 2. a change of
    the turns themselves (zone, handoff time, ...) starts afresh, and whoever had the
    turn in progress keeps it until it ends (an override).
    """
    if not can_manage_schedules(by):
        raise PermissionDenied("Only Incident Commanders and Managers change schedules.")
    members = list(members)
    locked = Schedule.objects.select_for_update().get(pk=schedule.pk)
    now = now or timezone.now()
    before = _turn_in_progress(locked, now) if keep_shift else None
    old_ids, shape = locked.member_ids(), [getattr(locked, f) for f in ROTATION_SHAPE]
    old_rotation = _rotation_or_none(locked, old_ids)
    _apply_schedule_fields(locked, fields)
    _check_schedule(locked, members)
    reshaped = shape != [getattr(locked, f) for f in ROTATION_SHAPE]
    if reshaped:
        locked.rotation_offset, locked.rotation_history = 0, []
    elif keep_shift and old_rotation and old_ids != [u.pk for u in members]:
        _members_from_next_handoff(locked, old_rotation, [u.pk for u in members], now)
    _save_schedule(locked)
    _set_members(locked, members)
    if keep_shift and reshaped:
        _keep_turn(locked, before, now, by)
    logger.info("schedule %s updated by %s", locked.pk, by)
    return locked


def _rotation_or_none(schedule, member_ids):
    try:
        return schedule.as_rotation(member_ids) if member_ids else None
    except (ValueError, OverflowError):
        return None


def _members_from_next_handoff(schedule, old, new_ids, now):
    """Keep the turns up to the next handoff on the old member list (an era) and go
    on from there with `new_ids`: next is whoever followed the member in progress in
    the old order and is still a member (else the first of the new list)."""
    turn = rotation.turn_at(old, now)
    if turn is None:  # not started yet: nothing to keep
        schedule.rotation_offset, schedule.rotation_history = 0, []
        return
    following = rotation.turn_at(old, turn.end).index
    history = list(schedule.rotation_history or [])
    if not (history and history[-1]["until"] == turn.end.isoformat()):
        history.append({"until": turn.end.isoformat(), "members": list(old.members),
                        "offset": old.offset % len(old.members)})
    at = old.members.index(turn.member) if turn.member in old.members else -1
    order = [old.members[(at + i) % len(old.members)] for i in range(1, len(old.members) + 1)]
    successor = next((uid for uid in order if uid in new_ids), new_ids[0])
    schedule.rotation_history = history
    schedule.rotation_offset = (following - new_ids.index(successor)) % len(new_ids)


def _turn_in_progress(schedule, now):
    """The rotation turn (overrides not applied) at `now` of a 24x7 schedule, or None."""
    members = schedule.member_ids()
    if not members or schedule.coverage != Coverage.ALWAYS:
        return None
    try:
        return rotation.turn_at(schedule.as_rotation(members), now)
    except (ValueError, OverflowError):
        return None


def _keep_turn(schedule, before, now, by):
    """After a rotation change, `before`'s member keeps the turn they were on until it
    ends: a handoff in progress is never moved by an edit (an override says so)."""
    if before is None or before.end <= now:
        return
    after = _turn_in_progress(schedule, now)
    if after is not None and after.member == before.member:
        return
    if Override.objects.filter(schedule=schedule, start__lt=before.end, end__gt=now).exists():
        return
    if not get_user_model().objects.filter(pk=before.member, is_active=True).exists():
        return
    Override.objects.create(schedule=schedule, user_id=before.member, start=now,
                            end=before.end, created_by=by if by.pk else None,
                            reason="Keeps the shift in progress when the rotation changed.")


@transaction.atomic
def delete_schedule(schedule, *, by):
    """Remove a schedule no escalation level uses (ValidationError otherwise)."""
    if not can_manage_schedules(by):
        raise PermissionDenied("Only Incident Commanders and Managers delete schedules.")
    used = EscalationLevel.objects.filter(schedule=schedule).select_related("policy").first()
    if used is not None:
        raise ValidationError(f"Schedule “{schedule}” is used by {used}; remove it there "
                              "first.")
    logger.info("schedule %s (%s) deleted by %s", schedule.pk, schedule.name, by)
    schedule.delete()
    live.bump()


# --- Changes from the command line ---------------------------------------------------

class CommandLine:
    """The actor of a change made from the shell (manage.py): whoever runs the
    commands already holds the database, so they may do what a Manager may."""

    pk = None
    is_active = is_authenticated = is_superuser = True

    def __init__(self, command):
        self.command = command

    def __str__(self):
        return f"manage.py {self.command}"


def check_override(schedule, *, start, end):
    """Refuse naive, zero-length or backwards ranges and overlaps with an existing
    override (ValidationError keyed by field). create_override calls it under a lock."""
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ValidationError("Override times must carry a time zone.")
    for field, value in (("start", start), ("end", end)):
        try:
            check_time(value, latest=ahead(PLANNING_HORIZON))
        except OutOfRange as exc:
            raise ValidationError({field: str(exc)}) from None
    if end <= start:
        raise ValidationError({"end": "The override must end after it starts."})
    clash = (Override.objects.filter(schedule=schedule, start__lt=end, end__gt=start)
             .select_related("user").order_by("start").first())
    if clash is not None:
        raise ValidationError({"start": (
            f"Overlaps the override for {person(clash.user)} from {when(clash.start)} "
            f"to {when(clash.end)}; change or delete that one first."
        )})


@transaction.atomic
def create_override(schedule, *, user, start, end, reason="", by):
    """`user` covers [start, end) on `schedule`.

    1. Check who asks: schedule managers, or a member of this rotation.
    2. Refuse naive, zero-length or backwards ranges.
    3. Lock the schedule row, so two overlapping overrides posted at once cannot
       both pass the overlap check, then refuse any overlap with an existing one.
    """
    if not can_edit_overrides(by, schedule):
        raise PermissionDenied("Only members of this schedule, Incident Commanders and "
                               "Managers add overrides.")
    locked = Schedule.objects.select_for_update().get(pk=schedule.pk)
    check_override(locked, start=start, end=end)
    override = Override.objects.create(schedule=locked, user=user, start=start, end=end,
                                       reason=reason, created_by=by)
    live.bump()  # the dashboard's on-call panel
    logger.info("override %s on schedule %s created by %s", override.pk, locked.pk, by)
    return override


@transaction.atomic
def delete_override(override, *, by):
    own = override.user_id == by.pk or override.created_by_id == by.pk
    if not (can_edit_overrides(by, override.schedule) or (own and has_role(by, Role.RESPONDER))):
        raise PermissionDenied("Only members of this schedule, Incident Commanders and "
                               "Managers remove overrides.")
    Schedule.objects.select_for_update().filter(pk=override.schedule_id).first()
    logger.info("override %s on schedule %s deleted by %s", override.pk,
                override.schedule_id, by)
    override.delete()
    live.bump()  # the dashboard's on-call panel


# --- API tokens --------------------------------------------------------------------------

# A public prefix, not a secret (bandit B105).
