"""Escalation policy writes (handbook §2.1): the admin's forms and on-call files
(oncall_apply) save and delete policies here. Pages already escalating keep the
snapshot of the policy they started with, so replacing levels never moves them."""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from .schedules import can_manage_schedules

logger = logging.getLogger("oncall.services")


@transaction.atomic
def save_policy(policy, *, form, level_forms, by):
    """Save a validated EscalationPolicyForm and its levels (EscalationLevelForms, in
    order: level 1 first), replacing the policy's levels. Pages already open keep the
    snapshot of the policy they started with."""
    if not can_manage_schedules(by):
        raise PermissionDenied("Only Incident Commanders and Managers change policies.")
    if not level_forms:
        raise ValidationError("A policy needs at least one level.")
    created = policy is None
    saved = form.save()
    saved.levels.all().delete()
    for position, level_form in enumerate(level_forms, start=1):
        level = level_form.save(commit=False)
        level.policy, level.position = saved, position
        level.save()
        level_form.save_m2m()
    logger.info("escalation policy %s %s by %s", saved.pk, "created" if created else "updated",
                by)
    return saved


@transaction.atomic
def delete_policy(policy, *, by):
    if not can_manage_schedules(by):
        raise PermissionDenied("Only Incident Commanders and Managers delete policies.")
    logger.info("escalation policy %s (%s) deleted by %s", policy.pk, policy.name, by)
    policy.delete()
