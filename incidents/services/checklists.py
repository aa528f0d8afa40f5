"""The §3.2 / §3.4 checklists on an incident: ticked (who, when) or waived (why)."""

from django.db import transaction
from django.utils import timezone

from .. import permissions
from ..models import ChecklistItem, ChecklistPhase, IncidentComms, TimelineKind
from .common import IncidentError, lock, name, require, require_edit, write_entry


@transaction.atomic
def set_checklist_item(item, *, done, by):
    """Tick or untick a checklist item, recording who and when."""
    require_edit(item.incident, by)
    item = ChecklistItem.objects.select_for_update().get(pk=item.pk)
    if done and item.done_at is None:
        item.done_at, item.done_by, item.system_reason = timezone.now(), by, ""
    elif not done:
        item.done_at, item.done_by, item.system_reason = None, None, ""
    item.save(update_fields=["done_at", "done_by", "system_reason"])
    return item


def tick_observed(incident, text, *, because, now=None):
    """The system saw `text`'s step happen: tick the item, saying why (item 9).

    Called inside the verb that made it happen. An item already ticked or waived is
    left as the people working on it set it; they can untick a system tick.
    """
    return ChecklistItem.objects.filter(
        incident=incident, text=text, done_at__isnull=True, waived_reason="",
    ).update(done_at=now or timezone.now(), done_by=None,
             system_reason=because[:ChecklistItem._meta.get_field("system_reason").max_length])


def reopen_closure(incident):
    """A reopened incident is not closed any more: what the system ticked at closure
    (the resolved status-page update, the final customer message, the archived channel)
    is open again, so the next resolve has to do it again. People's own ticks stay.
    Returns how many items were unticked."""
    IncidentComms.objects.filter(incident=incident).update(channel_archived_at=None)
    return ChecklistItem.objects.filter(
        incident=incident, phase=ChecklistPhase.CLOSURE, done_by__isnull=True,
    ).exclude(system_reason="").update(done_at=None, system_reason="")


@transaction.atomic
def waive_checklist_item(item, *, reason, by):
    """Mark an item as deliberately skipped; the reason goes on the timeline too."""
    require(permissions.can_command(by, lock(item.incident)),
            "Only the incident's commander, Incident Commanders and Managers waive items.")
    reason = (reason or "").strip()
    if not reason:
        raise IncidentError("Say why this item is being waived.")
    item = ChecklistItem.objects.select_for_update().get(pk=item.pk)
    item.waived_reason = reason
    item.save(update_fields=["waived_reason"])
    write_entry(item.incident, TimelineKind.CHECKLIST,
                f"Checklist item waived by {name(by)}: *{item.text}*. Reason: {reason}", by=by)
    return item
