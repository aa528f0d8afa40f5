"""Runbooks on an incident (handbook §4): attaching one, ticking its steps. Each checks
permission, runs in a transaction and (attaching) writes the timeline."""

import logging

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from mindweave_ir.inputs import MAX_ID, parse_int
from oncall.roles import Role, has_role

from .. import permissions
from ..models import Runbook, RunbookAttachment, RunbookStepTick, TimelineKind
from .common import IncidentError, lock, name, require, write_entry

logger = logging.getLogger(__name__)


@transaction.atomic
def attach_runbook(incident, *, runbook_id, by):
    """Attach a runbook to the incident (an IC's call)."""
    incident = lock(incident)
    require(permissions.can_command(by, incident),
             "Only the incident's commander, Incident Commanders and Managers attach runbooks.")
    # parse_int, not str.isdigit ('²'.isdigit() is True) nor bare int (bigint overflow).
    runbook_id = parse_int(runbook_id, low=1, high=MAX_ID)
    runbook = Runbook.objects.filter(pk=runbook_id).first() if runbook_id else None
    if runbook is None:
        raise IncidentError("Choose a runbook.")
    attachment, made = RunbookAttachment.objects.get_or_create(
        incident=incident, runbook=runbook, defaults={"attached_by": by})
    if not made:
        raise IncidentError(f"“{runbook.title}” is already attached.")
    write_entry(incident, TimelineKind.COMMS,
                f"Runbook **{runbook.title}** attached by {name(by)}.", by=by)
    return attachment


@transaction.atomic
def tick_runbook_step(attachment, *, position, done, by):
    """Tick (or untick) one step of an attached runbook, recording who and when."""
    incident = lock(attachment.incident)
    require(permissions.can_edit(by, incident),
             "Only people working on this incident may tick runbook steps.")
    steps = attachment.runbook.steps()
    if not 0 <= position < len(steps):
        raise IncidentError("That step is not in the runbook.")
    if done:
        RunbookStepTick.objects.get_or_create(
            attachment=attachment, position=position,
            defaults={"text": steps[position], "done_by": by, "done_at": timezone.now()})
    else:
        RunbookStepTick.objects.filter(attachment=attachment, position=position).delete()
    return attachment


@transaction.atomic
def save_runbook(runbook, *, form, by):
    """Save a validated RunbookForm (create when `runbook` is None). Managers write
    runbooks (in the admin); `by` may also be a command-line actor."""
    if not has_role(by, Role.MANAGER):
        raise PermissionDenied("Only Managers write runbooks.")
    saved = form.save()
    logger.info("runbook %s %s by %s", saved.pk, "created" if runbook is None else "updated",
                by)
    return saved
