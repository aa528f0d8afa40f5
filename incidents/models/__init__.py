"""The incidents app's models, one module per feature; this package only re-exports
them, so `from incidents.models import Incident` works wherever a model lives.
"""
from .alerts import (
    DEFAULT_SEVERITY_MAP,
    OPEN_ALERT_STATUSES,
    Alert,
    AlertManager,
    AlertStatus,
    InboundPayload,
    Integration,
    IntegrationKind,
    PayloadOutcome,
    SubscriptionState,
    default_severity_map,
)
from .automation import (
    AutomationAction,
    AutomationFiring,
    AutomationRule,
    FiringResult,
)
from .checklists import (
    ChecklistItem,
    ChecklistPhase,
)
from .comms import (
    CommsDelivery,
    CommsKind,
    CommsStatus,
    CommsTemplate,
    CommsUpdate,
    ComponentState,
    IncidentComms,
    PublicState,
    Subscriber,
)
from .heartbeats import (
    Heartbeat,
    HeartbeatState,
)
from .incident import (
    SEVERITY_DESCRIPTIONS,
    SLA_MINUTES,
    TRANSITIONS,
    DetectionSource,
    Exercise,
    Incident,
    IncidentSequence,
    Service,
    Severity,
    Status,
)
from .runbooks import (
    Runbook,
    RunbookAttachment,
    RunbookStepTick,
)
from .silences import (
    Silence,
    SilenceQuerySet,
)
from .slack import (
    SlackAction,
    SlackCall,
    SlackChannel,
)
from .timeline import (
    ENTRY_LOOKBACK,
    MANUAL_KINDS,
    MAX_ENTRY_LENGTH,
    TimelineEntry,
    TimelineKind,
    TimelineRevision,
)
from .triage import (
    ManualReport,
    ReportState,
)

__all__ = [
    "DEFAULT_SEVERITY_MAP",
    "ENTRY_LOOKBACK",
    "MANUAL_KINDS",
    "MAX_ENTRY_LENGTH",
    "OPEN_ALERT_STATUSES",
    "SEVERITY_DESCRIPTIONS",
    "SLA_MINUTES",
    "TRANSITIONS",
    "Alert",
    "AlertManager",
    "AlertStatus",
    "AutomationAction",
    "AutomationFiring",
    "AutomationRule",
    "ChecklistItem",
    "ChecklistPhase",
    "CommsDelivery",
    "CommsKind",
    "CommsStatus",
    "CommsTemplate",
    "CommsUpdate",
    "ComponentState",
    "DetectionSource",
    "Exercise",
    "FiringResult",
    "Heartbeat",
    "HeartbeatState",
    "InboundPayload",
    "Incident",
    "IncidentComms",
    "IncidentSequence",
    "Integration",
    "IntegrationKind",
    "ManualReport",
    "PayloadOutcome",
    "PublicState",
    "ReportState",
    "Runbook",
    "RunbookAttachment",
    "RunbookStepTick",
    "Service",
    "Severity",
    "Silence",
    "SlackAction",
    "SlackCall",
    "SlackChannel",
    "SilenceQuerySet",
    "Status",
    "Subscriber",
    "SubscriptionState",
    "TimelineEntry",
    "TimelineKind",
    "TimelineRevision",
    "default_severity_map",
]
