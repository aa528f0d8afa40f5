"""The incidents app's forms, one module per feature; this package only re-exports them."""

from .automation import (
    AutomationRuleForm,
)
from .checklists import (
    ChecklistToggleForm,
    WaiveForm,
)
from .common import (
    LocalDateTimeInput,
    UserChoiceField,
    responder_users,
)
from .comms import (
    RESOLUTION_TEMPLATES,
    ComposeForm,
    ResolveCommsForm,
    SlackWebhookForm,
    resolution_templates,
)
from .incidents import (
    ClassificationForm,
    DeclareForm,
    ResolveForm,
    RoleForm,
    SeverityForm,
    TransitionForm,
)
from .silences import (
    SilenceForm,
)
from .timeline import (
    TimelineEditForm,
    TimelineEntryForm,
)
from .triage import (
    DismissForm,
    ReportForm,
)

__all__ = [
    "RESOLUTION_TEMPLATES",
    "AutomationRuleForm",
    "ChecklistToggleForm",
    "ClassificationForm",
    "ComposeForm",
    "DeclareForm",
    "DismissForm",
    "LocalDateTimeInput",
    "ReportForm",
    "ResolveCommsForm",
    "ResolveForm",
    "RoleForm",
    "SeverityForm",
    "SilenceForm",
    "SlackWebhookForm",
    "TimelineEditForm",
    "TimelineEntryForm",
    "TransitionForm",
    "UserChoiceField",
    "WaiveForm",
    "resolution_templates",
    "responder_users",
]
