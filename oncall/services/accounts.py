"""Writes for people's accounts made or updated by single sign-on (oncall/sso.py)."""

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction

from ..roles import Role

logger = logging.getLogger("oncall.services")


@transaction.atomic
def sign_in_from_provider(identity, *, roles):
    """Create or update the person an identity provider vouched for, giving them exactly
    `roles` (a set of Role); returns the user, or None when nobody is to be made.

    1. A deactivated person stays out: PermissionDenied, nothing changes.
    2. No roles and no such person yet: None, nobody is created.
    3. Username, e-mail and name follow the provider's claims; the role groups become
       exactly `roles` (other groups are left alone), so someone taken out of every
       group loses every role here too (the caller then refuses them); Manager is
       staff, as in the demo, so the admin opens. The user cache's signals drop the
       cached user (mindweave_ir/usercache.py), so their other sessions see it at once.
    """
    model = get_user_model()
    user = model.objects.select_for_update().filter(username=identity.username).first()
    if user is not None and not user.is_active:
        raise PermissionDenied("Your account on this site is deactivated. Ask a Manager "
                               "to reactivate it.")
    if user is None and not roles:
        return None
    if user is None:
        user = model(username=identity.username)
        user.set_unusable_password()
    user.email = identity.email
    user.first_name, user.last_name = identity.first_name, identity.last_name
    user.is_staff = Role.MANAGER in roles or user.is_superuser
    user.save()
    role_groups = {str(r): Group.objects.get_or_create(name=str(r))[0] for r in Role}
    keep = [g for g in user.groups.all() if g.name not in role_groups]
    user.groups.set(keep + [role_groups[str(r)] for r in roles])
    logger.info("Single sign-on: %s signed in with roles: %s", user.username,
                ", ".join(sorted(str(r) for r in roles)) or "none")
    return user
