"""Every state-changing operation of reports, one function per user verb.

- `pir`: post-incident reviews (opening, sections, action items, workflow, the
  reminder audit entry).
- `handoffs`: weekly on-call handoffs (drafts, checklist ticks, handing off,
  acknowledging).

Views, the admin, tasks and the reminders call these. Both features have a
`can_edit(user, obj)` permission check; it is not re-exported here (the name would
say two things): use `services.pir.can_edit` or `services.handoffs.can_edit`.
"""

from . import handoffs, pir
from .handoffs import (
    HandoffError,
    HandoffForbidden,
    StaleHandoff,
    acknowledge,
    current_handoff,
    ensure_handoff,
    hand_off,
    live_activity,
    save_draft,
    set_check,
)
from .pir import (
    BUSINESS_DAYS_TO_REVIEW,
    PREVENTION_DEFAULTS,
    SECTIONS,
    PIRError,
    StaleEdit,
    add_action_item,
    add_business_days,
    approve,
    can_approve,
    create_pir_for,
    delete_action_item,
    record_reminder,
    reopen,
    set_factors,
    set_key_entries,
    set_prevention,
    set_whys,
    submit_for_review,
    unfinished_sections,
    update_action_item,
    update_section,
)

__all__ = [
    "BUSINESS_DAYS_TO_REVIEW",
    "PREVENTION_DEFAULTS",
    "SECTIONS",
    "HandoffError",
    "HandoffForbidden",
    "PIRError",
    "StaleEdit",
    "StaleHandoff",
    "acknowledge",
    "add_action_item",
    "add_business_days",
    "approve",
    "can_approve",
    "create_pir_for",
    "current_handoff",
    "delete_action_item",
    "ensure_handoff",
    "hand_off",
    "handoffs",
    "live_activity",
    "pir",
    "record_reminder",
    "reopen",
    "save_draft",
    "set_check",
    "set_factors",
    "set_key_entries",
    "set_prevention",
    "set_whys",
    "submit_for_review",
    "unfinished_sections",
    "update_action_item",
    "update_section",
]
