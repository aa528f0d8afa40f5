"""Writes for people, schedules and overrides. Paging lives in paging.py.

Each function runs in a transaction and checks who may do it; views call these.
"""

import logging
from datetime import date, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from mindweave_ir.inputs import PLANNING_HORIZON, OutOfRange, ahead, check_time
from mindweave_ir.live import versions as live
from mindweave_ir.templatetags.mw import person, when

from . import channels, paging, slack
from .models import (
    ApiToken,
    ContactMethod,
    Coverage,
    Override,
    Profile,
    RotationKind,
    Schedule,
    ScheduleMember,
    SlackIdentity,
)
from .roles import Role, has_role
from .tokens import hash_token, new_token

logger = logging.getLogger(__name__)


PAUSED_BY_OWNER = "Paused by its owner."


def profile_for(user):
    """The user's profile, or an unsaved default one (reading never writes)."""
    return Profile.objects.filter(user=user).first() or Profile(user=user)


@transaction.atomic
def set_timezone(user, tzname):
    profile = profile_for(user)
    profile.timezone = tzname
    profile.full_clean()
    profile.save()
    return profile


@transaction.atomic
def regenerate_calendar_token(user):
    """A new secret for the user's iCal feeds; old subscription URLs stop working."""
    profile = profile_for(user)
    profile.calendar_token = new_token()
    profile.save()
    return profile


def can_manage_schedules(user):
    return has_role(user, Role.INCIDENT_COMMANDER, Role.MANAGER)


def _own_method(method, by):
    if method.user_id != by.pk and not has_role(by, Role.MANAGER):
        raise PermissionDenied("You can only change your own contact methods.")


@transaction.atomic
def add_contact_method(*, user, kind, target, label="", notify_after_minutes=0, enabled=True,
                       by):
    """Add a way to reach `user`; the channel validates and normalises the target."""
    if user.pk != by.pk and not has_role(by, Role.MANAGER):
        raise PermissionDenied("You can only add your own contact methods.")
    target = channels.channel_for(kind).validate_target(target)
    return ContactMethod.objects.create(
        user=user, kind=kind, target=target, label=label,
        notify_after_minutes=notify_after_minutes,
        disabled_at=None if enabled else timezone.now(),
        disabled_reason="" if enabled else PAUSED_BY_OWNER)


@transaction.atomic
def update_contact_method(method, *, target, label, notify_after_minutes, enabled, by):
    _own_method(method, by)
    method.target = channels.channel_for(method.kind).validate_target(target)
    method.label = label
    method.notify_after_minutes = notify_after_minutes
    if enabled and method.disabled_at is not None:
        method.disabled_at, method.disabled_reason = None, ""
    elif not enabled and method.disabled_at is None:
        method.disabled_at, method.disabled_reason = timezone.now(), PAUSED_BY_OWNER
    method.save()
    return method


@transaction.atomic
def delete_contact_method(method, *, by):
    _own_method(method, by)
    method.delete()


def test_contact_method(method, *, by):
    """Send a test notification now: (delivered?, message). Recorded on the method."""
    _own_method(method, by)
    return paging.send_test_notification(method)


# --- Schedules and overrides ----------------------------------------------------------

# Bounds that keep every rotation computable (far dates and huge periods overflow).
MAX_CUSTOM_HOURS = 24 * 366
EARLIEST_START = date(2000, 1, 1)
LATEST_START = date(2100, 12, 31)

SCHEDULE_FIELDS = (
    "name", "description", "rotation_kind", "custom_length_hours", "timezone",
    "handoff_time", "handoff_day", "starts_on", "coverage", "business_days",
    "business_start", "business_end", "escalation_timeout_minutes",
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


@transaction.atomic
def update_schedule(schedule, *, members, by, **fields):
    """Change a rotation; its members are replaced by `members`, in that order."""
    if not can_manage_schedules(by):
        raise PermissionDenied("Only Incident Commanders and Managers change schedules.")
    members = list(members)
    locked = Schedule.objects.select_for_update().get(pk=schedule.pk)
    _apply_schedule_fields(locked, fields)
    _check_schedule(locked, members)
    _save_schedule(locked)
    _set_members(locked, members)
    logger.info("schedule %s updated by %s", locked.pk, by)
    return locked


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
API_TOKEN_PREFIX = "mwir_"  # nosec B105


def create_api_token(user, *, name):
    """A new API token for `user`; returns (row, secret). The secret is shown once."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError("Give the token a name of 1 to 100 characters (what uses it).")
    secret = API_TOKEN_PREFIX + new_token()
    row = ApiToken.objects.create(user=user, name=name, token_hash=hash_token(secret),
                                  prefix=secret[:len(API_TOKEN_PREFIX) + 6])
    logger.info("API token %s made for %s", row.prefix, user)
    return row, secret


def revoke_api_token(token, *, by):
    """Stop a token working at once (its owner, or a Manager)."""
    if token.user_id != by.pk and not has_role(by, Role.MANAGER):
        raise PermissionDenied("Only the token's owner or a Manager can revoke it.")
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now())


def user_for_api_token(secret):
    """The active user a presented token belongs to, or None; notes when it was used."""
    if not secret or not secret.startswith(API_TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = (ApiToken.objects.select_related("user")
           .filter(token_hash=hash_token(secret), revoked_at__isnull=True).first())
    if row is None or not row.user.is_active:
        return None
    now = timezone.now()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user


# --- Slack identity ----------------------------------------------------------------------

def find_slack_user(user):
    """Look the person's e-mail address up in the connected Slack workspace and keep
    the user found, unconfirmed (the person confirms it on their profile page).
    ValidationError when there is no address, no connection, or no such member."""
    email = (user.email or "").strip()
    if not email:
        raise ValidationError("Your account has no e-mail address to look up in Slack.")
    if not slack.config().connected:
        raise ValidationError("Slack is not connected to this site; ask a Manager.")
    try:
        slack_id, slack_name = slack.lookup_user_by_email(email)
    except slack.SlackError as exc:
        if exc.code == "users_not_found":
            raise ValidationError(f"No Slack member has the address {email}.") from None
        raise ValidationError(f"Slack did not answer the look-up ({exc.code or exc}); "
                              "try again later.") from None
    if not slack_id:
        raise ValidationError(f"No Slack member has the address {email}.")
    return _keep_slack_user(user, slack_id=slack_id, slack_name=slack_name, email=email)


@transaction.atomic
def _keep_slack_user(user, *, slack_id, slack_name, email):
    if SlackIdentity.objects.filter(slack_user_id=slack_id).exclude(user=user).exists():
        raise ValidationError("That Slack user is already linked to another person here; "
                              "ask a Manager.")
    row, _ = SlackIdentity.objects.update_or_create(user=user, defaults={
        "slack_user_id": slack_id, "slack_name": slack_name[:200], "email": email,
        "found_at": timezone.now(), "confirmed_at": None})
    logger.info("Slack user %s found for %s", slack_id, user)
    return row


@transaction.atomic
def confirm_slack_user(user):
    """The person says the Slack user found is them: Slack requests may act as them."""
    row = SlackIdentity.objects.select_for_update().filter(user=user).first()
    if row is None:
        raise ValidationError("Find your Slack user first.")
    if row.confirmed_at is None:
        row.confirmed_at = timezone.now()
        row.save(update_fields=["confirmed_at"])
    return row


@transaction.atomic
def unlink_slack_user(user):
    """Forget the person's Slack user: Slack requests from it are refused from now on."""
    SlackIdentity.objects.filter(user=user).delete()
