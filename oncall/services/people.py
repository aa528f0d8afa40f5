"""Writes for people: their profile and zone, contact methods, API tokens and Slack
identity. Each function runs in a transaction and checks who may do it.
"""

import logging
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from .. import channels, paging, slack
from ..models import (
    ApiToken,
    ContactMethod,
    Profile,
    SlackIdentity,
)
from ..roles import Role, has_role
from ..tokens import hash_token, new_token

logger = logging.getLogger("oncall.services")



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
