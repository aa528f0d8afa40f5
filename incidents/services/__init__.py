"""Every state-changing operation of the incidents app, one module per feature and one
function per user verb; this package only re-exports them.

Each verb runs in one transaction, checks permission and state first (a refusal
raises and changes nothing) and writes its own timeline entry. Views, the admin, the
API, tasks and commands call these; none repeats the logic.
"""

from .checklists import (
    set_checklist_item,
    waive_checklist_item,
)
from .common import (
    ConflictError,
    IncidentError,
)
from .comms import (
    DELIVER_TASK,
    NothingToSend,
    resend_update,
    resolve_with_updates,
    send_resolution_updates,
    send_update,
    set_slack_webhook,
)
from .incidents import (
    ROLE_FIELDS,
    assign_role,
    change_severity,
    change_status,
    channel_name_for,
    declare_incident,
    join_incident,
    note_sla_breaches,
    on_page_event,
    open_incident_for_alert,
    resolve_incident,
    subscribe_resolved,
)
from .runbooks import (
    attach_runbook,
    save_runbook,
    tick_runbook_step,
)
from .silences import (
    create_silence,
    expire_silence,
)
from .timeline import (
    add_timeline_entry,
    delete_timeline_entry,
    edit_timeline_entry,
    note_alert,
)
from .triage import (
    TriageError,
    declare_from_report,
    dismiss_report,
    mark_declared,
    submit_report,
)

__all__ = [
    "DELIVER_TASK",
    "ROLE_FIELDS",
    "ConflictError",
    "IncidentError",
    "NothingToSend",
    "TriageError",
    "add_timeline_entry",
    "assign_role",
    "attach_runbook",
    "save_runbook",
    "change_severity",
    "change_status",
    "channel_name_for",
    "create_silence",
    "declare_from_report",
    "declare_incident",
    "delete_timeline_entry",
    "dismiss_report",
    "edit_timeline_entry",
    "expire_silence",
    "join_incident",
    "mark_declared",
    "note_alert",
    "note_sla_breaches",
    "on_page_event",
    "open_incident_for_alert",
    "resend_update",
    "resolve_incident",
    "resolve_with_updates",
    "send_resolution_updates",
    "send_update",
    "set_checklist_item",
    "set_slack_webhook",
    "submit_report",
    "subscribe_resolved",
    "tick_runbook_step",
    "waive_checklist_item",
]
